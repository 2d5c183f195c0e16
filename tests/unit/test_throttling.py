"""The throttling rule: GCRA on one number per bucket, and which buckets an attempt takes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medbook.domain.accounts.throttling import (
    AttemptLimits,
    Rate,
    client_group,
    epoch_ms,
    give_back,
    retry_after,
    take,
)

SECOND = 1000
MINUTE = 60 * SECOND
NOW = 1_795_000_000_000  # epoch ms
FIVE_THEN_ONE_PER_3_MIN = Rate.of(5, dt.timedelta(minutes=3))


def attempts(rate: Rate, times: list[int], tat: int | None = None) -> list[bool]:
    """Whether each attempt (at the given epoch ms, in order) is allowed."""
    allowed = []
    for now in times:
        verdict = take(tat, now, rate)
        allowed.append(verdict.allowed)
        tat = verdict.tat
    return allowed


def test_a_rate_is_a_burst_and_an_interval() -> None:
    assert Rate(5, 3 * MINUTE) == FIVE_THEN_ONE_PER_3_MIN
    assert FIVE_THEN_ONE_PER_3_MIN.tolerance_ms == 4 * 3 * MINUTE


@pytest.mark.parametrize(("burst", "interval"), [(0, MINUTE), (5, 0), (-1, MINUTE)])
def test_a_rate_needs_a_burst_and_an_interval(burst: int, interval: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Rate(burst, interval)


def test_the_burst_is_allowed_at_once_and_the_next_attempt_is_refused() -> None:
    assert attempts(FIVE_THEN_ONE_PER_3_MIN, [NOW] * 7) == [True] * 5 + [False] * 2


def test_a_refusal_says_when_to_try_again_and_changes_nothing() -> None:
    tat = NOW + 5 * 3 * MINUTE  # five attempts taken at NOW
    refused = take(tat, NOW, FIVE_THEN_ONE_PER_3_MIN)

    assert not refused.allowed
    assert refused.tat == tat
    assert refused.retry_after == 3 * 60
    assert take(tat, NOW + 3 * MINUTE - 1, FIVE_THEN_ONE_PER_3_MIN).retry_after == 1
    assert take(tat, NOW + 3 * MINUTE, FIVE_THEN_ONE_PER_3_MIN).allowed


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    rate = Rate(1, 10 * SECOND)
    assert retry_after(NOW + 2500, NOW, rate) == 3
    assert retry_after(NOW + 1, NOW, rate) == 1
    assert retry_after(NOW, NOW, rate) == 1


def test_after_the_burst_one_attempt_per_interval() -> None:
    burst = [NOW] * 5
    steady = [NOW + n * 3 * MINUTE for n in range(1, 6)]
    between = [NOW + n * 3 * MINUTE + MINUTE for n in range(1, 5)]
    times = sorted(burst + steady + between)

    allowed = attempts(FIVE_THEN_ONE_PER_3_MIN, times)

    assert [t for t, ok in zip(times, allowed, strict=True) if ok] == burst + steady


def test_an_idle_bucket_fills_up_again() -> None:
    tat = NOW + 5 * 3 * MINUTE
    assert attempts(FIVE_THEN_ONE_PER_3_MIN, [NOW + 15 * MINUTE] * 6, tat) == [True] * 5 + [False]


def test_giving_back_returns_one_attempt() -> None:
    tat = NOW + 5 * 3 * MINUTE
    returned = give_back(tat, NOW, FIVE_THEN_ONE_PER_3_MIN)

    assert returned == NOW + 4 * 3 * MINUTE
    assert take(returned, NOW, FIVE_THEN_ONE_PER_3_MIN).allowed
    assert give_back(NOW + 3 * MINUTE, NOW, FIVE_THEN_ONE_PER_3_MIN) is None  # full: forget it


@given(
    burst=st.integers(1, 20),
    interval=st.integers(1, 10 * MINUTE),
    gaps=st.lists(st.integers(0, 5 * MINUTE), max_size=80),
)
def test_never_more_than_the_burst_plus_one_per_interval(
    burst: int, interval: int, gaps: list[int]
) -> None:
    rate = Rate(burst, interval)
    times = [NOW + sum(gaps[: i + 1]) for i in range(len(gaps))]
    allowed = [t for t, ok in zip(times, attempts(rate, times), strict=True) if ok]

    for i, start in enumerate(allowed):
        in_window = [t for t in allowed[i:] if t - start < interval * 10]
        assert len(in_window) <= burst + 10


@given(burst=st.integers(1, 20), interval=st.integers(1, 10 * MINUTE))
def test_exactly_the_burst_at_one_instant(burst: int, interval: int) -> None:
    assert attempts(Rate(burst, interval), [NOW] * (burst + 3)) == [True] * burst + [False] * 3


def test_times_are_epoch_milliseconds_in_any_time_zone() -> None:
    moment = dt.datetime(2026, 11, 25, 0, 30, 0, 123_999, tzinfo=dt.UTC)
    shanghai = moment.astimezone(dt.timezone(dt.timedelta(hours=8)))

    assert epoch_ms(moment) == epoch_ms(shanghai) == 1_795_566_600_123
    with pytest.raises(ValueError, match="aware"):
        epoch_ms(moment.replace(tzinfo=None))


# --- buckets of an attempt -----------------------------------------------------------------------


def test_a_login_from_an_address_takes_three_buckets_most_specific_first() -> None:
    limits = AttemptLimits()
    buckets = limits.login("patient", "13900000001", "203.0.113.7")

    assert [b.key for b in buckets.all] == [
        "login:pair:patient:13900000001@203.0.113.7",
        "login:client:203.0.113.7",
        "login:account:patient:13900000001",
    ]
    assert [b.rate for b in buckets.all] == [
        Rate.of(5, dt.timedelta(minutes=3)),
        Rate.of(50, dt.timedelta(seconds=18)),
        Rate.of(100, dt.timedelta(minutes=15)),
    ]


def test_a_login_without_an_address_counts_per_account_only() -> None:
    buckets = AttemptLimits().login("doctor", "13900000001", None)

    assert buckets.client is None
    assert [b.key for b in buckets.all] == [
        "login:pair:doctor:13900000001@-",
        "login:account:doctor:13900000001",
    ]


def test_registrations_are_counted_per_address() -> None:
    bucket = AttemptLimits().registration("2001:db8:1:2::7")

    assert bucket.key == "register:client:2001:db8:1:2::/64"
    assert bucket.rate == Rate.of(20, dt.timedelta(minutes=3))


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:0DB8:0001:0002::1", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not an address", "not an address"),
    ],
)
def test_ipv6_addresses_are_counted_per_64(address: str, group: str) -> None:
    assert client_group(address) == group


def test_one_slash_64_is_one_client_and_the_next_is_another() -> None:
    limits = AttemptLimits()
    same = {limits.login("patient", "1", a).client for a in ("2001:db8::1", "2001:db8::ffff:1")}
    other = limits.login("patient", "1", "2001:db8:0:1::1").client

    assert len(same) == 1
    assert other not in same
