"""Rules that moved into the domain from the services (issue 8, item 2): each in one named place,
tested on its own."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from medbook.domain import BookingPolicy, Doctor, Period, Rank, Session
from medbook.domain.booking.policy import (
    ensure_session_started,
    ensure_within_window,
    window_refusal,
)
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import NotYetStarted, OutsideWindow

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)  # Wednesday 08:30 in Shanghai
TODAY = dt.date(2026, 11, 25)
POLICY = BookingPolicy()


def session(date: dt.date, period: Period = Period.AFTERNOON) -> Session:
    return Session(1, date, period)


@pytest.mark.parametrize(
    ("date", "period", "inside"),
    [
        (TODAY, Period.MORNING, False),  # started at 08:00
        (TODAY, Period.AFTERNOON, True),
        (TODAY + dt.timedelta(days=14), Period.AFTERNOON, True),
        (TODAY + dt.timedelta(days=15), Period.MORNING, False),
        (TODAY - dt.timedelta(days=1), Period.AFTERNOON, False),
    ],
)
def test_the_window_is_one_rule_asked_two_ways(date: dt.date, period: Period, inside: bool) -> None:
    refusal = window_refusal(POLICY, session(date, period), NOW, SHANGHAI)

    assert (refusal is None) is inside
    assert POLICY.is_bookable_time(session(date, period), NOW, SHANGHAI) is inside
    if inside:
        ensure_within_window(POLICY, session(date, period), NOW, SHANGHAI)
    else:
        with pytest.raises(OutsideWindow):
            ensure_within_window(POLICY, session(date, period), NOW, SHANGHAI)


def test_attendance_waits_for_the_session_to_start() -> None:
    morning = session(TODAY, Period.MORNING)
    afternoon = session(TODAY, Period.AFTERNOON)

    ensure_session_started(POLICY, morning, NOW, SHANGHAI)
    with pytest.raises(NotYetStarted):
        ensure_session_started(POLICY, afternoon, NOW, SHANGHAI)
    ensure_session_started(POLICY, afternoon, NOW + dt.timedelta(hours=5), SHANGHAI)


def _verified_doctor() -> Doctor:
    doctor = Doctor(1, 2, name="Dr Wu", phone="13800000001", staff_number="A1", verified=True)
    doctor.id = 7
    return doctor


@pytest.mark.parametrize(
    ("change", "still_verified"),
    [
        ({"rank": Rank.CHIEF}, False),
        ({"staff_number": "B2"}, False),
        ({"staff_number": "A1"}, True),  # the same number is no change
        ({"specialty": "arrhythmia"}, True),
        ({"birth_date": dt.date(1980, 1, 1)}, True),
        ({}, True),
    ],
)
def test_a_change_to_what_the_hospital_vouches_for_needs_approval_again(
    change: dict[str, object], still_verified: bool
) -> None:
    doctor = _verified_doctor()

    doctor.revise(**change)  # type: ignore[arg-type]

    assert doctor.verified is still_verified
    for name, value in change.items():
        assert getattr(doctor, name) == value


def test_a_profile_edit_naming_hospital_or_department_0_is_refused_not_ignored() -> None:
    # A probe found {"department_id": 0} answered 200 and changed nothing: 0 was taken as "not
    # given" (a falsy test), where None is what means "keep".
    from medbook.adapters.memory import ManualClock
    from medbook.bootstrap import in_memory
    from medbook.domain.shared.errors import InvalidValue
    from medbook.services.directory import DoctorProfileChanges

    services = in_memory(ManualClock(NOW))
    hospital = services.directory.add_hospital("Ruijin Hospital")
    department = services.directory.add_department(hospital.id, "Cardiology")
    doctor = services.accounts.register_doctor("13800000001", "Dr Wu", "a long passphrase")
    me = Actor(doctor.id, Role.DOCTOR)
    services.directory.update_my_profile(
        me, DoctorProfileChanges(hospital_id=hospital.id, department_id=department.id)
    )

    for changes, field in (
        (DoctorProfileChanges(department_id=0), "department_id"),
        (DoctorProfileChanges(hospital_id=0, department_id=department.id), "hospital_id"),
    ):
        with pytest.raises(InvalidValue) as caught:
            services.directory.update_my_profile(me, changes)
        assert caught.value.field == field
