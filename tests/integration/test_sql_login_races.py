"""Parallel password guessing through the service on SQLite and MariaDB: the throttle is taken
before the password is checked, atomically, so no guess slips past it (issue 7, item 3)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.security import Argon2Hasher
from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.throttle import SqlThrottle
from medbook.bootstrap import Services, build_services
from medbook.domain.accounts.throttling import AttemptLimits, Rate
from medbook.domain.shared.actors import Role
from medbook.domain.shared.errors import DomainError

PHONE = "13900000001"
PASSWORD = "correct horse battery"
GUESSES = 40


class CountingHasher(Argon2Hasher):
    """A cheap argon2id that counts the passwords it checked."""

    def __init__(self) -> None:
        super().__init__(memory_cost=1024, time_cost=1, parallelism=1)
        self.checked = 0
        self._lock = threading.Lock()

    def verify(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.checked += 1
        return super().verify(password_hash, password)


def services(
    engine_factory: Callable[..., Engine],
    clock: ManualClock,
    hasher: CountingHasher,
    limits: AttemptLimits | None = None,
) -> Services:
    engine = engine_factory(pool_size=20, max_overflow=0, pool_timeout=120)
    built = build_services(
        lambda: SqlUnitOfWork(engine),
        clock,
        hasher=hasher,
        throttle=SqlThrottle(engine),
        limits=limits,
    )
    built.accounts.register_patient(PHONE, "Wang Fang", PASSWORD)
    hasher.checked = 0
    return built


def guess_in_parallel(services: Services, client: Callable[[int], str]) -> Counter[str]:
    barrier = threading.Barrier(GUESSES)

    def guess(i: int) -> str:
        barrier.wait()
        try:
            services.accounts.login(PHONE, f"guess {i}", Role.PATIENT, client=client(i))
        except DomainError as error:
            return error.code
        return "ok"

    with ThreadPoolExecutor(max_workers=GUESSES) as pool:
        return Counter(pool.map(guess, range(GUESSES)))


def test_forty_parallel_guesses_from_one_address_check_exactly_five_passwords(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    hasher = CountingHasher()
    built = services(engine_factory, clock, hasher)

    outcomes = guess_in_parallel(built, lambda i: "203.0.113.7")

    assert hasher.checked == 5
    assert outcomes == {"unauthenticated": 5, "too_many_attempts": GUESSES - 5}


def test_forty_parallel_guesses_from_forty_addresses_stop_at_the_account_ceiling(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    # The account's ceiling lowered to 10 so that forty guesses cross it.
    hasher = CountingHasher()
    limits = AttemptLimits(per_account=Rate.of(10, dt.timedelta(minutes=15)))
    built = services(engine_factory, clock, hasher, limits)

    outcomes = guess_in_parallel(built, lambda i: f"198.51.100.{i}")

    assert hasher.checked == 10
    assert outcomes == {"unauthenticated": 10, "too_many_attempts": GUESSES - 10}
    # A quarter of an hour later the account allows one more: the owner's.
    clock.advance(dt.timedelta(minutes=15))
    assert built.accounts.login(PHONE, PASSWORD, Role.PATIENT, client="198.51.100.39").name
