"""Appointment reminders: when each is due, and which are sent, skipped or not due yet.

Two reminders per booked appointment: one the evening before (``evening_at``, local time, 18:00
by default) and one a set time before the session starts (``before_start``, 2 hours). Each is a
row of the reminders outbox, keyed by (appointment, kind), so it is sent at most once however
many workers run. The rules, each named:

- a reminder is due from its time on, until the session starts (``due_at``);
- it is not sent when the patient booked after its time: they know (``booked_since``);
- when both are due at once (a worker that was down, a late booking), only the nearer one goes
  (``superseded``); the other is recorded as skipped, never sent later;
- a cancelled appointment gets none (the sender checks the appointment's status in the
  transaction that marks the reminder sent).
"""

from __future__ import annotations

import datetime as dt
import enum
import re

from attrs import define, field, frozen

from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import InvalidValue


class ReminderKind(enum.Enum):
    EVENING_BEFORE = "evening_before"
    BEFORE_START = "before_start"


class ReminderStatus(enum.Enum):
    PENDING = "pending"  # due, waiting for a worker to send it
    SENT = "sent"
    SKIPPED = "skipped"  # never sent: booked after its time, superseded, or the session gone


#: A local wall-clock time as settings and requests write it: HH:MM, 00:00 to 23:59.
CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def clock_time(text: str, field: str) -> dt.time:
    """The time ``text`` writes as HH:MM, or ``InvalidValue`` naming ``field``. By the pattern,
    not ``time.fromisoformat``, which also takes "23.59" (as 23:00) and "1930Z"."""
    if not CLOCK_TIME.fullmatch(text):
        raise InvalidValue(field, "a local time, HH:MM (00:00 to 23:59)")
    return dt.time(int(text[:2]), int(text[3:]))


def _before_start(instance: object, attribute: object, value: dt.timedelta) -> None:
    if not dt.timedelta(minutes=15) <= value <= dt.timedelta(hours=12):
        raise InvalidValue("before_start", "from 15 minutes to 12 hours")


@frozen
class ReminderPolicy:
    """When reminders are due: ``evening_at`` on the day before the session (the hospital's
    local time), and ``before_start`` ahead of its start."""

    evening_at: dt.time = dt.time(18, 0)
    before_start: dt.timedelta = field(default=dt.timedelta(hours=2), validator=_before_start)

    @property
    def before_start_minutes(self) -> int:
        return int(self.before_start.total_seconds() // 60)

    def due_at(self, kind: ReminderKind, start: dt.datetime) -> dt.datetime:
        """When a reminder of a session starting at ``start`` (aware, local) is due."""
        if kind is ReminderKind.BEFORE_START:
            return start - self.before_start
        day_before = start.date() - dt.timedelta(days=1)
        return dt.datetime.combine(day_before, self.evening_at, tzinfo=start.tzinfo)


@define(slots=False, eq=False)
class Reminder(Entity):
    """A row of the reminders outbox: one reminder of one appointment, and what became of it."""

    appointment_id: int
    kind: ReminderKind
    due_at: dt.datetime
    status: ReminderStatus
    created_at: dt.datetime
    sent_at: dt.datetime | None = None
    id: int | None = None

    def send(self, now: dt.datetime) -> None:
        self.status, self.sent_at = ReminderStatus.SENT, now

    def skip(self) -> None:
        self.status = ReminderStatus.SKIPPED


def booked_since(booked_at: dt.datetime, due: dt.datetime) -> bool:
    """The patient booked at or after the reminder's time: reminding them is noise."""
    return booked_at >= due


def superseded(kind: ReminderKind, due_now: set[ReminderKind]) -> bool:
    """The evening reminder is due together with the one before the start: only that one goes."""
    return kind is ReminderKind.EVENING_BEFORE and ReminderKind.BEFORE_START in due_now


def plan(
    policy: ReminderPolicy,
    appointment_id: int,
    booked_at: dt.datetime,
    start: dt.datetime,
    now: dt.datetime,
    recorded: set[ReminderKind],
) -> list[Reminder]:
    """The outbox rows a booked appointment needs at ``now``: one per reminder that has come due
    and is not ``recorded`` yet, pending if it is to be sent, skipped if not (so that it is
    never reconsidered). Reminders not due yet get no row."""
    due_now = {k for k in ReminderKind if policy.due_at(k, start) <= now}
    rows = []
    for kind in ReminderKind:
        if kind not in due_now or kind in recorded:
            continue
        due = policy.due_at(kind, start)
        send = now < start and not booked_since(booked_at, due) and not superseded(kind, due_now)
        status = ReminderStatus.PENDING if send else ReminderStatus.SKIPPED
        rows.append(Reminder(appointment_id, kind, due, status, now))
    return rows


def still_worth_sending(start: dt.datetime, now: dt.datetime) -> bool:
    """A pending reminder is sent only before its session starts."""
    return now < start
