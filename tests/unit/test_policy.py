"""BookingPolicy and the named booking rules, each on its own."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from unit_support import LAST_BOOKABLE, NOW, SHANGHAI, TODAY, TOMORROW, local

from medbook.domain import BookingPolicy, Period, Session
from medbook.domain.booking.policy import (
    ensure_cancellable_time,
    ensure_daily_limit,
    ensure_doctor_bookable,
    ensure_offered,
    ensure_within_window,
)
from medbook.domain.shared.errors import (
    DailyLimitReached,
    DoctorNotFound,
    InvalidValue,
    NotCancellable,
    NotOffered,
    OutsideWindow,
)

POLICY = BookingPolicy()
MICROSECOND = dt.timedelta(microseconds=1)


def session(date: dt.date, period: Period = Period.MORNING) -> Session:
    return Session(1, date, period)


# --- session start ------------------------------------------------------------------------------


def test_sessions_start_at_eight_and_half_past_one_local_time() -> None:
    morning = POLICY.session_start(session(TODAY), SHANGHAI)
    afternoon = POLICY.session_start(session(TODAY, Period.AFTERNOON), SHANGHAI)

    assert morning == dt.datetime(2026, 11, 25, 0, 0, tzinfo=dt.UTC)
    assert afternoon == dt.datetime(2026, 11, 25, 5, 30, tzinfo=dt.UTC)
    assert morning.utcoffset() == dt.timedelta(hours=8)
    assert (morning.hour, morning.minute) == (8, 0)
    assert (afternoon.hour, afternoon.minute) == (13, 30)


def test_session_start_follows_the_hospitals_time_zone() -> None:
    london = zoneinfo.ZoneInfo("Europe/London")

    start = POLICY.session_start(session(TODAY), london)

    assert start == dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)  # GMT in November


def test_session_times_are_configurable() -> None:
    policy = BookingPolicy(morning_start=dt.time(7, 30), afternoon_start=dt.time(14, 0))

    assert policy.session_start(session(TODAY), SHANGHAI) == local(TODAY, 7, 30)
    assert policy.session_start(session(TODAY, Period.AFTERNOON), SHANGHAI) == local(TODAY, 14)


def test_the_afternoon_must_start_after_the_morning() -> None:
    with pytest.raises(InvalidValue) as caught:
        BookingPolicy(morning_start=dt.time(13, 30), afternoon_start=dt.time(13, 30))

    assert caught.value.field == "afternoon_start"


def test_a_negative_cancel_deadline_is_refused() -> None:
    with pytest.raises(InvalidValue) as caught:
        BookingPolicy(cancel_deadline=dt.timedelta(hours=-1))

    assert caught.value.field == "cancel_deadline"


# --- naive datetimes ----------------------------------------------------------------------------


NAIVE_NOW = dt.datetime(2026, 11, 25, 8, 30)


@pytest.mark.parametrize(
    "rule",
    [
        lambda: ensure_within_window(POLICY, session(TOMORROW), NAIVE_NOW, SHANGHAI),
        lambda: ensure_cancellable_time(POLICY, session(TOMORROW), NAIVE_NOW, SHANGHAI),
        lambda: POLICY.last_bookable_date(NAIVE_NOW, SHANGHAI),
        lambda: POLICY.open_dates(NAIVE_NOW, SHANGHAI),
        lambda: POLICY.is_bookable_time(session(TOMORROW), NAIVE_NOW, SHANGHAI),
    ],
    ids=["within_window", "cancellable_time", "last_bookable_date", "open_dates", "is_bookable"],
)
def test_a_naive_now_is_refused(rule: object) -> None:
    with pytest.raises(InvalidValue) as caught:
        rule()  # type: ignore[operator]

    assert caught.value.field == "now"


# --- the booking window -------------------------------------------------------------------------


def test_todays_session_before_its_start_is_bookable() -> None:
    ensure_within_window(POLICY, session(TODAY, Period.AFTERNOON), NOW, SHANGHAI)

    assert POLICY.is_bookable_time(session(TODAY, Period.AFTERNOON), NOW, SHANGHAI)


def test_a_session_that_has_started_is_outside_the_window() -> None:
    with pytest.raises(OutsideWindow) as caught:
        ensure_within_window(POLICY, session(TODAY, Period.MORNING), NOW, SHANGHAI)  # 08:00 < 08:30

    assert caught.value.code == "outside_window"
    assert not POLICY.is_bookable_time(session(TODAY, Period.MORNING), NOW, SHANGHAI)


def test_a_session_closes_exactly_at_its_start() -> None:
    start = local(TOMORROW, 8)

    ensure_within_window(POLICY, session(TOMORROW), start - MICROSECOND, SHANGHAI)
    with pytest.raises(OutsideWindow):
        ensure_within_window(POLICY, session(TOMORROW), start, SHANGHAI)
    assert POLICY.is_bookable_time(session(TOMORROW), start - MICROSECOND, SHANGHAI)
    assert not POLICY.is_bookable_time(session(TOMORROW), start, SHANGHAI)


def test_yesterdays_session_is_outside_the_window() -> None:
    with pytest.raises(OutsideWindow):
        ensure_within_window(
            POLICY, session(TODAY - dt.timedelta(days=1), Period.AFTERNOON), NOW, SHANGHAI
        )


def test_the_last_bookable_date_is_local_today_plus_the_window() -> None:
    assert POLICY.last_bookable_date(NOW, SHANGHAI) == LAST_BOOKABLE == dt.date(2026, 12, 9)
    assert POLICY.open_dates(NOW, SHANGHAI) == (TODAY, LAST_BOOKABLE)

    ensure_within_window(POLICY, session(LAST_BOOKABLE, Period.AFTERNOON), NOW, SHANGHAI)
    assert POLICY.is_bookable_time(session(LAST_BOOKABLE, Period.AFTERNOON), NOW, SHANGHAI)


def test_the_day_after_the_last_bookable_date_is_outside_the_window() -> None:
    day_after = LAST_BOOKABLE + dt.timedelta(days=1)

    with pytest.raises(OutsideWindow) as caught:
        ensure_within_window(POLICY, session(day_after), NOW, SHANGHAI)

    assert caught.value.details == {"field": "date", "last_bookable_date": "2026-12-09"}
    assert caught.value.field == "date"
    assert not POLICY.is_bookable_time(session(day_after), NOW, SHANGHAI)


def test_the_window_length_is_configurable() -> None:
    policy = BookingPolicy(window_days=0)

    ensure_within_window(policy, session(TODAY, Period.AFTERNOON), NOW, SHANGHAI)
    with pytest.raises(OutsideWindow):
        ensure_within_window(policy, session(TOMORROW), NOW, SHANGHAI)


def test_local_today_is_already_tomorrow_after_utc_1600() -> None:
    # 17:00 UTC on the 25th is 01:00 on the 26th in Shanghai.
    late = dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC)
    the_26th = dt.date(2026, 11, 26)

    assert POLICY.open_dates(late, SHANGHAI) == (the_26th, dt.date(2026, 12, 10))
    # The 26th's morning (00:00 UTC on the 26th) has not started, the 25th's afternoon is over,
    # and 10 December is in the window although it is only 14 days after the UTC date.
    ensure_within_window(POLICY, session(the_26th, Period.MORNING), late, SHANGHAI)
    ensure_within_window(POLICY, session(dt.date(2026, 12, 10)), late, SHANGHAI)
    with pytest.raises(OutsideWindow):
        ensure_within_window(POLICY, session(TODAY, Period.AFTERNOON), late, SHANGHAI)
    with pytest.raises(OutsideWindow):
        ensure_within_window(POLICY, session(dt.date(2026, 12, 11)), late, SHANGHAI)


def test_local_today_is_the_same_whatever_zone_now_is_given_in() -> None:
    late_utc = dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC)
    late_new_york = late_utc.astimezone(zoneinfo.ZoneInfo("America/New_York"))

    assert POLICY.last_bookable_date(late_new_york, SHANGHAI) == dt.date(2026, 12, 10)


# --- offered, bookable, daily limit -------------------------------------------------------------


def test_a_session_with_quota_and_no_leave_is_offered() -> None:
    ensure_offered(session(TOMORROW), quota=1, on_leave=False)


def test_a_switched_off_session_is_not_offered() -> None:
    with pytest.raises(NotOffered) as caught:
        ensure_offered(session(TOMORROW), quota=0, on_leave=False)

    assert caught.value.code == "not_offered"


def test_a_session_on_leave_is_not_offered_whatever_its_quota() -> None:
    with pytest.raises(NotOffered):
        ensure_offered(session(TOMORROW), quota=30, on_leave=True)


def test_an_unverified_doctor_is_not_bookable_and_not_there() -> None:
    ensure_doctor_bookable(7, True)
    with pytest.raises(DoctorNotFound) as caught:
        ensure_doctor_bookable(7, False)

    assert caught.value.code == "doctor_not_found"
    assert caught.value.message == "no doctor 7"


@pytest.mark.parametrize("held", [0, 1, 2])
def test_below_the_daily_limit_a_patient_may_book(held: int) -> None:
    ensure_daily_limit(POLICY, held)


@pytest.mark.parametrize("held", [3, 4])
def test_at_the_daily_limit_a_patient_may_not_book(held: int) -> None:
    with pytest.raises(DailyLimitReached) as caught:
        ensure_daily_limit(POLICY, held)

    assert caught.value.code == "daily_limit_reached"
    assert caught.value.details == {"limit": 3}


def test_the_daily_limit_is_configurable() -> None:
    policy = BookingPolicy(max_active_per_day=1)

    ensure_daily_limit(policy, 0)
    with pytest.raises(DailyLimitReached):
        ensure_daily_limit(policy, 1)


# --- cancellation deadline ----------------------------------------------------------------------


def test_by_default_a_patient_may_cancel_until_the_session_starts() -> None:
    start = local(TOMORROW, 8)

    ensure_cancellable_time(POLICY, session(TOMORROW), start - MICROSECOND, SHANGHAI)
    for late in (start, start + dt.timedelta(hours=1)):
        with pytest.raises(NotCancellable) as caught:
            ensure_cancellable_time(POLICY, session(TOMORROW), late, SHANGHAI)
        assert caught.value.code == "not_cancellable"


def test_a_configured_deadline_closes_cancellation_earlier() -> None:
    policy = BookingPolicy(cancel_deadline=dt.timedelta(hours=2))
    afternoon = session(TOMORROW, Period.AFTERNOON)  # starts 13:30, so cancel until 11:30

    ensure_cancellable_time(policy, afternoon, local(TOMORROW, 11, 30) - MICROSECOND, SHANGHAI)
    with pytest.raises(NotCancellable) as caught:
        ensure_cancellable_time(policy, afternoon, local(TOMORROW, 11, 30), SHANGHAI)
    with pytest.raises(NotCancellable):
        ensure_cancellable_time(policy, afternoon, local(TOMORROW, 12, 45), SHANGHAI)

    assert caught.value.details == {"deadline": "2026-11-26T11:30:00+08:00"}


def test_a_session_runs_its_length_from_its_start_in_local_time() -> None:
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    policy = BookingPolicy()
    morning = Session(1, dt.date(2026, 12, 3), Period.MORNING)
    afternoon = Session(1, dt.date(2026, 12, 3), Period.AFTERNOON)
    assert policy.session_end(morning, tz) == dt.datetime(2026, 12, 3, 12, 0, tzinfo=tz)
    assert policy.session_end(afternoon, tz) == dt.datetime(2026, 12, 3, 17, 30, tzinfo=tz)


def test_a_morning_ends_when_the_afternoon_starts_and_an_afternoon_at_midnight() -> None:
    tz = zoneinfo.ZoneInfo("Europe/Berlin")
    policy = BookingPolicy(
        morning_start=dt.time(9), afternoon_start=dt.time(21), session_length=dt.timedelta(hours=12)
    )
    day = dt.date(2026, 3, 28)  # the next night clocks go forward in Berlin
    assert policy.session_end(Session(1, day, Period.MORNING), tz) == dt.datetime(
        2026, 3, 28, 21, 0, tzinfo=tz
    )
    assert policy.session_end(Session(1, day, Period.AFTERNOON), tz) == dt.datetime(
        2026, 3, 29, 0, 0, tzinfo=tz
    )


@pytest.mark.parametrize("length", [dt.timedelta(minutes=14), dt.timedelta(hours=12, seconds=1)])
def test_a_session_length_out_of_bounds_is_refused(length: dt.timedelta) -> None:
    with pytest.raises(InvalidValue) as caught:
        BookingPolicy(session_length=length)
    assert caught.value.field == "session_length"
