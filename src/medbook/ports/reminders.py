"""Reminders' ports: the outbox, what it is filled from, the channels a reminder goes out by,
and the unit of work of a worker's run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from attrs import frozen

from medbook.domain.booking.reminders import Reminder, ReminderKind
from medbook.domain.notifications.model import Notification
from medbook.domain.shared.calendar import Period
from medbook.ports.booking import AppointmentRepository, HospitalPolicyRepository
from medbook.ports.directory import DirectoryReads
from medbook.ports.notifications import NotificationRepository
from medbook.ports.transaction import Transaction


@frozen
class ReminderCandidate:
    """A booked appointment of the dates a run looks at, with what its reminders need: its
    hospital's zone, the names it is told with, and the kinds of reminder it has rows for."""

    appointment_id: int
    patient_id: int
    doctor_id: int
    date: dt.date
    period: Period
    number: int
    booked_at: dt.datetime
    doctor_name: str
    hospital_id: int | None
    hospital: str | None
    timezone: str | None
    recorded: frozenset[ReminderKind]


class ReminderRepository(Protocol):
    def candidates(self, start: dt.date, end: dt.date) -> Sequence[ReminderCandidate]:
        """The booked appointments from ``start`` to ``end`` (both included) that lack a row of
        either kind, in one query."""
        ...

    def add_new(self, reminders: Sequence[Reminder]) -> int:
        """Store the rows whose (appointment, kind) has none yet, ignoring the others (another
        worker recorded them first: the unique key decides); how many were stored."""
        ...

    def claim(self, now: dt.datetime, limit: int) -> Sequence[Reminder]:
        """Up to ``limit`` pending rows due by ``now``, oldest first, locked until the
        transaction ends; rows another transaction holds are passed over, never waited for
        (``FOR UPDATE SKIP LOCKED`` on MariaDB; SQLite's one writer at a time on SQLite)."""
        ...

    def save(self, reminder: Reminder) -> None:
        """Write back a sent or skipped row."""
        ...

    def of_appointment(self, appointment_id: int) -> Sequence[Reminder]: ...


class ReminderChannel(Protocol):
    """Where a reminder goes besides the inbox (which the chat server pushes to a patient who is
    online): SMS, WeChat template messages; the development adapter writes to the log. Called
    after the transaction that marked the reminder sent has committed: at most once."""

    def send(self, notification: Notification) -> None: ...


class RemindersUnitOfWork(DirectoryReads, Transaction, Protocol):
    @property
    def reminders(self) -> ReminderRepository: ...
    @property
    def appointments(self) -> AppointmentRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
    @property
    def hospital_policies(self) -> HospitalPolicyRepository: ...


__all__ = ["ReminderCandidate", "ReminderChannel", "ReminderRepository", "RemindersUnitOfWork"]
