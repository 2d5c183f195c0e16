"""The throttle contract, the same for every adapter: in this process (``MemoryThrottle``), in
SQLite and MariaDB (``SqlThrottle``) and in a real Redis (``RedisThrottle``), where every server
process shares the buckets; then what only the SQL adapter has (forgetting full buckets), and
Redis chosen by ``MEDBOOK_REDIS_URL``.

Redis is required (``MEDBOOK_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/15``): when it
cannot be reached its tests fail, they never skip."""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, delete, func, select

from medbook.adapters.redis_throttle import RedisThrottle
from medbook.adapters.security import MemoryThrottle
from medbook.adapters.sql import make_engine
from medbook.adapters.sql.migrate import upgrade
from medbook.adapters.sql.throttle import SqlThrottle, throttle_buckets
from medbook.bootstrap import Settings, bootstrap
from medbook.domain.accounts.throttling import Bucket, Rate
from medbook.domain.shared.actors import Role
from medbook.domain.shared.errors import TooManyAttempts, Unauthenticated
from medbook.ports.security import Throttle

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
MILLISECOND = dt.timedelta(milliseconds=1)
FIVE = Rate.of(5, 3 * MINUTE)  # 5 at once, then one every 3 minutes
PAIR = Bucket("login:pair:patient:13900000001@203.0.113.7", FIVE)
CLIENT = Bucket("login:client:203.0.113.7", Rate.of(3, MINUTE))
ACCOUNT = Bucket("login:account:patient:13900000001", Rate.of(100, 15 * MINUTE))

REDIS_URL = os.environ.get("MEDBOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

#: Throttles on one store, as separate server processes would hold them.
Processes = Callable[[], Throttle]


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        pytest.fail(
            f"Redis is required and could not be reached at {REDIS_URL}: {error}\n"
            "Start it or set MEDBOOK_TEST_REDIS_URL.",
            pytrace=False,
        )
    return REDIS_URL


def _redis_processes(url: str) -> Iterator[Processes]:
    """Throttles on one Redis under a prefix of their own; its keys are deleted after."""
    prefix = f"medbook-test:{uuid.uuid4().hex[:12]}:"
    made: list[RedisThrottle] = []

    def process() -> Throttle:
        made.append(RedisThrottle.from_url(url, prefix))
        return made[-1]

    yield process
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()
    for throttle in made:
        throttle.close()


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb), "redis"]
)
def processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Processes]:
    """Each call gives another process's throttle on the same, empty store."""
    if request.param == "memory":
        shared = MemoryThrottle()
        yield lambda: shared
        return
    if request.param == "redis":
        yield from _redis_processes(request.getfixturevalue("redis_url"))
        return
    if request.param == "mariadb":
        url = request.getfixturevalue("mariadb_database")
    else:
        url = f"sqlite:///{tmp_path / 'medbook.sqlite3'}"
        first = make_engine(url)
        upgrade(first)
        first.dispose()
    engines: list[Engine] = []

    def process() -> Throttle:
        engines.append(make_engine(url, pool_size=10, max_overflow=0, pool_timeout=60))
        return SqlThrottle(engines[-1])

    yield process
    if engines:
        with engines[0].begin() as connection:
            connection.execute(delete(throttle_buckets))
    for engine in engines:
        engine.dispose()


@pytest.fixture
def throttle(processes: Processes) -> Throttle:
    return processes()


def take_until_refused(
    throttle: Throttle, bucket: Bucket, now: dt.datetime, most: int = 200
) -> int:
    """How many attempts the bucket allows at ``now`` before it refuses."""
    for taken in range(most):
        if throttle.take([bucket], now) is not None:
            return taken
    raise AssertionError(f"{bucket.key} allowed {most} attempts")


def test_a_new_bucket_allows_its_burst_then_refuses_with_the_wait(throttle: Throttle) -> None:
    for _ in range(5):
        assert throttle.take([PAIR], NOW) is None

    assert throttle.take([PAIR], NOW) == 3 * 60
    assert throttle.take([PAIR], NOW + MINUTE + MILLISECOND) == 2 * 60  # whole seconds, rounded up
    assert throttle.take([PAIR], NOW + 3 * MINUTE - MILLISECOND) == 1


def test_after_the_burst_one_attempt_per_interval(throttle: Throttle) -> None:
    assert take_until_refused(throttle, PAIR, NOW) == 5

    assert throttle.take([PAIR], NOW + 3 * MINUTE) is None
    assert throttle.take([PAIR], NOW + 3 * MINUTE) == 3 * 60
    assert take_until_refused(throttle, PAIR, NOW + 9 * MINUTE) == 2


def test_a_refused_attempt_takes_nothing(throttle: Throttle) -> None:
    take_until_refused(throttle, PAIR, NOW)
    for _ in range(20):
        throttle.take([PAIR], NOW + 2 * MINUTE)

    assert throttle.take([PAIR], NOW + 3 * MINUTE) is None


def test_an_idle_bucket_is_full_again(throttle: Throttle) -> None:
    take_until_refused(throttle, PAIR, NOW)

    assert take_until_refused(throttle, PAIR, NOW + 15 * MINUTE) == 5


def test_every_bucket_gives_one_attempt(throttle: Throttle) -> None:
    assert throttle.take([PAIR, CLIENT, ACCOUNT], NOW) is None

    assert take_until_refused(throttle, PAIR, NOW) == 4
    assert take_until_refused(throttle, CLIENT, NOW) == 2
    assert take_until_refused(throttle, ACCOUNT, NOW) == 99


def test_when_a_later_bucket_refuses_the_earlier_ones_get_their_attempt_back(
    throttle: Throttle,
) -> None:
    take_until_refused(throttle, CLIENT, NOW)

    assert throttle.take([PAIR, ACCOUNT, CLIENT], NOW) == 60

    assert take_until_refused(throttle, PAIR, NOW) == 5
    assert take_until_refused(throttle, ACCOUNT, NOW) == 100


def test_giving_back_returns_one_attempt(throttle: Throttle) -> None:
    take_until_refused(throttle, PAIR, NOW)

    throttle.give_back(PAIR, NOW)

    assert take_until_refused(throttle, PAIR, NOW) == 1


def test_giving_back_never_fills_a_bucket_beyond_its_burst(throttle: Throttle) -> None:
    throttle.give_back(PAIR, NOW)  # never taken
    assert throttle.take([PAIR], NOW) is None
    throttle.give_back(PAIR, NOW)
    throttle.give_back(PAIR, NOW)

    assert take_until_refused(throttle, PAIR, NOW) == 5


def test_a_reset_bucket_is_full_and_the_others_are_not_touched(throttle: Throttle) -> None:
    take_until_refused(throttle, PAIR, NOW)
    take_until_refused(throttle, CLIENT, NOW)

    throttle.reset(PAIR.key)
    throttle.reset("a key never used")

    assert take_until_refused(throttle, PAIR, NOW) == 5
    assert throttle.take([CLIENT], NOW) is not None


def test_keys_are_counted_apart(throttle: Throttle) -> None:
    take_until_refused(throttle, PAIR, NOW)

    assert take_until_refused(throttle, Bucket("login:pair:doctor:13900000001@-", FIVE), NOW) == 5


def test_keys_longer_than_a_column_are_counted_apart(throttle: Throttle) -> None:
    long_key, other_long_key = "x" * 100 + "1", "x" * 100 + "2"
    take_until_refused(throttle, Bucket(long_key, FIVE), NOW)

    assert throttle.take([Bucket(long_key, FIVE)], NOW) == 3 * 60
    assert take_until_refused(throttle, Bucket(other_long_key, FIVE), NOW) == 5


def test_times_in_any_time_zone_are_the_same_instants(throttle: Throttle) -> None:
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    take_until_refused(throttle, PAIR, NOW.astimezone(shanghai))

    assert throttle.take([PAIR], NOW + MINUTE) == 2 * 60
    assert throttle.take([PAIR], (NOW + 3 * MINUTE).astimezone(shanghai)) is None


def test_every_process_sees_the_same_buckets(processes: Processes) -> None:
    first, second = processes(), processes()
    for n in range(5):
        assert (first if n % 2 else second).take([PAIR], NOW) is None

    assert first.take([PAIR], NOW) == 3 * 60
    second.reset(PAIR.key)
    assert first.take([PAIR], NOW) is None


def race(workers: int, attempt: Callable[[int], int | None]) -> list[int | None]:
    """Run ``attempt(i)`` on ``workers`` threads released at once."""
    barrier = threading.Barrier(workers)

    def run(i: int) -> int | None:
        barrier.wait()
        return attempt(i)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(workers)))


def test_parallel_attempts_never_take_more_than_the_bucket_holds(processes: Processes) -> None:
    # Four processes, ten threads each, forty attempts at one instant: exactly the burst passes.
    throttles = [processes() for _ in range(4)]

    outcomes = race(40, lambda i: throttles[i % 4].take([PAIR], NOW))

    assert outcomes.count(None) == 5
    assert set(outcomes) == {None, 3 * 60}


def test_parallel_attempts_on_several_buckets_give_back_what_they_could_not_use(
    processes: Processes,
) -> None:
    # Forty addresses at once on one account whose bucket holds ten: ten pass, and the thirty
    # refused give their own address's attempt back.
    throttles = [processes() for _ in range(4)]
    account = Bucket("login:account:patient:13900000001", Rate.of(10, 15 * MINUTE))

    def attempt(i: int) -> int | None:
        own = Bucket(f"login:client:198.51.100.{i}", Rate.of(1, 15 * MINUTE))
        return throttles[i % 4].take([own, account], NOW)

    outcomes = race(40, attempt)

    assert outcomes.count(None) == 10
    refused = [i for i, outcome in enumerate(outcomes) if outcome is not None]
    for i in refused:
        assert (
            throttles[0].take(
                [Bucket(f"login:client:198.51.100.{i}", Rate.of(1, 15 * MINUTE))], NOW
            )
            is None
        )


# --- the SQL adapter only ------------------------------------------------------------------------


def rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(throttle_buckets)).scalar_one()


def test_the_rows_of_full_buckets_can_be_forgotten(engine: Engine) -> None:
    throttle = SqlThrottle(engine)
    throttle.take([PAIR], NOW)  # full again 3 minutes later
    throttle.take([ACCOUNT], NOW + MINUTE)  # 15 minutes later
    assert rows(engine) == 2

    assert throttle.forget_expired(NOW + 3 * MINUTE) == 1
    assert rows(engine) == 1
    assert throttle.forget_expired(NOW + 3 * MINUTE) == 0
    assert take_until_refused(throttle, PAIR, NOW + 3 * MINUTE) == 5


def test_a_bucket_is_one_row_whatever_the_attempts(engine: Engine) -> None:
    throttle = SqlThrottle(engine)
    for minute in range(30):
        throttle.take([PAIR, ACCOUNT], NOW + minute * MINUTE)

    assert rows(engine) == 2


# --- Redis, chosen by the settings ---------------------------------------------------------------


def test_with_a_redis_url_every_server_counts_logins_in_redis(redis_url: str) -> None:
    phone = f"139{uuid.uuid4().int % 10**8:08d}"  # a phone no other test run uses
    settings = Settings.from_env(
        {"MEDBOOK_DATABASE_URL": "memory://", "MEDBOOK_REDIS_URL": redis_url}
    )
    first, second = bootstrap(settings), bootstrap(settings)
    assert isinstance(first.accounts.throttle, RedisThrottle)
    try:
        for server in (first, second, first, second, first):
            with pytest.raises(Unauthenticated):
                server.accounts.login(phone, "wrong password", Role.PATIENT, client="203.0.113.7")

        with pytest.raises(TooManyAttempts):
            second.accounts.login(phone, "wrong password", Role.PATIENT, client="203.0.113.7")
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"medbook:throttle:*{phone}*"):
            client.delete(key)
        client.close()


def test_two_installations_on_one_redis_keep_their_buckets_apart(redis_url: str) -> None:
    """MEDBOOK_REDIS_PREFIX keeps the throttle's keys apart too, not only the chat's channels:
    five wrong passwords at one hospital's medbook must not lock the phone out of another's."""
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    prefixes = [f"install-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    one, other = (
        bootstrap(
            Settings.from_env(
                {
                    "MEDBOOK_DATABASE_URL": "memory://",
                    "MEDBOOK_REDIS_URL": redis_url,
                    "MEDBOOK_REDIS_PREFIX": prefix,
                }
            )
        )
        for prefix in prefixes
    )
    client = redis.Redis.from_url(redis_url)
    try:
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                one.accounts.login(phone, "wrong password", Role.PATIENT, client="203.0.113.7")
        with pytest.raises(TooManyAttempts):
            one.accounts.login(phone, "wrong password", Role.PATIENT, client="203.0.113.7")
        with pytest.raises(Unauthenticated):  # counted apart: a password is checked
            other.accounts.login(phone, "wrong password", Role.PATIENT, client="203.0.113.7")
        assert list(client.scan_iter(f"{prefixes[0]}:throttle:*"))
    finally:
        for prefix in prefixes:
            for key in client.scan_iter(f"{prefix}:throttle:*"):
                client.delete(key)
        client.close()
