"""Running a piece of work as one transaction, again when the store asks for it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from medbook.ports.transaction import Transaction, TransientConflict
from medbook.ports.unit_of_work import UnitOfWork

T = TypeVar("T")
#: A unit of work of some context (``ports.<context>``): each service is typed with its own.
U = TypeVar("U", bound=Transaction)
#: What bootstrap hands the services: a store's unit of work of every context.
UnitOfWorkFactory = Callable[[], UnitOfWork]

#: How often a transaction is tried before a TransientConflict reaches the caller.
ATTEMPTS = 12
#: Seconds after which no new attempt starts: deadlocks cost milliseconds, but a lock wait
#: timeout costs the whole wait (5 s on MySQL), and twelve of those would outlast gunicorn's
#: 30 s worker timeout. The caller gets the conflict (a 503 "busy") instead of a killed worker.
TIME_BUDGET_S = 15.0


def transactionally(
    new_uow: Callable[[], U],
    work: Callable[[U], T],
    *,
    attempts: int = ATTEMPTS,
    budget: float = TIME_BUDGET_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``work`` in a fresh unit of work and commit; on a deadlock or lock timeout, all again
    (at most ``attempts`` times, and no new attempt once ``budget`` seconds have gone).

    ``work`` must not have effects outside the unit of work: it may run more than once.
    """
    started = clock()
    for attempt in range(1, attempts + 1):
        try:
            with new_uow() as uow:
                result = work(uow)
                uow.commit()
                return result
        except TransientConflict:
            if attempt == attempts or clock() - started >= budget:
                raise
            # Full jitter keeps the retrying clients from colliding again in lockstep.
            sleep(random.uniform(0, min(0.25, 0.002 * 2**attempt)))
    raise AssertionError("unreachable")  # pragma: no cover


def read_only(new_uow: Callable[[], U], work: Callable[[U], T]) -> T:
    """Run ``work`` in a unit of work marked ``for_reading`` and never committed: for queries.
    ``work`` must not write (on MySQL a read-only unit of work has no transaction to undo it)."""
    with new_uow().for_reading() as uow:
        return work(uow)
