"""Sending appointment reminders, each at most once however many workers run.

A run (``ReminderService.run_once``, what ``medbook worker`` does every half minute and
``medbook remind --once`` does once) has two steps, each its own transactions:

1. **Record** what has come due: the booked appointments of the dates a reminder can concern
   (yesterday, in UTC, to two days ahead) that lack a row of either kind get the rows
   ``reminders.plan`` gives them, pending or skipped. The outbox's unique key (appointment, kind)
   keeps a second worker's rows out: a reminder is recorded once.
2. **Send** the pending rows due by now, a batch at a time: each batch is claimed with
   ``FOR UPDATE SKIP LOCKED`` (another worker takes the next rows, never the same), and for each
   row, in the claim's transaction, the appointment is read again: still booked and not started,
   its patient's inbox gets the reminder (which the chat server pushes to them if they are
   online) and the row is marked sent; otherwise it is marked skipped. After the commit, the
   ``ReminderChannel`` (SMS, WeChat; the log in development) gets each reminder sent: at most
   once, as a crash between the commit and the channel loses the channel's copy, never doubles
   it. The inbox has it exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Sequence

from attrs import define, field, frozen

from medbook.domain.booking.appointments import AppointmentStatus
from medbook.domain.booking.attendance import HospitalPolicy
from medbook.domain.booking.policy import BookingPolicy
from medbook.domain.booking.reminders import (
    ReminderKind,
    ReminderPolicy,
    plan,
    still_worth_sending,
)
from medbook.domain.directory.model import DEFAULT_TIMEZONE, Doctor, Hospital
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.shared.actors import Role
from medbook.domain.shared.calendar import Period, Session
from medbook.ports.clock import Clock
from medbook.ports.reminders import ReminderCandidate, ReminderChannel, RemindersUnitOfWork
from medbook.services.transactions import read_only, transactionally

log = logging.getLogger("medbook.reminders")

#: How many pending reminders one transaction claims and sends.
BATCH = 100
#: The dates a run looks at, around today in UTC: every zone's today and tomorrow are in them.
DAYS_BEFORE, DAYS_AFTER = 1, 2


@frozen
class RunResult:
    recorded: int  # rows written by this run (pending or skipped)
    sent: int
    skipped: int  # pending rows found stale when sent (cancelled, started)


@define
class ReminderService:
    new_uow: Callable[[], RemindersUnitOfWork]
    clock: Clock
    booking: BookingPolicy = field(factory=BookingPolicy)
    policy: ReminderPolicy = field(factory=ReminderPolicy)
    channel: ReminderChannel | None = None
    batch: int = BATCH

    def run_once(self, now: dt.datetime | None = None) -> RunResult:
        """Record what has come due, then send every pending reminder due by ``now`` (the
        clock's time when not given)."""
        at = now or self.clock.now()
        recorded = self.record_due(at)
        sent = skipped = 0
        while True:
            done, stale = transactionally(self.new_uow, lambda uow: self._send_batch(uow, at))
            sent, skipped = sent + len(done), skipped + stale
            for notification in done:
                self._to_channel(notification)
            if len(done) + stale < self.batch:
                return RunResult(recorded, sent, skipped)

    def record_due(self, now: dt.datetime) -> int:
        today = now.astimezone(dt.UTC).date()
        start, end = today - dt.timedelta(days=DAYS_BEFORE), today + dt.timedelta(days=DAYS_AFTER)

        def query(
            uow: RemindersUnitOfWork,
        ) -> tuple[Sequence[ReminderCandidate], dict[int, HospitalPolicy]]:
            found = uow.reminders.candidates(start, end)
            ids = {c.hospital_id for c in found if c.hospital_id is not None}
            return found, uow.hospital_policies.many(ids)

        candidates, policies = read_only(self.new_uow, query)
        rows = [
            row
            for c in candidates
            for row in plan(
                self._policy_of(policies, c.hospital_id),
                c.appointment_id,
                c.booked_at,
                self._start(c.date, c.period, c.timezone),
                now,
                set(c.recorded),
            )
        ]
        if not rows:
            return 0
        stored: int = transactionally(self.new_uow, lambda uow: uow.reminders.add_new(rows))
        return stored

    def _policy_of(
        self, policies: dict[int, HospitalPolicy], hospital_id: int | None
    ) -> ReminderPolicy:
        """The hospital's own reminder times, else the deployment's."""
        own = policies.get(hospital_id) if hospital_id is not None else None
        return own.reminders if own is not None and own.reminders is not None else self.policy

    def _start(self, date: dt.date, period: Period, zone: str | None) -> dt.datetime:
        """When a session starts, in its hospital's zone (the default before it has one)."""
        tz = zoneinfo.ZoneInfo(zone or DEFAULT_TIMEZONE)
        return self.booking.session_start(Session(0, date, period), tz)

    def _send_batch(
        self, uow: RemindersUnitOfWork, now: dt.datetime
    ) -> tuple[list[Notification], int]:
        sent: list[Notification] = []
        stale = 0
        # A batch's reminders mostly share a few doctors: each doctor and hospital is read once.
        places: dict[int, tuple[Doctor | None, Hospital | None]] = {}
        for reminder in uow.reminders.claim(now, self.batch):
            appointment = uow.appointments.get(reminder.appointment_id)
            assert appointment is not None, "a reminder's appointment is never deleted"
            if appointment.doctor_id not in places:
                found = uow.doctors.get(appointment.doctor_id)
                at = uow.hospitals.get(found.hospital_id) if found and found.hospital_id else None
                places[appointment.doctor_id] = (found, at)
            doctor, hospital = places[appointment.doctor_id]
            zone = hospital.timezone if hospital else None
            start = self._start(appointment.date, appointment.period, zone)
            if appointment.status is not AppointmentStatus.BOOKED or not still_worth_sending(
                start, now
            ):
                reminder.skip()
                uow.reminders.save(reminder)
                stale += 1
                continue
            notice = uow.notifications.add(
                _notice(
                    reminder.kind,
                    appointment.patient_id,
                    appointment.id or 0,
                    start,
                    appointment.number,
                    doctor.name if doctor else "your doctor",
                    hospital.name if hospital else None,
                    now,
                )
            )
            reminder.send(now)
            uow.reminders.save(reminder)
            sent.append(notice)
        return sent, stale

    def _to_channel(self, notification: Notification) -> None:
        if self.channel is None:
            return
        try:
            self.channel.send(notification)
        except Exception:  # the inbox has it; a channel's failure must not stop the run
            log.exception("the reminder channel failed for notification %s", notification.id)


def _notice(
    kind: ReminderKind,
    patient_id: int,
    appointment_id: int,
    start: dt.datetime,
    number: int,
    doctor: str,
    hospital: str | None,
    now: dt.datetime,
) -> Notification:
    when = start.strftime("%Y-%m-%d %H:%M")
    where = f" at {hospital}" if hospital else ""
    if kind is ReminderKind.EVENING_BEFORE:
        title = "Your appointment is tomorrow"
    else:
        title = "Your appointment is soon"
    return Notification(
        Role.PATIENT,
        patient_id,
        NotificationKind.APPOINTMENT_REMINDER,
        title=title,
        body=f"{doctor}{where}, {when} (local time); your queue number is {number}.",
        created_at=now,
        data={
            "appointment_id": appointment_id,
            "reminder": kind.value,
            "starts_at": start.isoformat(),
        },
    )
