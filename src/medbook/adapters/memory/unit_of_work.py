"""An in-memory unit of work with real transaction semantics.

Transactions are serialised by one lock and work on a copy of the tables, which replaces the
committed tables on commit and is dropped on rollback. Entities are copied on the way in and out,
so a change made by a caller is only stored by ``save``/``add``, as with a database.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from medbook.domain import (
    Appointment,
    Department,
    Doctor,
    Hospital,
    Leave,
    Period,
    Session,
)
from medbook.domain.accounts.model import Admin, Credential, Patient
from medbook.domain.notifications.model import Notification
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import AlreadyBooked, AlreadyOnLeave, DepartmentExists, PhoneTaken
from medbook.ports.booking_ledger import Places

Tables = dict[str, dict[Any, Any]]
TABLES = (
    "hospitals",
    "departments",
    "doctors",
    "leaves",
    "places",
    "daily_counts",
    "appointments",
    "credentials",
    "patients",
    "admins",
    "notifications",
)


class MemoryStore:
    """The committed state, shared by every unit of work made from it."""

    def __init__(self) -> None:
        self.tables: Tables = {name: {} for name in TABLES}
        self.lock = threading.RLock()
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def unit_of_work(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)


class _Table:
    def __init__(self, uow: MemoryUnitOfWork, name: str) -> None:
        self._uow = uow
        self._name = name

    @property
    def rows(self) -> dict[Any, Any]:
        return self._uow.staged[self._name]

    def _insert(self, entity: Any) -> Any:
        entity.id = self._uow.store.next_id()
        self.rows[entity.id] = copy.copy(entity)
        return entity

    def _get(self, key: Any) -> Any:
        found = self.rows.get(key)
        return copy.copy(found) if found is not None else None

    def _save(self, entity: Any) -> None:
        if entity.id not in self.rows:
            raise KeyError(f"{self._name} {entity.id} was never added")
        self.rows[entity.id] = copy.copy(entity)

    def _all(self) -> list[Any]:
        return [copy.copy(row) for row in self.rows.values()]


class MemoryHospitals(_Table):
    def add(self, hospital: Hospital) -> Hospital:
        return self._insert(hospital)  # type: ignore[no-any-return]

    def get(self, hospital_id: int) -> Hospital | None:
        return self._get(hospital_id)  # type: ignore[no-any-return]

    def list(self) -> Sequence[Hospital]:
        return sorted(self._all(), key=lambda h: h.id)


class MemoryDepartments(_Table):
    def add(self, department: Department) -> Department:
        if any(
            d.hospital_id == department.hospital_id and d.name == department.name
            for d in self.rows.values()
        ):
            raise DepartmentExists(f"the hospital already has a department {department.name!r}")
        return self._insert(department)  # type: ignore[no-any-return]

    def get(self, department_id: int) -> Department | None:
        return self._get(department_id)  # type: ignore[no-any-return]

    def of_hospital(self, hospital_id: int) -> Sequence[Department]:
        return [d for d in self._all() if d.hospital_id == hospital_id]


class MemoryDoctors(_Table):
    def add(self, doctor: Doctor) -> Doctor:
        return self._insert(doctor)  # type: ignore[no-any-return]

    def get(
        self, doctor_id: int, *, for_update: bool = False, for_share: bool = False
    ) -> Doctor | None:
        return self._get(doctor_id)  # type: ignore[no-any-return]

    def save(self, doctor: Doctor) -> None:
        self._save(doctor)

    def of_department(self, department_id: int, *, verified_only: bool = True) -> Sequence[Doctor]:
        return [
            d
            for d in self._all()
            if d.department_id == department_id and (d.verified or not verified_only)
        ]


class MemoryLeaves(_Table):
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


class MemoryPlaces(_Table):
    """Rows are ``[quota, booked, issued]`` keyed by session."""

    def ensure(self, session: Session, quota: int) -> None:
        self.rows.setdefault(session, (quota, 0, 0))

    def lock(self, session: Session) -> Places:
        quota, booked, _ = self.rows[session]  # the store's lock already serialises everything
        return Places(session, quota, booked)

    def take(self, session: Session) -> int | None:
        quota, booked, issued = self.rows[session]
        if booked >= quota:
            return None
        self.rows[session] = (quota, booked + 1, issued + 1)
        return issued + 1

    def release(self, session: Session, count: int = 1) -> None:
        quota, booked, issued = self.rows[session]
        if count > booked:
            raise ValueError(f"cannot release {count} of {booked} places")
        self.rows[session] = (quota, booked - count, issued)

    def resize(self, session: Session, quota: int) -> None:
        _, booked, issued = self.rows[session]
        self.rows[session] = (max(quota, booked), booked, issued)

    def between(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> dict[tuple[dt.date, Period], Places]:
        return {
            (s.date, s.period): Places(s, quota, booked)
            for s, (quota, booked, _) in self.rows.items()
            if s.doctor_id == doctor_id and start <= s.date <= end
        }


class MemoryDailyCounts(_Table):
    def ensure(self, patient_id: int, date: dt.date) -> None:
        self.rows.setdefault((patient_id, date), 0)

    def take(self, patient_id: int, date: dt.date, limit: int) -> bool:
        held = self.rows.get((patient_id, date), 0)
        if held >= limit:
            return False
        self.rows[(patient_id, date)] = held + 1
        return True

    def release(self, patient_id: int, date: dt.date) -> None:
        held = self.rows[(patient_id, date)]
        if held <= 0:
            raise ValueError("no appointment to release")
        self.rows[(patient_id, date)] = held - 1

    def count(self, patient_id: int, date: dt.date) -> int:
        return int(self.rows.get((patient_id, date), 0))


class MemoryAppointments(_Table):
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

    def of_patient(self, patient_id: int, date: dt.date | None = None) -> Sequence[Appointment]:
        return _ordered(
            a for a in self._all() if a.patient_id == patient_id and date in (None, a.date)
        )

    def of_doctor(self, doctor_id: int, date: dt.date | None = None) -> Sequence[Appointment]:
        return _ordered(
            a for a in self._all() if a.doctor_id == doctor_id and date in (None, a.date)
        )


def _ordered(appointments: Any) -> list[Appointment]:
    return sorted(
        appointments, key=lambda a: (a.date, a.period is Period.AFTERNOON, a.number, a.id)
    )


class MemoryCredentials(_Table):
    def add(self, credential: Credential) -> Credential:
        if self.find(credential.role, credential.phone) is not None:
            raise PhoneTaken(f"{credential.phone} already has a {credential.role.value} account")
        return self._insert(credential)  # type: ignore[no-any-return]

    def find(self, role: Role, phone: str) -> Credential | None:
        return next((c for c in self._all() if c.role is role and c.phone == phone), None)

    def of_user(self, role: Role, user_id: int) -> Credential | None:
        return next((c for c in self._all() if c.role is role and c.user_id == user_id), None)

    def actor(self, role: Role, user_id: int) -> Actor | None:
        if self.of_user(role, user_id) is None:
            return None
        if role is not Role.ADMIN:
            return Actor(user_id, role)
        admin = self._uow.admins.get(user_id)
        return Actor(user_id, role, admin.hospital_id) if admin is not None else None

    def save(self, credential: Credential) -> None:
        self._save(credential)


class MemoryPatients(_Table):
    def add(self, patient: Patient) -> Patient:
        return self._insert(patient)  # type: ignore[no-any-return]

    def get(self, patient_id: int) -> Patient | None:
        return self._get(patient_id)  # type: ignore[no-any-return]

    def save(self, patient: Patient) -> None:
        self._save(patient)


class MemoryAdmins(_Table):
    def add(self, admin: Admin) -> Admin:
        return self._insert(admin)  # type: ignore[no-any-return]

    def get(self, admin_id: int) -> Admin | None:
        return self._get(admin_id)  # type: ignore[no-any-return]

    def of_hospital(self, hospital_id: int) -> Sequence[Admin]:
        return [a for a in self._all() if a.hospital_id == hospital_id]


class MemoryNotifications(_Table):
    def add(self, notification: Notification) -> Notification:
        return self._insert(notification)  # type: ignore[no-any-return]

    def get(self, notification_id: int) -> Notification | None:
        return self._get(notification_id)  # type: ignore[no-any-return]

    def save(self, notification: Notification) -> None:
        self._save(notification)

    def of_recipient(
        self, role: Role, recipient_id: int, *, unread_only: bool = False, limit: int = 100
    ) -> Sequence[Notification]:
        found = [
            n
            for n in self._all()
            if n.recipient_role is role
            and n.recipient_id == recipient_id
            and not (unread_only and n.read)
        ]
        return sorted(found, key=lambda n: n.id, reverse=True)[:limit]


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.staged: Tables = {}
        self.hospitals = MemoryHospitals(self, "hospitals")
        self.departments = MemoryDepartments(self, "departments")
        self.doctors = MemoryDoctors(self, "doctors")
        self.leaves = MemoryLeaves(self, "leaves")
        self.places = MemoryPlaces(self, "places")
        self.daily_counts = MemoryDailyCounts(self, "daily_counts")
        self.appointments = MemoryAppointments(self, "appointments")
        self.credentials = MemoryCredentials(self, "credentials")
        self.patients = MemoryPatients(self, "patients")
        self.admins = MemoryAdmins(self, "admins")
        self.notifications = MemoryNotifications(self, "notifications")

    def __enter__(self) -> Self:
        self.store.lock.acquire()
        self.staged = {name: dict(rows) for name, rows in self.store.tables.items()}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.staged = {}
        self.store.lock.release()

    def commit(self) -> None:
        self.store.tables = self.staged
        self.staged = {name: dict(rows) for name, rows in self.staged.items()}

    def rollback(self) -> None:
        self.staged = {name: dict(rows) for name, rows in self.store.tables.items()}
