"""Failed logins counted in the database, so that every server process sees the same count."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import Engine, delete, insert, select

from medbook.adapters.security import seconds_blocked
from medbook.adapters.sql.tables import login_failures

#: The width of ``login_failures.key``.
KEY_LENGTH = 64


class SqlLoginThrottle:
    """A sliding window of failed logins per key, one row per failure in ``login_failures``.

    Each method is its own short transaction, apart from the caller's unit of work: a failure
    must be counted even when the login that caused it rolls back.
    """

    def __init__(
        self,
        engine: Engine,
        max_failures: int = 5,
        window: dt.timedelta = dt.timedelta(minutes=15),
    ) -> None:
        if max_failures < 1 or window <= dt.timedelta(0):
            raise ValueError("max_failures and window must be positive")
        self._engine = engine
        self._max_failures = max_failures
        self._window = window

    def retry_after(self, key: str, now: dt.datetime) -> int | None:
        # Only the latest max_failures failures can keep the key blocked (see seconds_blocked).
        latest = (
            select(login_failures.c.failed_at)
            .where(
                login_failures.c.key == _stored(key),
                login_failures.c.failed_at > now - self._window,
            )
            .order_by(login_failures.c.failed_at.desc())
            .limit(self._max_failures)
        )
        with self._engine.begin() as connection:
            newest_first = connection.execute(latest).scalars().all()
        return seconds_blocked(
            newest_first[::-1], now, max_failures=self._max_failures, window=self._window
        )

    def failed(self, key: str, now: dt.datetime) -> None:
        stored = _stored(key)
        with self._engine.begin() as connection:
            connection.execute(
                delete(login_failures).where(
                    login_failures.c.key == stored,
                    login_failures.c.failed_at <= now - self._window,
                )
            )
            connection.execute(insert(login_failures).values(key=stored, failed_at=now))

    def succeeded(self, key: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(login_failures).where(login_failures.c.key == _stored(key)))

    def forget_expired(self, now: dt.datetime) -> int:
        """Delete every failure that has left the window, of any key; how many were deleted.

        ``failed`` only tidies its own key: the rows of keys never tried again stay until this
        runs (from a periodic job, say).
        """
        with self._engine.begin() as connection:
            result = connection.execute(
                delete(login_failures).where(login_failures.c.failed_at <= now - self._window)
            )
        return result.rowcount


def _stored(key: str) -> str:
    """The key as stored: as it is when it fits the column, else its SHA-256 (64 hex digits)."""
    if len(key) <= KEY_LENGTH:
        return key
    return hashlib.sha256(key.encode()).hexdigest()
