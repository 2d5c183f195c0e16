"""``BookingPolicy.bookable_times``: the listing's fast form of the window rule must answer
exactly what the rule itself (``is_bookable_time``, tested in test_policy.py) answers, for every
session, instant, time zone (DST and date-line zones included) and policy."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given
from hypothesis import strategies as st

from medbook.domain import Period
from medbook.domain.booking.policy import BookingPolicy
from medbook.domain.shared.calendar import Session

ZONES = [
    zoneinfo.ZoneInfo(name)
    for name in (
        "Asia/Shanghai",
        "UTC",
        "America/New_York",  # DST
        "Australia/Lord_Howe",  # a half-hour DST shift
        "Pacific/Apia",  # skipped a whole day in 2011
        "Pacific/Kiritimati",  # UTC+14
        "Pacific/Pago_Pago",  # UTC-11
    )
]

instants = st.datetimes(
    min_value=dt.datetime(2011, 12, 25),
    max_value=dt.datetime(2031, 12, 31),
    timezones=st.just(dt.UTC),
)
times = st.times().map(lambda t: t.replace(microsecond=0))


@st.composite
def policies(draw: st.DrawFn) -> BookingPolicy:
    morning = draw(times.filter(lambda t: t < dt.time(23, 59)))
    afternoon = draw(times.filter(lambda t: t > morning))
    return BookingPolicy(
        window_days=draw(st.integers(0, 30)), morning_start=morning, afternoon_start=afternoon
    )


@given(
    policy=policies(),
    now=instants,
    tz=st.sampled_from(ZONES),
    offset=st.integers(-3, 35),
    period=st.sampled_from(list(Period)),
)
def test_the_fast_window_answers_as_the_rule(
    policy: BookingPolicy, now: dt.datetime, tz: dt.tzinfo, offset: int, period: Period
) -> None:
    day = now.astimezone(tz).date() + dt.timedelta(days=offset)
    session = Session(7, day, period)
    assert policy.bookable_times(now, tz)(session) == policy.is_bookable_time(session, now, tz)
