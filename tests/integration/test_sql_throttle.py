"""SqlLoginThrottle on SQLite and MariaDB: a sliding window of failed logins, shared by servers."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select

from medbook.adapters.sql.tables import login_failures
from medbook.adapters.sql.throttle import SqlLoginThrottle

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
MICROSECOND = dt.timedelta(microseconds=1)
KEY = "patient:13900000001"


@pytest.fixture
def throttle(engine: Engine) -> SqlLoginThrottle:
    return SqlLoginThrottle(engine)


def rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(login_failures)).scalar_one()


def test_four_failures_do_not_block(throttle: SqlLoginThrottle) -> None:
    for minute in range(4):
        throttle.failed(KEY, NOW + minute * MINUTE)

    assert throttle.retry_after(KEY, NOW + 4 * MINUTE) is None


def test_the_fifth_failure_blocks_until_the_oldest_leaves_the_window(
    throttle: SqlLoginThrottle,
) -> None:
    for minute in range(5):
        throttle.failed(KEY, NOW + minute * MINUTE)

    assert throttle.retry_after(KEY, NOW + 4 * MINUTE) == 11 * 60
    # Microseconds survive the database: one microsecond before the end is still a whole second.
    assert throttle.retry_after(KEY, NOW + 15 * MINUTE - MICROSECOND) == 1
    assert throttle.retry_after(KEY, NOW + 15 * MINUTE) is None


def test_a_success_clears_the_failures(throttle: SqlLoginThrottle, engine: Engine) -> None:
    for _ in range(5):
        throttle.failed(KEY, NOW)
    throttle.failed("doctor:13900000001", NOW)

    throttle.succeeded(KEY)

    assert throttle.retry_after(KEY, NOW) is None
    assert rows(engine) == 1  # the other key's failure stays


def test_the_window_slides_and_old_failures_of_the_key_are_deleted(
    throttle: SqlLoginThrottle, engine: Engine
) -> None:
    # One failure every four minutes: never five within fifteen minutes.
    for n in range(10):
        throttle.failed(KEY, NOW + n * 4 * MINUTE)
        assert throttle.retry_after(KEY, NOW + n * 4 * MINUTE) is None
    assert rows(engine) == 4  # the ones at 24, 28, 32 and 36 minutes; older ones were deleted

    throttle.failed(KEY, NOW + 37 * MINUTE)
    assert throttle.retry_after(KEY, NOW + 37 * MINUTE) == (24 + 15 - 37) * 60


def test_failures_that_raced_past_the_block_keep_it_longer(throttle: SqlLoginThrottle) -> None:
    for minute in range(7):
        throttle.failed(KEY, NOW + minute * MINUTE)

    # Five failures remain in the window until the one at minute 2 leaves it.
    assert throttle.retry_after(KEY, NOW + 6 * MINUTE) == 11 * 60
    assert throttle.retry_after(KEY, NOW + 17 * MINUTE) is None


def test_keys_are_counted_apart(throttle: SqlLoginThrottle) -> None:
    for _ in range(5):
        throttle.failed(KEY, NOW)

    assert throttle.retry_after("doctor:13900000001", NOW) is None
    assert throttle.retry_after(KEY, NOW) == 15 * 60


def test_keys_longer_than_the_column_are_counted_apart(throttle: SqlLoginThrottle) -> None:
    long_key, other_long_key = "patient:" + "1" * 100, "patient:" + "1" * 99 + "2"
    for _ in range(5):
        throttle.failed(long_key, NOW)

    assert throttle.retry_after(long_key, NOW) == 15 * 60
    assert throttle.retry_after(other_long_key, NOW) is None


def test_times_in_any_time_zone_are_the_same_instants(throttle: SqlLoginThrottle) -> None:
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    for minute in range(5):
        throttle.failed(KEY, (NOW + minute * MINUTE).astimezone(shanghai))

    assert throttle.retry_after(KEY, NOW + 4 * MINUTE) == 11 * 60
    assert throttle.retry_after(KEY, (NOW + 5 * MINUTE).astimezone(shanghai)) == 10 * 60


def test_every_process_sees_the_same_failures(engine_factory: Callable[..., Engine]) -> None:
    first, second = SqlLoginThrottle(engine_factory()), SqlLoginThrottle(engine_factory())
    for minute in range(5):
        (first if minute % 2 else second).failed(KEY, NOW + minute * MINUTE)

    assert first.retry_after(KEY, NOW + 4 * MINUTE) == 11 * 60
    second.succeeded(KEY)
    assert first.retry_after(KEY, NOW + 4 * MINUTE) is None


def test_the_limits_can_be_changed(engine: Engine) -> None:
    throttle = SqlLoginThrottle(engine, max_failures=2, window=dt.timedelta(seconds=30))
    throttle.failed(KEY, NOW)
    assert throttle.retry_after(KEY, NOW) is None
    throttle.failed(KEY, NOW + dt.timedelta(seconds=10))

    assert throttle.retry_after(KEY, NOW + dt.timedelta(seconds=10)) == 20


def test_expired_failures_of_every_key_can_be_forgotten(
    throttle: SqlLoginThrottle, engine: Engine
) -> None:
    for n in range(3):
        throttle.failed(f"doctor:1390000000{n}", NOW)
    throttle.failed(KEY, NOW + 10 * MINUTE)

    assert throttle.forget_expired(NOW + 15 * MINUTE) == 3
    assert rows(engine) == 1
    assert throttle.forget_expired(NOW + 15 * MINUTE) == 0
