"""Races on the real databases over real separate connections: the database keeps the invariants."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.domain import Period, Session, WeeklySchedule
from medbook.domain.shared.errors import DomainError
from medbook.services import BookingService, DirectoryService

TOMORROW = dt.date(2026, 11, 26)


def _race(workers: int, attempt: Callable[[int], object]) -> Counter[str]:
    """Run ``attempt(i)`` on ``workers`` threads released at once; count outcomes by error code."""
    barrier = threading.Barrier(workers)

    def run(i: int) -> str:
        barrier.wait()
        try:
            attempt(i)
        except DomainError as error:
            return error.code
        return "ok"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return Counter(pool.map(run, range(workers)))


def _setup(
    engine: Engine, clock: ManualClock, *, quota: int, doctors: int = 1
) -> tuple[BookingService, list[int]]:
    def new_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    directory = DirectoryService(new_uow, clock)
    hospital = directory.add_hospital("Peking Union Medical College Hospital")
    department = directory.add_department(hospital.id, "Cardiology")
    ids = []
    for n in range(doctors):
        doctor = directory.add_doctor(
            hospital.id, department.id, name=f"Doctor {n}", phone=f"1380000{n:04d}"
        )
        directory.set_schedule(doctor.id, WeeklySchedule.every_day(quota, quota))
        directory.set_verified(doctor.id, True)
        ids.append(doctor.id)
    return BookingService(new_uow, clock), ids


def _pooled(engine_factory: Callable[..., Engine], connections: int) -> Engine:
    return engine_factory(pool_size=connections, max_overflow=0, pool_timeout=120)


def test_200_patients_race_for_5_places(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = _pooled(engine_factory, 100)
    booking, (doctor_id,) = _setup(engine, clock, quota=5)

    outcomes = _race(200, lambda i: booking.book(1000 + i, doctor_id, TOMORROW, Period.MORNING))

    assert outcomes == {"ok": 5, "session_full": 195}
    (offered,) = [
        s
        for s in booking.offered_sessions(doctor_id, TOMORROW, TOMORROW)
        if s.session.period is Period.MORNING
    ]
    assert (offered.quota, offered.booked, offered.remaining) == (5, 5, 0)
    booked = booking.appointments_of_doctor(doctor_id, TOMORROW)
    assert sorted(a.number for a in booked) == [1, 2, 3, 4, 5]
    assert len({a.patient_id for a in booked}) == 5


def test_one_patient_sending_20_identical_bookings_gets_one(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = _pooled(engine_factory, 20)
    booking, (doctor_id,) = _setup(engine, clock, quota=10)

    outcomes = _race(20, lambda i: booking.book(42, doctor_id, TOMORROW, Period.AFTERNOON))

    assert outcomes == {"ok": 1, "already_booked": 19}
    assert len(booking.appointments_of_patient(42)) == 1


def test_one_patient_booking_10_doctors_at_once_gets_the_daily_limit(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = _pooled(engine_factory, 10)
    booking, doctor_ids = _setup(engine, clock, quota=3, doctors=10)

    outcomes = _race(10, lambda i: booking.book(7, doctor_ids[i], TOMORROW, Period.MORNING))

    assert outcomes == {"ok": 3, "daily_limit_reached": 7}
    with SqlUnitOfWork(engine) as uow:
        assert uow.daily_counts.count(7, TOMORROW) == 3


def test_two_cancellations_of_one_appointment_free_one_place(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = _pooled(engine_factory, 10)
    booking, (doctor_id,) = _setup(engine, clock, quota=2)
    appointment = booking.book(5, doctor_id, TOMORROW, Period.MORNING)
    booking.book(6, doctor_id, TOMORROW, Period.MORNING)

    outcomes = _race(10, lambda i: booking.cancel(5, appointment.id))

    assert outcomes == {"ok": 1, "not_cancellable": 9}
    with SqlUnitOfWork(engine) as uow:
        places = uow.places.lock(appointment.session)
    assert (places.quota, places.booked) == (2, 1)


@pytest.mark.parametrize("bookers", [60])
def test_leave_racing_bookings_leaves_no_one_booked(
    engine_factory: Callable[..., Engine], clock: ManualClock, bookers: int
) -> None:
    engine = _pooled(engine_factory, 40)
    booking, (doctor_id,) = _setup(engine, clock, quota=100)
    taken: list[object] = []

    def attempt(i: int) -> object:
        if i == 0:
            result = booking.take_leave(doctor_id, TOMORROW, Period.MORNING)
            taken.append(result)
            return result
        return booking.book(2000 + i, doctor_id, TOMORROW, Period.MORNING)

    outcomes = _race(bookers, attempt)

    assert set(outcomes) <= {"ok", "not_offered"}
    (leave,) = taken
    with SqlUnitOfWork(engine) as uow:
        session = leave.leave.session  # type: ignore[attr-defined]
        assert uow.appointments.holding(session) == []
        assert uow.places.lock(session).booked == 0
        cancelled = [a for a in uow.appointments.of_doctor(doctor_id) if not a.holds_place]
    # Every booking that got in before the leave was cancelled by it, and told about.
    assert len(cancelled) == len(leave.cancelled) == outcomes["ok"] - 1  # type: ignore[attr-defined]


def test_schedule_changes_racing_bookings_keep_the_ledger_true(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = _pooled(engine_factory, 40)
    booking, (doctor_id,) = _setup(engine, clock, quota=30)
    directory = DirectoryService(lambda: SqlUnitOfWork(engine), clock)

    def attempt(i: int) -> object:
        if i % 8 == 0:  # one lock order (doctor row, then places rows): no deadlock to give up on
            quota = 20 if i % 16 else 40
            return directory.set_schedule(doctor_id, WeeklySchedule.every_day(quota, quota))
        return booking.book(3000 + i, doctor_id, TOMORROW, Period.MORNING)

    outcomes = _race(48, attempt)

    assert set(outcomes) <= {"ok", "session_full"}
    session = Session(doctor_id, TOMORROW, Period.MORNING)
    with SqlUnitOfWork(engine) as uow:
        places = uow.places.lock(session)
        holding = uow.appointments.holding(session)
    assert places.booked == len(holding) <= places.quota
    assert len({a.number for a in holding}) == len(holding)
