"""Appointment reminders: the planning rule against a model of the tests' own, and runs of the
service on the in-memory store with a controlled clock (never a sleep): each reminder once, in
the inbox and on the channel; none for a cancelled appointment; the evening one skipped when the
one before the start is due with it; a late booking not reminded of what it just did."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from unit_support import NOW, SHANGHAI, TOMORROW, local

from medbook.adapters.memory import ManualClock
from medbook.bootstrap import Services, Settings, in_memory
from medbook.domain import Period, WeeklySchedule
from medbook.domain.booking.reminders import (
    ReminderKind,
    ReminderPolicy,
    ReminderStatus,
    plan,
)
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import InvalidValue
from medbook.services.reminders import ReminderService

EVENING, BEFORE = ReminderKind.EVENING_BEFORE, ReminderKind.BEFORE_START

# --- the rule, against a model ---------------------------------------------------------------


def model(
    booked_at: dt.datetime, start: dt.datetime, now: dt.datetime, recorded: set[ReminderKind]
) -> dict[ReminderKind, ReminderStatus]:
    """The default policy written out: 18:00 local the day before, and 2 hours before."""
    local_start = start.astimezone(SHANGHAI)
    due = {
        EVENING: dt.datetime.combine(
            local_start.date() - dt.timedelta(days=1), dt.time(18), tzinfo=SHANGHAI
        ),
        BEFORE: start - dt.timedelta(hours=2),
    }
    rows = {}
    for kind, at in due.items():
        if at > now or kind in recorded:
            continue
        both_due = due[BEFORE] <= now
        send = now < start and booked_at < at and not (kind is EVENING and both_due)
        rows[kind] = ReminderStatus.PENDING if send else ReminderStatus.SKIPPED
    return rows


minutes = st.integers(-3 * 24 * 60, 3 * 24 * 60)


@given(
    start_offset=st.integers(0, 4 * 24 * 4).map(lambda q: dt.timedelta(minutes=15 * q)),
    booked=minutes,
    now=minutes,
    recorded=st.sets(st.sampled_from(ReminderKind)),
)
def test_the_rows_planned_are_the_models(
    start_offset: dt.timedelta, booked: int, now: int, recorded: set[ReminderKind]
) -> None:
    start = local(TOMORROW, 8) + start_offset
    booked_at = start + dt.timedelta(minutes=booked)
    at = start + dt.timedelta(minutes=now)

    rows = plan(ReminderPolicy(), 7, booked_at, start.astimezone(SHANGHAI), at, recorded)

    assert {r.kind: r.status for r in rows} == model(booked_at, start, at, recorded)
    assert all(r.appointment_id == 7 and r.created_at == at for r in rows)


def test_the_due_times_are_local() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 3, 29, 9, 0, tzinfo=berlin)  # the morning after clocks go forward
    policy = ReminderPolicy(dt.time(19, 30), dt.timedelta(minutes=45))

    assert policy.due_at(EVENING, start) == dt.datetime(2026, 3, 28, 19, 30, tzinfo=berlin)
    assert policy.due_at(BEFORE, start) == dt.datetime(2026, 3, 29, 8, 15, tzinfo=berlin)


@pytest.mark.parametrize("minutes", [0, 14, 12 * 60 + 1])
def test_a_reminder_before_the_start_is_15_minutes_to_12_hours(minutes: int) -> None:
    with pytest.raises(InvalidValue) as caught:
        ReminderPolicy(before_start=dt.timedelta(minutes=minutes))
    assert caught.value.field == "before_start"


def test_the_settings_read_the_reminder_times_and_refuse_nonsense() -> None:
    base = {"MEDBOOK_DATABASE_URL": "memory://"}
    read = Settings.from_env(
        {**base, "MEDBOOK_REMINDER_EVENING": "19:15", "MEDBOOK_REMINDER_BEFORE_MINUTES": "90"}
    )
    assert read.reminder_policy == ReminderPolicy(dt.time(19, 15), dt.timedelta(minutes=90))
    assert Settings.from_env(base).reminder_policy == ReminderPolicy()
    for name, value in (
        ("MEDBOOK_REMINDER_EVENING", "7pm"),
        ("MEDBOOK_REMINDER_EVENING", "23.59"),  # fromisoformat read it as 23:00
        ("MEDBOOK_REMINDER_EVENING", "1930Z"),
        ("MEDBOOK_REMINDER_BEFORE_MINUTES", "5"),
        ("MEDBOOK_REMINDER_BEFORE_MINUTES", "٩٠"),
    ):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({**base, name: value})


# --- runs of the service ---------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)


class Broken:
    def send(self, notification: Notification) -> None:
        raise ConnectionError("the SMS gateway is down")


def _world(clock: ManualClock) -> tuple[Services, int]:
    services = in_memory(clock)
    directory = services.directory
    hospital = directory.add_hospital("Ruijin Hospital", timezone="Asia/Shanghai")
    assert hospital.id is not None
    department = directory.add_department(hospital.id, "Cardiology")
    assert department.id is not None
    doctor = directory.add_doctor(hospital.id, department.id, name="Zhang Wei", phone="13900000001")
    assert doctor.id is not None
    directory.set_schedule(doctor.id, WeeklySchedule.every_day(5, 5))
    directory.set_verified(doctor.id, True)
    return services, doctor.id


def _service(services: Services, channel: object) -> ReminderService:
    return ReminderService(
        services.new_uow,
        services.clock,
        services.booking.policy,
        ReminderPolicy(),
        channel,  # type: ignore[arg-type]
    )


def _reminders(services: Services, patient: int) -> list[tuple[str, int]]:
    actor = Actor(patient, Role.PATIENT)
    return sorted(
        (str(n.data["reminder"]), int(n.data["appointment_id"] or 0))
        for n in services.notifications.of_actor(actor)
        if n.kind is NotificationKind.APPOINTMENT_REMINDER
    )


def test_each_reminder_goes_once_to_the_inbox_and_the_channel() -> None:
    clock = ManualClock(NOW)  # Wednesday 08:30 in Shanghai
    services, doctor = _world(clock)
    kept = services.booking.book(1, doctor, TOMORROW, Period.MORNING)
    cancelled = services.booking.book(2, doctor, TOMORROW, Period.MORNING)
    services.booking.cancel(2, cancelled.id or 0)
    channel = Recorder()
    reminders = _service(services, channel)

    quiet = reminders.run_once()  # nothing is due yet
    clock.set(local(TOMORROW - dt.timedelta(days=1), 18))
    evening = reminders.run_once()
    again = reminders.run_once()
    clock.set(local(TOMORROW, 6))
    before = reminders.run_once()
    clock.set(local(TOMORROW, 7, 59))
    last = reminders.run_once()

    assert (quiet.sent, evening.sent, again.sent, before.sent, last.sent) == (0, 1, 0, 1, 0)
    assert _reminders(services, 1) == [("before_start", kept.id), ("evening_before", kept.id)]
    assert _reminders(services, 2) == []
    assert [(n.recipient_id, n.data["reminder"]) for n in channel.sent] == [
        (1, "evening_before"),
        (1, "before_start"),
    ]
    (notice,) = [n for n in channel.sent if n.data["reminder"] == "before_start"]
    assert "08:00" in notice.body and "Zhang Wei" in notice.body
    assert notice.data["starts_at"] == local(TOMORROW, 8).isoformat()


def test_a_worker_that_was_down_sends_only_the_nearer_reminder() -> None:
    clock = ManualClock(NOW)
    services, doctor = _world(clock)
    booked = services.booking.book(1, doctor, TOMORROW, Period.AFTERNOON)
    reminders = _service(services, Recorder())

    clock.set(local(TOMORROW, 12))  # 13:30 start: both are due
    result = reminders.run_once()

    assert (result.recorded, result.sent) == (2, 1)
    assert _reminders(services, 1) == [("before_start", booked.id)]
    clock.set(local(TOMORROW, 12, 30))
    assert reminders.run_once().sent == 0  # the evening one is never sent late


def test_a_booking_made_after_a_reminders_time_is_not_reminded_of_it() -> None:
    clock = ManualClock(local(TOMORROW - dt.timedelta(days=1), 20))  # after 18:00
    services, doctor = _world(clock)
    booked = services.booking.book(1, doctor, TOMORROW, Period.MORNING)
    reminders = _service(services, Recorder())

    reminders.run_once()
    clock.set(local(TOMORROW, 6, 5))
    reminders.run_once()

    assert _reminders(services, 1) == [("before_start", booked.id)]


def test_a_reminder_found_stale_when_sent_is_skipped() -> None:
    clock = ManualClock(NOW)
    services, doctor = _world(clock)
    booked = services.booking.book(1, doctor, TOMORROW, Period.MORNING)
    reminders = _service(services, Recorder())
    clock.set(local(TOMORROW - dt.timedelta(days=1), 18))
    recorded = reminders.record_due(clock.now())  # recorded, not sent yet (a worker died)
    services.booking.cancel(1, booked.id or 0)

    result = reminders.run_once()

    assert recorded == 1
    assert (result.sent, result.skipped) == (0, 1)
    assert _reminders(services, 1) == []


def test_a_channel_that_fails_loses_nothing_of_the_inbox() -> None:
    clock = ManualClock(NOW)
    services, doctor = _world(clock)
    booked = services.booking.book(1, doctor, TOMORROW, Period.MORNING)
    reminders = _service(services, Broken())
    clock.set(local(TOMORROW, 6))

    result = reminders.run_once()

    assert result.sent == 1
    assert _reminders(services, 1) == [("before_start", booked.id)]
    assert reminders.run_once().sent == 0


def test_a_run_at_a_given_time_sends_what_is_due_then() -> None:
    clock = ManualClock(NOW)
    services, doctor = _world(clock)
    services.booking.book(1, doctor, TOMORROW, Period.MORNING)
    reminders = _service(services, Recorder())

    result = reminders.run_once(local(TOMORROW, 6))

    assert result.sent == 1
    assert [n.created_at for n in services.notifications.of_actor(Actor(1, Role.PATIENT))] == [
        local(TOMORROW, 6)
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--at", "9999-12-31T23:59:59+14:00"],  # found by probing: an OverflowError, exit 1
        ["--at", "0001-01-01T00:00:00+00:00"],
        ["--at", "2026-12-03T06:30:00"],  # no offset
        ["--batch", "0"],
        ["--batch", "1001"],
    ],
)
def test_remind_refuses_a_time_or_batch_it_cannot_use_as_a_usage_error(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from medbook.entrypoints.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["remind", "--once", *args])

    assert caught.value.code == 2
    assert len(capsys.readouterr().err) < 500  # a sentence, not a list of 1000 choices
