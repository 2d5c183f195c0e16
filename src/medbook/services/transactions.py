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


def transactionally(
    new_uow: Callable[[], U],
    work: Callable[[U], T],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``work`` in a fresh unit of work and commit; on a deadlock or lock timeout, all again.

    ``work`` must not have effects outside the unit of work: it may run more than once.
    """
    for attempt in range(1, attempts + 1):
        try:
            with new_uow() as uow:
                result = work(uow)
                uow.commit()
                return result
        except TransientConflict:
            if attempt == attempts:
                raise
            # Full jitter keeps the retrying clients from colliding again in lockstep.
            sleep(random.uniform(0, min(0.25, 0.002 * 2**attempt)))
    raise AssertionError("unreachable")  # pragma: no cover


def read_only(new_uow: Callable[[], U], work: Callable[[U], T]) -> T:
    """Run ``work`` in a unit of work that is rolled back: for queries."""
    with new_uow() as uow:
        return work(uow)
