"""The reminders outbox on SQLite and MariaDB: rows recorded once under racing runs (the unique
key), a claim that passes over rows another transaction holds instead of waiting for them
(SKIP LOCKED on MariaDB), and runs in several threads at once sending each reminder once."""

from __future__ import annotations

import datetime as dt
import threading
import time
import zoneinfo
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.bootstrap import Services, build_services
from medbook.domain import Period, WeeklySchedule
from medbook.domain.booking.reminders import Reminder, ReminderKind, ReminderPolicy, ReminderStatus
from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.actors import Actor, Role
from medbook.services.reminders import ReminderService

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)  # Wednesday 08:30 in Shanghai
THURSDAY = dt.date(2026, 11, 26)
PATIENTS = 24


def _local(date: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(hour), tzinfo=SHANGHAI)


def _world(engine: Engine) -> tuple[Services, list[int]]:
    services = build_services(lambda: SqlUnitOfWork(engine), ManualClock(NOW))
    directory = services.directory
    hospital = directory.add_hospital("Ruijin Hospital")
    assert hospital.id is not None
    department = directory.add_department(hospital.id, "Cardiology")
    assert department.id is not None
    doctor = directory.add_doctor(hospital.id, department.id, name="Zhang Wei", phone="13900000001")
    assert doctor.id is not None
    directory.set_schedule(doctor.id, WeeklySchedule.every_day(50, 50))
    directory.set_verified(doctor.id, True)
    booked = [
        services.booking.book(patient, doctor.id, THURSDAY, Period.MORNING).id or 0
        for patient in range(1, PATIENTS + 1)
    ]
    services.booking.cancel(PATIENTS, booked[-1])  # the last patient cancels: no reminder
    return services, booked


def _service(services: Services, batch: int = 5) -> ReminderService:
    return ReminderService(
        services.new_uow, services.clock, services.booking.policy, ReminderPolicy(), batch=batch
    )


def _sent(services: Services) -> Counter[tuple[int, str]]:
    """(appointment, kind) of every reminder in every inbox."""
    found: Counter[tuple[int, str]] = Counter()
    for patient in range(1, PATIENTS + 1):
        for notice in services.notifications.of_actor(Actor(patient, Role.PATIENT)):
            if notice.kind is NotificationKind.APPOINTMENT_REMINDER:
                found[(int(notice.data["appointment_id"] or 0), str(notice.data["reminder"]))] += 1
    return found


def test_racing_runs_send_each_reminder_once(engine: Engine) -> None:
    services, booked = _world(engine)
    runs = [_service(services) for _ in range(4)]
    barrier = threading.Barrier(len(runs))

    def run(index: int, at: dt.datetime) -> int:
        barrier.wait()
        return runs[index].run_once(at).sent

    with ThreadPoolExecutor(len(runs)) as pool:
        evening = sum(pool.map(run, range(4), [_local(THURSDAY - dt.timedelta(days=1), 18)] * 4))
        before = sum(pool.map(run, range(4), [_local(THURSDAY, 6)] * 4))

    kept = booked[:-1]
    assert (evening, before) == (len(kept), len(kept))
    assert _sent(services) == Counter(
        {(a, kind): 1 for a in kept for kind in ("evening_before", "before_start")}
    )


def test_rows_are_recorded_once_and_a_claim_passes_over_held_rows(engine: Engine) -> None:
    _, booked = _world(engine)
    at = _local(THURSDAY, 6)
    rows = [
        Reminder(a, ReminderKind.BEFORE_START, at, ReminderStatus.PENDING, at) for a in booked[:6]
    ]
    with SqlUnitOfWork(engine) as uow:
        first = uow.reminders.add_new(rows)
        again = uow.reminders.add_new(rows)
        uow.commit()
    holding, waited = threading.Event(), []

    def other_claim() -> list[int]:
        holding.wait()
        started = time.monotonic()
        with SqlUnitOfWork(engine) as uow:
            found = [r.appointment_id for r in uow.reminders.claim(at, 10)]
            uow.commit()
        waited.append(time.monotonic() - started)
        return found

    with ThreadPoolExecutor(1) as pool:
        later = pool.submit(other_claim)
        with SqlUnitOfWork(engine) as uow:
            held = [r.appointment_id for r in uow.reminders.claim(at, 2)]
            if engine.dialect.name != "sqlite":
                holding.set()  # MariaDB: the other claim runs while these rows are held
                others = later.result(timeout=10)
            uow.commit()
        if engine.dialect.name == "sqlite":
            holding.set()  # SQLite: one writer at a time; the other claim comes after
            others = later.result(timeout=10)

    assert (first, again) == (6, 0)
    assert held == booked[:2]
    if engine.dialect.name == "sqlite":
        assert others == booked[:6]  # nothing was marked: all are pending again
    else:
        assert others == booked[2:6]  # passed over the held rows, never waited for them
        assert waited[0] < 2.0
