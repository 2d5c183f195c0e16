"""The reminders outbox: one row per (appointment, kind), a unique key, so that however many
workers run, each reminder is recorded once; and the claim that hands each pending row to one
worker (``FOR UPDATE SKIP LOCKED`` on MariaDB; on SQLite the run's write transaction is the only
one, which is the same guarantee)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    Row,
    Table,
    UniqueConstraint,
    and_,
    func,
    select,
    update,
)

from medbook.adapters.sql.base import Repository, insert_if_missing
from medbook.adapters.sql.booking import appointments
from medbook.adapters.sql.directory import doctors, hospitals
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.booking.appointments import AppointmentStatus
from medbook.domain.booking.reminders import Reminder, ReminderKind, ReminderStatus
from medbook.ports.reminders import ReminderCandidate

reminders = Table(
    "reminders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appointment_id", Integer, ForeignKey("appointments.id"), nullable=False),
    Column("kind", value_enum(ReminderKind, "reminder_kind"), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("status", value_enum(ReminderStatus, "reminder_status"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    UniqueConstraint("appointment_id", "kind"),
    Index(None, "status", "due_at"),
)

_FIELDS = ("appointment_id", "kind", "due_at", "status", "created_at", "sent_at")


def _reminder(row: Row[Any]) -> Reminder:
    return Reminder(**{name: getattr(row, name) for name in (*_FIELDS, "id")})


class SqlReminders(Repository):
    def candidates(self, start: Any, end: Any) -> Sequence[ReminderCandidate]:
        a, r = appointments.c, reminders.c
        # The appointments that lack a row of either kind (most of a run's dates have both).
        kinds = (
            select(func.count())
            .where(r.appointment_id == a.id)
            .correlate(appointments)
            .scalar_subquery()
        )
        query = (
            select(
                a.id,
                a.patient_id,
                a.doctor_id,
                a.date,
                a.period,
                a.number,
                a.booked_at,
                doctors.c.name.label("doctor_name"),
                doctors.c.hospital_id,
                hospitals.c.name.label("hospital"),
                hospitals.c.timezone,
            )
            .join(doctors, doctors.c.id == a.doctor_id)
            .outerjoin(hospitals, hospitals.c.id == doctors.c.hospital_id)
            .where(a.date.between(start, end), a.status == AppointmentStatus.BOOKED)
            .where(kinds < len(ReminderKind))
            .order_by(a.id)
        )
        found = list(self.connection.execute(query))
        ids = [row.id for row in found]
        have: dict[int, set[ReminderKind]] = {}
        if ids:
            rows = self.connection.execute(
                select(r.appointment_id, r.kind).where(r.appointment_id.in_(ids))
            )
            for row in rows:
                have.setdefault(row.appointment_id, set()).add(row.kind)
        return [
            ReminderCandidate(
                row.id,
                row.patient_id,
                row.doctor_id,
                row.date,
                row.period,
                row.number,
                row.booked_at,
                row.doctor_name,
                row.hospital_id,
                row.hospital,
                row.timezone,
                frozenset(have.get(row.id, ())),
            )
            for row in found
        ]

    def add_new(self, new: Sequence[Reminder]) -> int:
        stored = 0
        for reminder in new:  # one by one: each insert says whether its row was new
            values = {name: getattr(reminder, name) for name in _FIELDS}
            if insert_if_missing(self.connection, reminders, values) is not None:
                stored += 1
        return stored

    def claim(self, now: Any, limit: int) -> Sequence[Reminder]:
        r = reminders.c
        query = (
            select(reminders)
            .where(and_(r.status == ReminderStatus.PENDING, r.due_at <= now))
            .order_by(r.due_at, r.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_reminder(row) for row in self.connection.execute(query)]

    def save(self, reminder: Reminder) -> None:
        self.connection.execute(
            update(reminders)
            .where(reminders.c.id == reminder.id)
            .values(status=reminder.status, sent_at=reminder.sent_at)
        )

    def of_appointment(self, appointment_id: int) -> Sequence[Reminder]:
        query = select(reminders).where(reminders.c.appointment_id == appointment_id)
        return [_reminder(row) for row in self.connection.execute(query.order_by(reminders.c.id))]
