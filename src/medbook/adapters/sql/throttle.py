"""Throttle buckets in the database, so that every server process shares the same counts."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    String,
    Table,
    case,
    delete,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from medbook.adapters.sql.errors import is_duplicate_key, is_transient
from medbook.adapters.sql.metadata import metadata
from medbook.domain.accounts import throttling
from medbook.domain.accounts.throttling import Bucket, epoch_ms

#: The width of ``throttle_buckets.key``.
KEY_LENGTH = 64

#: One GCRA bucket per key (see medbook.domain.accounts.throttling): ``tat`` in epoch milliseconds.
#: Its own table next to its only user: the throttle works outside every unit of work.
throttle_buckets = Table(
    "throttle_buckets",
    metadata,
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("tat", BigInteger, nullable=False, index=True),
)
#: How often one attempt goes round "update, else insert" when other processes keep creating or
#: emptying the same bucket in between; past that it is refused for a second (never wrongly let in).
_ROUNDS = 5
#: New buckets between two sweeps of the full ones (see ``forget_expired``).
_SWEEP_EVERY = 256
#: How often one short transaction is run again after a deadlock or, on a Galera cluster, a
#: certification conflict (two nodes wrote one bucket at once); each was rolled back whole.
_CONFLICT_TRIES = 8

T = TypeVar("T")


class SqlThrottle:
    """GCRA buckets (``medbook.domain.throttling``), one row per key in ``throttle_buckets``.

    An attempt is decided by one conditional ``UPDATE`` — the GCRA rule written in SQL — or, for
    a bucket without a row yet, by one ``INSERT``, whose duplicate-key error (another process was
    first) sends it back to the ``UPDATE``. Nothing is read and then written, so parallel attempts
    can never take more than a bucket holds. Each step is its own short transaction, apart from
    the caller's unit of work.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._new_buckets = 0

    def take(self, buckets: Sequence[Bucket], now: dt.datetime) -> int | None:
        at = epoch_ms(now)
        taken: list[Bucket] = []
        try:
            for bucket in buckets:
                refused = self._take(bucket, at)
                if refused is not None:
                    self._give_all_back(taken, at)
                    return refused
                taken.append(bucket)
        except Exception:
            # The attempt fails as a whole: the buckets it took so far are given back, so an
            # error (the database gone) never costs the owner an attempt.
            self._give_all_back(taken, at)
            raise
        return None

    def _give_all_back(self, taken: Sequence[Bucket], at: int) -> None:
        for earlier in reversed(taken):
            try:
                self._give_back(earlier, at)
            except DBAPIError:  # nothing more to do: the bucket refills by itself
                continue

    def give_back(self, bucket: Bucket, now: dt.datetime) -> None:
        self._give_back(bucket, epoch_ms(now))

    def reset(self, key: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(throttle_buckets).where(throttle_buckets.c.key == _stored(key))
            )

    def forget_expired(self, now: dt.datetime) -> int:
        """Delete the rows of every full bucket (their ``tat`` has passed); how many were deleted.

        A full bucket and no row mean the same, so this changes no decision. It runs by itself
        every few hundred new buckets; a periodic job may call it too.
        """
        with self._engine.begin() as connection:
            result = connection.execute(
                delete(throttle_buckets).where(throttle_buckets.c.tat <= epoch_ms(now))
            )
        return result.rowcount

    def _take(self, bucket: Bucket, now: int) -> int | None:
        """None when the bucket allowed the attempt (and took it), else the seconds to wait."""
        key, rate = _stored(bucket.key), bucket.rate

        def consume_or_read(connection: Connection) -> tuple[bool, int | None]:
            if _consume(connection, key, now, bucket.rate):
                return True, None
            found = connection.execute(
                select(throttle_buckets.c.tat).where(throttle_buckets.c.key == key)
            ).scalar_one_or_none()
            return False, found

        for _ in range(_ROUNDS):
            consumed, tat = self._transaction(consume_or_read)
            if consumed:
                return None
            if tat is not None:
                verdict = throttling.take(tat, now, rate)
                if not verdict.allowed:
                    return verdict.retry_after
                continue  # given back or reset since the UPDATE: decide again
            if self._create(key, now + rate.interval_ms):
                self._after_new_bucket(now)
                return None
        return 1

    def _create(self, key: str, tat: int) -> bool:
        """Insert the row of a new bucket; False when another process inserted it first."""
        try:
            self._transaction(
                lambda connection: connection.execute(
                    insert(throttle_buckets).values(key=key, tat=tat)
                )
            )
        except IntegrityError as error:
            if not is_duplicate_key(error):
                raise
            return False
        return True

    def _give_back(self, bucket: Bucket, now: int) -> None:
        table = throttle_buckets
        self._transaction(
            lambda connection: connection.execute(
                update(table)
                .where(table.c.key == _stored(bucket.key), table.c.tat > now)
                .values(tat=table.c.tat - bucket.rate.interval_ms)
            )
        )

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        """``work`` in one short transaction, run again after a deadlock or a cluster's
        certification conflict (which roll it back whole), a few times with a short pause."""
        for attempt in range(_CONFLICT_TRIES):
            try:
                with self._engine.begin() as connection:
                    return work(connection)
            except DBAPIError as error:
                if not is_transient(error) or attempt == _CONFLICT_TRIES - 1:
                    raise
                time.sleep(0.002 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _after_new_bucket(self, now: int) -> None:
        self._new_buckets += 1
        if self._new_buckets % _SWEEP_EVERY == 0:
            with self._engine.begin() as connection:
                connection.execute(delete(throttle_buckets).where(throttle_buckets.c.tat <= now))


def _consume(connection: Connection, key: str, now: int, rate: throttling.Rate) -> bool:
    """The GCRA rule as one conditional UPDATE: True when the bucket had room (and was taken)."""
    table = throttle_buckets
    start = case((table.c.tat > now, table.c.tat), else_=literal(now, table.c.tat.type))
    result = connection.execute(
        update(table)
        .where(table.c.key == key, table.c.tat <= now + rate.tolerance_ms)
        .values(tat=start + rate.interval_ms)
    )
    return result.rowcount == 1


def _stored(key: str) -> str:
    """The key as stored: as it is when it fits the column, else its SHA-256 (64 hex digits)."""
    if len(key) <= KEY_LENGTH:
        return key
    return hashlib.sha256(key.encode()).hexdigest()
