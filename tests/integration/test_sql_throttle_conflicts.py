"""``SqlThrottle`` under conflicts: a deadlock (or, on a Galera cluster, a certification conflict:
two nodes wrote one bucket at once, error 1213) rolls its short transaction back whole, and the
throttle runs it again; an error that is not worth a retry leaves, but gives back the buckets
already taken. Found by the Galera race test: 1213 escaped as a 500 and cost attempts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pymysql
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from medbook.adapters.sql import throttle as sql_throttle
from medbook.adapters.sql.migrate import upgrade
from medbook.adapters.sql.throttle import SqlThrottle, throttle_buckets
from medbook.domain.accounts.throttling import Bucket, Rate

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
FIVE = Rate.of(5, dt.timedelta(minutes=3))
FIRST = Bucket("login:pair:patient:13900000001@203.0.113.7", FIVE)
SECOND = Bucket("login:client:203.0.113.7", FIVE)


def _error(code: int) -> OperationalError:
    return OperationalError(
        "UPDATE throttle_buckets …", {}, pymysql.err.OperationalError(code, "x")
    )


@pytest.fixture
def throttle(engine: Engine) -> SqlThrottle:
    upgrade(engine)
    return SqlThrottle(engine)


def _tat(engine: Engine, bucket: Bucket) -> int | None:
    with engine.connect() as connection:
        return connection.execute(
            select(throttle_buckets.c.tat).where(throttle_buckets.c.key == bucket.key)
        ).scalar_one_or_none()


def _failing(times: int, code: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """``_consume`` fails ``times`` times with MySQL error ``code`` before it runs for real."""
    real, failed = sql_throttle._consume, []

    def consume(*args: Any) -> bool:
        if len(failed) < times:
            failed.append(code)
            raise _error(code)
        return real(*args)

    monkeypatch.setattr(sql_throttle, "_consume", consume)
    return failed


def test_a_deadlock_is_run_again_and_takes_the_attempt_once(
    throttle: SqlThrottle, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert throttle.take([FIRST], NOW) is None  # the bucket's row exists
    before = _tat(engine, FIRST)
    failed = _failing(3, 1213, monkeypatch)
    assert throttle.take([FIRST], NOW) is None
    assert failed == [1213] * 3
    assert _tat(engine, FIRST) == before + FIVE.interval_ms  # type: ignore[operator]


def test_an_error_not_worth_a_retry_leaves_and_gives_back_what_was_taken(
    throttle: SqlThrottle, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert throttle.take([FIRST, SECOND], NOW) is None
    first_before = _tat(engine, FIRST)
    real = sql_throttle._consume

    def consume(connection: Any, key: str, now: int, rate: Rate) -> bool:
        if key == SECOND.key:
            raise _error(2013)  # the connection lost mid-way: not a conflict
        return real(connection, key, now, rate)

    monkeypatch.setattr(sql_throttle, "_consume", consume)
    with pytest.raises(OperationalError):
        throttle.take([FIRST, SECOND], NOW)
    assert _tat(engine, FIRST) == first_before  # the first bucket's attempt came back
