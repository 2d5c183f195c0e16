"""Repositories: how the services reach stored things.

The places ledger and the daily counts are where the database, not the service, guarantees the
booking invariants: their ``take`` methods are conditional writes that fail rather than overbook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from attrs import frozen

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


class HospitalRepository(Protocol):
    def add(self, hospital: Hospital) -> Hospital:
        """Store a new hospital and give it its id."""
        ...

    def get(self, hospital_id: int) -> Hospital | None: ...

    def list(self) -> Sequence[Hospital]: ...


class DepartmentRepository(Protocol):
    def add(self, department: Department) -> Department: ...

    def get(self, department_id: int) -> Department | None: ...

    def of_hospital(self, hospital_id: int) -> Sequence[Department]: ...


class DoctorRepository(Protocol):
    def add(self, doctor: Doctor) -> Doctor: ...

    def get(
        self, doctor_id: int, *, for_update: bool = False, for_share: bool = False
    ) -> Doctor | None:
        """``for_update``: hold the doctor's row until the transaction ends (read-modify-write);
        ``for_share``: keep it from changing meanwhile (others may share)."""
        ...

    def save(self, doctor: Doctor) -> None:
        """Write back a changed doctor (profile, schedule, verification)."""
        ...

    def of_department(
        self, department_id: int, *, verified_only: bool = True
    ) -> Sequence[Doctor]: ...


class LeaveRepository(Protocol):
    def add(self, leave: Leave) -> None:
        """Record a leave; raises ``AlreadyOnLeave`` when that session is already taken off."""
        ...

    def exists(self, session: Session) -> bool: ...

    def between(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> set[tuple[dt.date, Period]]: ...


@frozen
class Places:
    """The ledger row of one session: its quota and how many places are held."""

    session: Session
    quota: int
    booked: int

    @property
    def remaining(self) -> int:
        return max(0, self.quota - self.booked)


class PlacesRepository(Protocol):
    """One ledger row per session that has ever been booked: the guard against overbooking."""

    def ensure(self, session: Session, quota: int) -> None:
        """Create the session's row with ``quota`` if it does not exist yet (idempotent)."""
        ...

    def lock(self, session: Session) -> Places:
        """Read the session's row and hold it until the transaction ends (``ensure`` first)."""
        ...

    def take(self, session: Session) -> int | None:
        """Take one place if one is left: the new queue number, or None when the session is full.

        One conditional write (``booked < quota``): never more places than the quota.
        """
        ...

    def release(self, session: Session, count: int = 1) -> None:
        """Give back ``count`` places (cancellation, leave)."""
        ...

    def resize(self, session: Session, quota: int) -> None:
        """Set a new quota; never below the places already held."""
        ...

    def between(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> dict[tuple[dt.date, Period], Places]: ...


class DailyCountRepository(Protocol):
    """How many active appointments each patient holds on each date."""

    def ensure(self, patient_id: int, date: dt.date) -> None: ...

    def take(self, patient_id: int, date: dt.date, limit: int) -> bool:
        """Count one more appointment if fewer than ``limit`` are held; False otherwise."""
        ...

    def release(self, patient_id: int, date: dt.date) -> None: ...

    def count(self, patient_id: int, date: dt.date) -> int: ...


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

    def of_patient(self, patient_id: int, date: dt.date | None = None) -> Sequence[Appointment]: ...

    def of_doctor(self, doctor_id: int, date: dt.date | None = None) -> Sequence[Appointment]: ...


class CredentialRepository(Protocol):
    def add(self, credential: Credential) -> Credential:
        """Store a credential; raises ``PhoneTaken`` when the phone is taken in that role."""
        ...

    def find(self, role: Role, phone: str) -> Credential | None: ...

    def of_user(self, role: Role, user_id: int) -> Credential | None: ...

    def actor(self, role: Role, user_id: int) -> Actor | None:
        """Who acts under this login, as stored now (an admin's hospital from the admin's row,
        never from a token); None when the login no longer exists. One read: it runs on every
        authenticated request."""
        ...

    def save(self, credential: Credential) -> None:
        """Write back a changed password hash."""
        ...


class PatientRepository(Protocol):
    def add(self, patient: Patient) -> Patient: ...

    def get(self, patient_id: int) -> Patient | None: ...

    def save(self, patient: Patient) -> None: ...


class AdminRepository(Protocol):
    def add(self, admin: Admin) -> Admin: ...

    def get(self, admin_id: int) -> Admin | None: ...

    def of_hospital(self, hospital_id: int) -> Sequence[Admin]: ...


class NotificationRepository(Protocol):
    def add(self, notification: Notification) -> Notification: ...

    def get(self, notification_id: int) -> Notification | None: ...

    def save(self, notification: Notification) -> None: ...

    def of_recipient(
        self, role: Role, recipient_id: int, *, unread_only: bool = False, limit: int = 100
    ) -> Sequence[Notification]:
        """Newest first."""
        ...
