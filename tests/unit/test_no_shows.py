"""The no-show rule against a model of the tests' own: blocked on a day when some no-show, with
at least ``limit`` no-shows in the ``window_days`` that end on it, happened less than
``block_days`` before."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medbook.domain.booking.attendance import NoShowRule, blocked_until, ensure_not_blocked
from medbook.domain.shared.errors import BookingBlocked, InvalidValue

DAY0 = dt.date(2026, 1, 1)


def blocked_model(rule: NoShowRule, no_shows: list[dt.date], today: dt.date) -> bool:
    for x in no_shows:
        in_window = [y for y in no_shows if x - dt.timedelta(days=rule.window_days) < y <= x]
        if len(in_window) >= rule.limit and x <= today < x + dt.timedelta(days=rule.block_days):
            return True
    return False


rules = st.builds(NoShowRule, st.integers(1, 5), st.integers(1, 60), st.integers(1, 60))
days = st.integers(0, 200).map(lambda n: DAY0 + dt.timedelta(days=n))


@given(rule=rules, no_shows=st.lists(days, max_size=12), today=days)
def test_blocked_exactly_when_the_model_says(
    rule: NoShowRule, no_shows: list[dt.date], today: dt.date
) -> None:
    past = [d for d in no_shows if d <= today]  # no-shows are of sessions that have started

    until = blocked_until(rule, past, today)

    assert (until is not None) == blocked_model(rule, past, today)
    if until is not None:
        assert until > today
        assert not blocked_model(rule, past, until)  # it reopens on that day
        assert blocked_model(rule, past, until - dt.timedelta(days=1))


def test_off_by_default_and_named_when_it_refuses() -> None:
    three = [DAY0, DAY0 + dt.timedelta(days=1), DAY0 + dt.timedelta(days=2)]
    rule = NoShowRule(3, 90, 30)

    assert blocked_until(None, three, DAY0 + dt.timedelta(days=3)) is None
    with pytest.raises(BookingBlocked) as caught:
        ensure_not_blocked(rule, three, DAY0 + dt.timedelta(days=3))
    assert caught.value.code == "booking_blocked"
    assert "2026-02-02" in caught.value.message  # the third, 3 January, and 30 days
    ensure_not_blocked(rule, three, DAY0 + dt.timedelta(days=32))


@pytest.mark.parametrize(
    ("limit", "window", "block", "field"),
    [
        (0, 90, 30, "no_shows.limit"),
        (3, 0, 30, "no_shows.window_days"),
        (3, 90, 366, "no_shows.block_days"),
    ],
)
def test_a_rule_out_of_bounds_is_refused(limit: int, window: int, block: int, field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        NoShowRule(limit, window, block)
    assert caught.value.field == field
