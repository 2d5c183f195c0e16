"""Booking's ports: leave, the daily counts, appointments, and its unit of work.

The daily counts, like the places ledger (``ports.booking_ledger``), are where the database
guarantees a booking invariant: their ``add`` is a conditional write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Protocol

from attrs import frozen

from medbook.domain.booking.appointments import Appointment
from medbook.domain.booking.attendance import HospitalPolicy
from medbook.domain.booking.sessions import Leave
from medbook.domain.booking.waitlist import WaitlistEntry
from medbook.domain.shared.calendar import Period, Session
from medbook.ports.accounts import PatientRepository
from medbook.ports.booking_ledger import PlacesRepository
from medbook.ports.directory import DirectoryReads
from medbook.ports.notifications import NotificationRepository
from medbook.ports.transaction import Transaction


class LeaveRepository(Protocol):
    def add(self, leave: Leave) -> None:
        """Record a leave; raises ``AlreadyOnLeave`` when that session is already taken off."""
        ...

    def exists(self, session: Session) -> bool: ...

    def between(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> set[tuple[dt.date, Period]]: ...


class DailyCountRepository(Protocol):
    """How many active appointments each patient holds on each date."""

    def add(self, patient_id: int, date: dt.date, limit: int) -> bool:
        """Count one more active appointment that day, unless the patient already holds
        ``limit``: then False, and nothing changes. One conditional write (the row is made if
        missing), so concurrent bookings of one patient can never pass the limit together; the
        row stays locked until the transaction ends."""
        ...

    def release(self, patient_id: int, date: dt.date) -> None: ...

    def count(self, patient_id: int, date: dt.date) -> int: ...

    def add_waiting(self, patient_id: int, date: dt.date, limit: int) -> bool:
        """As ``add``, for the waitlists the patient is on that day (a counter of its own)."""
        ...

    def release_waiting(self, patient_id: int, date: dt.date) -> None: ...


class AppointmentRepository(Protocol):
    def add(self, appointment: Appointment) -> Appointment:
        """Store a new appointment and give it its id.

        Raises ``AlreadyBooked`` when the patient already holds a place in that session (the
        database's unique key decides, not a prior read).
        """
        ...

    def get(self, appointment_id: int) -> Appointment | None: ...

    def save(self, appointment: Appointment) -> None:
        """Write back a changed status."""
        ...

    def holding(self, session: Session) -> Sequence[Appointment]:
        """The appointments that hold a place in the session, by queue number."""
        ...

    def held_by(self, patient_id: int, session: Session) -> Appointment | None: ...

    def of_patient(
        self, patient_id: int, date: dt.date | None = None, *, since: dt.date | None = None
    ) -> Sequence[Appointment]:
        """Chronological; ``date``: of that date only, ``since``: from that date on."""
        ...

    def of_doctor(
        self, doctor_id: int, date: dt.date | None = None, *, since: dt.date | None = None
    ) -> Sequence[Appointment]:
        """Chronological; ``date``: of that date only, ``since``: from that date on."""
        ...

    def no_shows(self, patient_id: int, hospital_id: int, since: dt.date) -> Sequence[dt.date]:
        """The dates of the patient's appointments marked no-show with the hospital's doctors,
        from ``since`` on."""
        ...


class WaitlistRepository(Protocol):
    """The sessions' waitlists. Every change to a session's entries is made holding the session's
    places row (``PlacesRepository.lock``), which keeps their counts: the lock orders them."""

    def add(self, entry: WaitlistEntry) -> WaitlistEntry:
        """Store a new entry and give it its id; its id orders the session's queue.

        Raises ``AlreadyWaiting`` when the patient already has an active entry in that session
        (the database's unique key decides)."""
        ...

    def get(self, entry_id: int) -> WaitlistEntry | None: ...

    def save(self, entry: WaitlistEntry) -> None: ...

    def active(self, session: Session) -> Sequence[WaitlistEntry]:
        """The session's waiting and offered entries, in the order they joined."""
        ...

    def active_of(self, patient_id: int, session: Session) -> WaitlistEntry | None: ...

    def of_patient(self, patient_id: int, since: dt.date) -> Sequence[WaitlistEntry]:
        """The patient's entries of sessions from ``since`` on, chronological (newest joined
        last within a session)."""
        ...

    def due(self, now: dt.datetime, before: dt.date, limit: int) -> Sequence[Session]:
        """Sessions whose waitlist needs a look, at most ``limit``: an offer whose hold is over
        by ``now``, free places while patients wait, or active entries of a date before
        ``before`` (a session long started)."""
        ...


class HospitalPolicyRepository(Protocol):
    def get(self, hospital_id: int) -> HospitalPolicy | None: ...

    def many(self, hospital_ids: Iterable[int]) -> dict[int, HospitalPolicy]:
        """The policies of those hospitals that set one, in one query."""
        ...

    def save(self, policy: HospitalPolicy) -> None:
        """Store the hospital's policy in place of the one it had."""
        ...


@frozen
class AppointmentView:
    """An appointment with the names a patient or doctor wants to see beside it."""

    appointment: Appointment
    patient_name: str | None
    patient_phone: str | None
    doctor_name: str
    hospital: str | None
    department: str | None


class AppointmentViews(Protocol):
    """Booking's read side: appointments with their names, one query per call (never a lookup
    per appointment). Listings are in chronological order (date, morning first, queue number)."""

    def one(self, appointment_id: int) -> AppointmentView | None: ...

    def of_patient(
        self, patient_id: int, date: dt.date | None = None
    ) -> Sequence[AppointmentView]: ...

    def of_doctor(
        self, doctor_id: int, date: dt.date | None = None
    ) -> Sequence[AppointmentView]: ...


class BookingUnitOfWork(DirectoryReads, Transaction, Protocol):
    """Booking's transaction: its own repositories, the directory it books from, the patients it
    names in its views, and the notifications a leave writes in the same transaction."""

    @property
    def leaves(self) -> LeaveRepository: ...
    @property
    def places(self) -> PlacesRepository: ...
    @property
    def daily_counts(self) -> DailyCountRepository: ...
    @property
    def appointments(self) -> AppointmentRepository: ...
    @property
    def appointment_views(self) -> AppointmentViews: ...
    @property
    def patients(self) -> PatientRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
    @property
    def hospital_policies(self) -> HospitalPolicyRepository: ...
    @property
    def waitlist(self) -> WaitlistRepository: ...


__all__ = ["AppointmentView", "AppointmentViews", "BookingUnitOfWork"]
