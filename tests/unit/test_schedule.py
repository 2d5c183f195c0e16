"""WeeklySchedule, sessions_between, OfferedSession: the doctor's week on its own."""

from __future__ import annotations

import datetime as dt

import pytest
from unit_support import TODAY

from medbook.domain import WEEKDAYS, Leave, OfferedSession, Period, Session, WeeklySchedule
from medbook.domain.booking.sessions import sessions_between
from medbook.domain.shared.calendar import MAX_QUOTA
from medbook.domain.shared.errors import InvalidValue

# 2026-11-23 is a Monday; the week runs to Sunday 2026-11-29.
MONDAY = dt.date(2026, 11, 23)
WEEK = {day: MONDAY + dt.timedelta(days=i) for i, day in enumerate(WEEKDAYS)}


def distinct_week() -> dict[str, dict[str, int]]:
    """A schedule where every session of the week has its own quota (1 … 14)."""
    return {day: {"morning": 2 * i + 1, "afternoon": 2 * i + 2} for i, day in enumerate(WEEKDAYS)}


def test_the_week_starts_on_monday_and_has_seven_days() -> None:
    assert WEEKDAYS == (
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    )
    assert [date.weekday() for date in WEEK.values()] == list(range(7))


@pytest.mark.parametrize("day", WEEKDAYS)
def test_each_day_has_its_own_morning_and_afternoon_quota(day: str) -> None:
    schedule = WeeklySchedule.from_mapping(distinct_week())
    index = WEEKDAYS.index(day)

    assert schedule.quota(WEEK[day], Period.MORNING) == 2 * index + 1
    assert schedule.quota(WEEK[day], Period.AFTERNOON) == 2 * index + 2


def test_wednesday_and_the_weekend_are_read_on_their_own_dates() -> None:
    days = {day: {"morning": 0, "afternoon": 0} for day in WEEKDAYS}
    days["wednesday"] = {"morning": 12, "afternoon": 0}
    days["saturday"] = {"morning": 0, "afternoon": 6}
    days["sunday"] = {"morning": 3, "afternoon": 4}
    schedule = WeeklySchedule.from_mapping(days)

    assert schedule.quota(TODAY, Period.MORNING) == 12  # 2026-11-25 is a Wednesday
    assert schedule.quota(TODAY, Period.AFTERNOON) == 0
    assert schedule.quota(dt.date(2026, 11, 28), Period.AFTERNOON) == 6  # Saturday
    assert schedule.quota(dt.date(2026, 11, 28), Period.MORNING) == 0
    assert schedule.quota(dt.date(2026, 11, 29), Period.MORNING) == 3  # Sunday
    assert schedule.quota(dt.date(2026, 11, 29), Period.AFTERNOON) == 4
    assert schedule.quota(dt.date(2026, 11, 30), Period.MORNING) == 0  # Monday again


def test_the_same_weekday_has_the_same_quota_every_week() -> None:
    schedule = WeeklySchedule.from_mapping(distinct_week())

    for weeks in (1, 2, 52):
        later = WEEK["wednesday"] + dt.timedelta(weeks=weeks)
        assert schedule.quota(later, Period.MORNING) == 5


def test_mapping_round_trip_keeps_every_session() -> None:
    days = distinct_week()
    schedule = WeeklySchedule.from_mapping(days)

    assert schedule.to_mapping() == days
    assert WeeklySchedule.from_mapping(schedule.to_mapping()) == schedule
    assert schedule.quotas == tuple(range(1, 15))


def test_to_mapping_names_every_day_in_order() -> None:
    mapping = WeeklySchedule.every_day(5, 0).to_mapping()

    assert list(mapping) == list(WEEKDAYS)
    assert all(periods == {"morning": 5, "afternoon": 0} for periods in mapping.values())


def test_off_switches_every_session_off() -> None:
    assert WeeklySchedule.off().quotas == (0,) * 14


def test_quota_limits_are_inclusive() -> None:
    assert WeeklySchedule.every_day(0, MAX_QUOTA).quota(TODAY, Period.AFTERNOON) == MAX_QUOTA


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (True, "bool"),
        (False, "bool"),
        (-1, "negative"),
        (MAX_QUOTA + 1, "too large"),
        (2.0, "float"),
    ],
)
def test_a_bad_quota_is_refused_naming_its_session(bad: object, why: str) -> None:
    days = distinct_week()
    days["wednesday"]["morning"] = bad  # type: ignore[assignment]

    with pytest.raises(InvalidValue) as caught:
        WeeklySchedule.from_mapping(days)

    assert caught.value.field == "schedule.wednesday.morning", why
    assert caught.value.code == "invalid_value"


@pytest.mark.parametrize(
    ("index", "field"), [(0, "schedule.monday.morning"), (13, "schedule.sunday.afternoon")]
)
def test_a_bad_quota_in_the_raw_tuple_names_its_session(index: int, field: str) -> None:
    quotas = [1] * 14
    quotas[index] = -3

    with pytest.raises(InvalidValue) as caught:
        WeeklySchedule(tuple(quotas))

    assert caught.value.field == field


@pytest.mark.parametrize("length", [0, 13, 15])
def test_a_schedule_has_exactly_fourteen_sessions(length: int) -> None:
    with pytest.raises(InvalidValue) as caught:
        WeeklySchedule((1,) * length)

    assert caught.value.field == "schedule"


def test_a_missing_day_is_refused() -> None:
    days = distinct_week()
    del days["sunday"]

    with pytest.raises(InvalidValue) as caught:
        WeeklySchedule.from_mapping(days)

    assert caught.value.field == "schedule.sunday"


def test_a_missing_period_is_refused() -> None:
    days = distinct_week()
    del days["wednesday"]["afternoon"]

    with pytest.raises(InvalidValue) as caught:
        WeeklySchedule.from_mapping(days)

    assert caught.value.field == "schedule.wednesday.afternoon"


def test_an_unknown_day_is_refused() -> None:
    days = distinct_week()
    days["wendsday"] = {"morning": 1, "afternoon": 1}

    with pytest.raises(InvalidValue) as caught:
        WeeklySchedule.from_mapping(days)

    assert caught.value.field == "schedule.wendsday"


def test_an_unknown_period_is_refused() -> None:
    days = distinct_week()
    days["friday"]["evening"] = 4

    with pytest.raises(InvalidValue) as caught:
        WeeklySchedule.from_mapping(days)

    assert caught.value.field == "schedule.friday.evening"


def test_sessions_between_lists_only_switched_on_sessions_in_date_order() -> None:
    days = {day: {"morning": 0, "afternoon": 0} for day in WEEKDAYS}
    days["wednesday"] = {"morning": 10, "afternoon": 10}
    days["saturday"] = {"morning": 0, "afternoon": 5}
    schedule = WeeklySchedule.from_mapping(days)
    wednesday, saturday = dt.date(2026, 11, 25), dt.date(2026, 11, 28)

    found = list(sessions_between(7, schedule, wednesday, dt.date(2026, 12, 2)))

    assert found == [
        Session(7, wednesday, Period.MORNING),
        Session(7, wednesday, Period.AFTERNOON),
        Session(7, saturday, Period.AFTERNOON),
        Session(7, dt.date(2026, 12, 2), Period.MORNING),
        Session(7, dt.date(2026, 12, 2), Period.AFTERNOON),
    ]


def test_sessions_between_includes_both_ends_and_a_single_day() -> None:
    schedule = WeeklySchedule.every_day(1, 0)

    assert list(sessions_between(1, schedule, TODAY, TODAY)) == [Session(1, TODAY, Period.MORNING)]
    assert len(list(sessions_between(1, schedule, TODAY, TODAY + dt.timedelta(days=6)))) == 7


def test_sessions_between_is_empty_when_the_range_is_reversed_or_all_off() -> None:
    assert (
        list(sessions_between(1, WeeklySchedule.every_day(1, 1), TODAY, TODAY - dt.timedelta(1)))
        == []
    )
    assert list(sessions_between(1, WeeklySchedule.off(), TODAY, TODAY + dt.timedelta(30))) == []


def test_a_leave_names_its_session() -> None:
    assert Leave(3, TODAY, Period.AFTERNOON).session == Session(3, TODAY, Period.AFTERNOON)


@pytest.mark.parametrize(
    ("quota", "booked", "remaining"), [(5, 0, 5), (5, 3, 2), (5, 5, 0), (2, 3, 0)]
)
def test_offered_session_remaining_places(quota: int, booked: int, remaining: int) -> None:
    offered = OfferedSession(Session(1, TODAY, Period.MORNING), quota, booked)

    assert offered.remaining == remaining


def test_session_str_reads_like_a_sentence() -> None:
    assert str(Session(4, TODAY, Period.AFTERNOON)) == "doctor 4, 2026-11-25 afternoon"
