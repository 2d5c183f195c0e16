"""Shared fixtures for the unit tests: the in-memory store, a standing clock and a small directory.

The clock stands at 2026-11-25T00:30Z, which is Wednesday 08:30 in Shanghai: today's morning session
(08:00) has started, today's afternoon session (13:30) is still open.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from unit_support import NOW, DailyCount, MakeDoctor, PlacesLeft

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.domain import Department, Doctor, Hospital, Period, WeeklySchedule
from medbook.services import BookingService, DirectoryService


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def directory(store: MemoryStore, clock: ManualClock) -> DirectoryService:
    return DirectoryService(store.unit_of_work, clock)


@pytest.fixture
def booking(store: MemoryStore, clock: ManualClock) -> BookingService:
    return BookingService(store.unit_of_work, clock)


@pytest.fixture
def hospital(directory: DirectoryService) -> Hospital:
    return directory.add_hospital("Ruijin Hospital", "197 Ruijin 2nd Rd, Shanghai")


@pytest.fixture
def department(directory: DirectoryService, hospital: Hospital) -> Department:
    assert hospital.id is not None
    return directory.add_department(hospital.id, "Cardiology")


@pytest.fixture
def phones() -> Iterator[str]:
    return (f"138{n:08d}" for n in itertools.count(1))


@pytest.fixture
def make_doctor(
    directory: DirectoryService, hospital: Hospital, department: Department, phones: Iterator[str]
) -> MakeDoctor:
    """A doctor of the cardiology department; verified, two places a session by default."""

    def make(
        schedule: WeeklySchedule | None = None, *, verified: bool = True, name: str = "Dr Li"
    ) -> Doctor:
        assert hospital.id is not None and department.id is not None
        doctor = directory.add_doctor(hospital.id, department.id, name=name, phone=next(phones))
        assert doctor.id is not None
        directory.set_schedule(doctor.id, schedule or WeeklySchedule.every_day(2, 2))
        if verified:
            directory.set_verified(doctor.id, True)
        return directory.doctor(doctor.id)

    return make


@pytest.fixture
def doctor(make_doctor: MakeDoctor) -> Doctor:
    return make_doctor()


@pytest.fixture
def doctor_id(doctor: Doctor) -> int:
    assert doctor.id is not None
    return doctor.id


@pytest.fixture
def daily_count(store: MemoryStore) -> DailyCount:
    """How many active appointments the store counts for a patient on a date (committed state)."""

    def count(patient_id: int, date: dt.date) -> int:
        with store.unit_of_work() as uow:
            return uow.daily_counts.count(patient_id, date)

    return count


@pytest.fixture
def places_left(booking: BookingService) -> PlacesLeft:
    """The remaining places a patient is shown for one session; None when it is not offered."""

    def left(doctor_id: int, date: dt.date, period: Period) -> int | None:
        for offered in booking.offered_sessions(doctor_id, date, date):
            if offered.session.period is period:
                return offered.remaining
        return None

    return left
