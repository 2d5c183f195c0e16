"""The booking state machine against the in-memory store, and the public strategies on their own."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from medbook.adapters.memory import MemoryStore, MemoryUnitOfWork
from medbook.adapters.memory.unit_of_work import MemoryPlaces
from medbook.domain import (
    PERIODS,
    BookingPolicy,
    GeoPoint,
    Hospital,
    Session,
    WeeklySchedule,
)
from medbook.domain.directory import ensure_mobile
from medbook.domain.schedule import MAX_QUOTA
from medbook.testing import (
    HOSPITAL_TIMEZONES,
    BookingStateMachine,
    UnitOfWorkFactory,
    aware_datetimes,
    booking_policies,
    hospitals,
    periods,
    phones,
    sessions,
    weekly_schedules,
)

CI = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class MemoryBookingMachine(BookingStateMachine):
    def make_uow_factory(self) -> UnitOfWorkFactory:
        return MemoryStore().unit_of_work


def test_the_booking_invariants_hold_on_the_memory_store() -> None:
    run_state_machine_as_test(MemoryBookingMachine, settings=CI)


# --- the machine can fail ------------------------------------------------------------------------


class PlacesThatIgnoreTheQuota(MemoryPlaces):
    """A broken ledger: takes a place whether or not one is left."""

    def take(self, session: Session) -> int | None:
        quota, booked, issued = self.rows[session]
        self.rows[session] = (quota, booked + 1, issued + 1)
        return issued + 1


class OverbookingUnitOfWork(MemoryUnitOfWork):
    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self.places = PlacesThatIgnoreTheQuota(self, "places")


class OverbookingMachine(BookingStateMachine):
    def make_uow_factory(self) -> UnitOfWorkFactory:
        store = MemoryStore()
        return lambda: OverbookingUnitOfWork(store)


def test_the_machine_catches_overbooking() -> None:
    broken = settings(CI, max_examples=200, database=None, report_multiple_bugs=False)
    with pytest.raises(AssertionError, match="overbooked"):
        run_state_machine_as_test(OverbookingMachine, settings=broken)


def test_the_machine_needs_an_adapter() -> None:
    with pytest.raises(NotImplementedError, match="make_uow_factory"):
        BookingStateMachine()


# --- the strategies make valid objects -----------------------------------------------------------


@given(weekly_schedules(max_quota=3))
def test_weekly_schedules_stay_within_their_quota(schedule: WeeklySchedule) -> None:
    assert WeeklySchedule.from_mapping(schedule.to_mapping()) == schedule
    assert all(0 <= quota <= 3 for quota in schedule.quotas)


@given(weekly_schedules())
def test_weekly_schedules_default_to_any_valid_quota(schedule: WeeklySchedule) -> None:
    assert all(0 <= quota <= MAX_QUOTA for quota in schedule.quotas)


def test_weekly_schedules_refuse_an_impossible_range() -> None:
    with pytest.raises(ValueError):
        weekly_schedules(min_quota=4, max_quota=3)


@given(booking_policies())
def test_booking_policies_are_sane(policy: BookingPolicy) -> None:
    assert 0 <= policy.window_days <= 60
    assert dt.timedelta(0) <= policy.cancel_deadline <= dt.timedelta(hours=48)
    assert 1 <= policy.max_active_per_day <= 5
    assert policy.morning_start < policy.afternoon_start


@given(hospitals())
def test_hospitals_are_valid_and_unsaved(hospital: Hospital) -> None:
    assert hospital.id is None
    assert hospital.name.strip() and len(hospital.name) <= 200
    assert hospital.timezone in HOSPITAL_TIMEZONES
    assert hospital.location is None or isinstance(hospital.location, GeoPoint)
    assert Hospital(hospital.name, hospital.address, hospital.location, hospital.timezone)


@given(sessions(doctor_ids=[7, 8], start=dt.date(2026, 11, 25), days=3))
def test_sessions_lie_in_the_days_asked_for(session: Session) -> None:
    assert session.doctor_id in (7, 8)
    assert dt.date(2026, 11, 25) <= session.date <= dt.date(2026, 11, 27)
    assert session.period in PERIODS


@given(sessions(doctor_ids=st.just(3)))
def test_sessions_take_a_strategy_of_doctor_ids(session: Session) -> None:
    assert session.doctor_id == 3


@given(periods())
def test_periods_are_periods(period: object) -> None:
    assert period in PERIODS


@given(phones())
def test_phones_are_mainland_mobile_numbers(phone: str) -> None:
    assert re.fullmatch(r"1[3-9][0-9]{9}", phone, flags=re.ASCII)
    assert ensure_mobile(phone) == phone


@given(aware_datetimes())
def test_aware_datetimes_are_aware(moment: dt.datetime) -> None:
    assert moment.utcoffset() is not None


@given(aware_datetimes(timezones=st.just(zoneinfo.ZoneInfo("Asia/Shanghai"))))
def test_aware_datetimes_take_a_zone(moment: dt.datetime) -> None:
    assert moment.tzinfo == zoneinfo.ZoneInfo("Asia/Shanghai")
