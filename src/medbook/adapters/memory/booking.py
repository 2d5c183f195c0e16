"""Booking in memory: leave, the two ledgers (places, daily counts), and appointments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.booking.appointments import Appointment, AppointmentStatus
from medbook.domain.booking.sessions import Leave, OfferedSession
from medbook.domain.booking.waitlist import WaitlistEntry, free_places
from medbook.domain.shared.calendar import Period, Session
from medbook.domain.shared.errors import AlreadyBooked, AlreadyOnLeave, AlreadyWaiting
from medbook.ports.booking import AppointmentView

if TYPE_CHECKING:
    from medbook.adapters.memory.unit_of_work import MemoryUnitOfWork

TABLES = ("leaves", "places", "daily_counts", "day_waitlists", "appointments", "waitlist")


class MemoryLeaves(MemoryTable):
    def add(self, leave: Leave) -> None:
        if leave in self.rows:
            raise AlreadyOnLeave(f"already on leave for session {leave.session}")
        self.rows[leave] = leave

    def exists(self, session: Session) -> bool:
        return Leave(session.doctor_id, session.date, session.period) in self.rows

    def between(self, doctor_id: int, start: dt.date, end: dt.date) -> set[tuple[dt.date, Period]]:
        return {
            (leave.date, leave.period)
            for leave in self.rows
            if leave.doctor_id == doctor_id and start <= leave.date <= end
        }


class MemoryPlaces(MemoryTable):
    """Rows are ``(quota, booked, issued, held, waiting)`` keyed by session."""

    def ensure(self, session: Session, quota: int) -> None:
        self.rows.setdefault(session, (quota, 0, 0, 0, 0))

    def lock(self, session: Session) -> OfferedSession:
        found = self.try_lock(session)
        if found is None:
            raise LookupError(f"session {session} has no places row: ensure() it first")
        return found

    def try_lock(self, session: Session) -> OfferedSession | None:
        if session not in self.rows:
            return None
        quota, booked, _, held, waiting = self.rows[session]  # the store's lock serialises all
        return OfferedSession(session, quota, booked, held, waiting)

    def take(self, session: Session) -> int | None:
        quota, booked, issued, held, waiting = self.rows[session]
        if booked + held >= quota:
            return None
        self.rows[session] = (quota, booked + 1, issued + 1, held, waiting)
        return issued + 1  # type: ignore[no-any-return]

    def release(self, session: Session, count: int = 1) -> None:
        quota, booked, issued, held, waiting = self.rows[session]
        if count > booked:
            raise ValueError(f"cannot release {count} of {booked} places")
        self.rows[session] = (quota, booked - count, issued, held, waiting)

    def resize(self, session: Session, quota: int) -> None:
        _, booked, issued, held, waiting = self.rows[session]
        self.rows[session] = (max(quota, booked + held), booked, issued, held, waiting)

    def offer(self, session: Session) -> bool:
        quota, booked, issued, held, waiting = self.rows[session]
        if waiting <= 0 or booked + held >= quota:
            return False
        self.rows[session] = (quota, booked, issued, held + 1, waiting - 1)
        return True

    def withdraw(self, session: Session, count: int = 1) -> None:
        quota, booked, issued, held, waiting = self.rows[session]
        if count > held:
            raise ValueError(f"cannot withdraw {count} of {held} held places")
        self.rows[session] = (quota, booked, issued, held - count, waiting)

    def queue(self, session: Session, change: int) -> None:
        quota, booked, issued, held, waiting = self.rows[session]
        if waiting + change < 0:
            raise ValueError(f"cannot count {change} more of {waiting} waiting")
        self.rows[session] = (quota, booked, issued, held, waiting + change)

    def calendar(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> tuple[dict[tuple[dt.date, Period], OfferedSession], set[tuple[dt.date, Period]]]:
        leaves = MemoryLeaves(self._uow, "leaves").between(doctor_id, start, end)
        return self.between(doctor_id, start, end), leaves

    def between(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> dict[tuple[dt.date, Period], OfferedSession]:
        return {
            (s.date, s.period): OfferedSession(s, quota, booked, held, waiting)
            for s, (quota, booked, _, held, waiting) in self.rows.items()
            if s.doctor_id == doctor_id and start <= s.date <= end
        }


class MemoryDailyCounts(MemoryTable):
    """Active appointments per (patient, date) in this table; their waitlists in
    ``day_waitlists``. The memory store runs one transaction at a time: reading is locking."""

    def add(self, patient_id: int, date: dt.date, limit: int) -> bool:
        return _one_more(self.rows, (patient_id, date), limit)

    def release(self, patient_id: int, date: dt.date) -> None:
        _one_less(self.rows, (patient_id, date), "no appointment to release")

    def count(self, patient_id: int, date: dt.date) -> int:
        return int(self.rows.get((patient_id, date), 0))

    def add_waiting(self, patient_id: int, date: dt.date, limit: int) -> bool:
        return _one_more(self._uow.staged["day_waitlists"], (patient_id, date), limit)

    def release_waiting(self, patient_id: int, date: dt.date) -> None:
        _one_less(self._uow.staged["day_waitlists"], (patient_id, date), "no waitlist to release")


def _one_more(counts: dict[Any, Any], key: tuple[int, dt.date], limit: int) -> bool:
    held = int(counts.get(key, 0))
    if held >= limit:
        return False
    counts[key] = held + 1
    return True


def _one_less(counts: dict[Any, Any], key: tuple[int, dt.date], none: str) -> None:
    held = int(counts.get(key, 0))
    if held <= 0:
        raise ValueError(none)
    counts[key] = held - 1


class MemoryAppointments(MemoryTable):
    def add(self, appointment: Appointment) -> Appointment:
        if self.held_by(appointment.patient_id, appointment.session) is not None:
            raise AlreadyBooked(f"already holds a place in session {appointment.session}")
        return self._insert(appointment)  # type: ignore[no-any-return]

    def get(self, appointment_id: int) -> Appointment | None:
        return self._get(appointment_id)  # type: ignore[no-any-return]

    def save(self, appointment: Appointment) -> None:
        self._save(appointment)

    def holding(self, session: Session) -> Sequence[Appointment]:
        found = [a for a in self._all() if a.session == session and a.holds_place]
        return sorted(found, key=lambda a: a.number)

    def held_by(self, patient_id: int, session: Session) -> Appointment | None:
        for appointment in self.holding(session):
            if appointment.patient_id == patient_id:
                return appointment
        return None

    def of_patient(
        self, patient_id: int, date: dt.date | None = None, *, since: dt.date | None = None
    ) -> Sequence[Appointment]:
        return _ordered(
            a
            for a in self._all()
            if a.patient_id == patient_id and date in (None, a.date) and _since(a, since)
        )

    def of_doctor(
        self, doctor_id: int, date: dt.date | None = None, *, since: dt.date | None = None
    ) -> Sequence[Appointment]:
        return _ordered(
            a
            for a in self._all()
            if a.doctor_id == doctor_id and date in (None, a.date) and _since(a, since)
        )

    def no_shows(self, patient_id: int, hospital_id: int, since: dt.date) -> Sequence[dt.date]:
        doctors = {d.id for d in self._uow.doctors._all() if d.hospital_id == hospital_id}
        return sorted(
            a.date
            for a in self._all()
            if a.patient_id == patient_id
            and a.doctor_id in doctors
            and a.status is AppointmentStatus.NO_SHOW
            and a.date >= since
        )


class MemoryWaitlist(MemoryTable):
    def add(self, entry: WaitlistEntry) -> WaitlistEntry:
        if self.active_of(entry.patient_id, entry.session) is not None:
            raise AlreadyWaiting(f"already on the waitlist of session {entry.session}")
        return self._insert(entry)  # type: ignore[no-any-return]

    def get(self, entry_id: int) -> WaitlistEntry | None:
        return self._get(entry_id)  # type: ignore[no-any-return]

    def save(self, entry: WaitlistEntry) -> None:
        self._save(entry)

    def active(self, session: Session) -> Sequence[WaitlistEntry]:
        return sorted(
            (e for e in self._all() if e.session == session and e.active),
            key=lambda e: e.id,
        )

    def active_of(self, patient_id: int, session: Session) -> WaitlistEntry | None:
        for entry in self.active(session):
            if entry.patient_id == patient_id:
                return entry
        return None

    def of_patient(self, patient_id: int, since: dt.date) -> Sequence[WaitlistEntry]:
        return sorted(
            (e for e in self._all() if e.patient_id == patient_id and e.date >= since),
            key=lambda e: (e.date, e.period is Period.AFTERNOON, e.id),
        )

    def due(self, now: dt.datetime, before: dt.date, limit: int) -> Sequence[Session]:
        found: set[Session] = set()
        for entry in self._all():
            if entry.offer_lapsed(now) or (entry.active and entry.date < before):
                found.add(entry.session)
        places = MemoryPlaces(self._uow, "places")
        for session in places.rows:
            row = places.try_lock(session)
            if row is None or row.waiting == 0 or session.date < before:
                continue
            if free_places(row.quota, row.booked, row.held) > 0:
                found.add(session)
        return sorted(found, key=lambda s: (s.date, s.period is Period.AFTERNOON, s.doctor_id))[
            :limit
        ]


def _since(appointment: Appointment, since: dt.date | None) -> bool:
    return since is None or appointment.date >= since


def _ordered(appointments: Iterable[Appointment]) -> list[Appointment]:
    return sorted(
        appointments, key=lambda a: (a.date, a.period is Period.AFTERNOON, a.number, a.id)
    )


class MemoryAppointmentViews:
    """Booking's read side in memory: the same views the SQL join gives, from the staged tables."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def one(self, appointment_id: int) -> AppointmentView | None:
        appointment = self._uow.appointments.get(appointment_id)
        return self._view(appointment) if appointment is not None else None

    def of_patient(self, patient_id: int, date: dt.date | None = None) -> Sequence[AppointmentView]:
        return [self._view(a) for a in self._uow.appointments.of_patient(patient_id, date)]

    def of_doctor(self, doctor_id: int, date: dt.date | None = None) -> Sequence[AppointmentView]:
        return [self._view(a) for a in self._uow.appointments.of_doctor(doctor_id, date)]

    def _view(self, appointment: Appointment) -> AppointmentView:
        uow = self._uow
        patient = uow.patients.get(appointment.patient_id)
        doctor = uow.doctors.get(appointment.doctor_id)
        assert doctor is not None, "an appointment's doctor is never deleted"
        hospital = uow.hospitals.get(doctor.hospital_id) if doctor.hospital_id else None
        department = uow.departments.get(doctor.department_id) if doctor.department_id else None
        return AppointmentView(
            appointment,
            patient.name if patient else None,
            patient.phone if patient else None,
            doctor.name,
            hospital.name if hospital else None,
            department.name if department else None,
        )
