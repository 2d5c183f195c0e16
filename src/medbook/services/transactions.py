"""Running a piece of work as one transaction, again when the store asks for it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from medbook.ports.unit_of_work import TransientConflict, UnitOfWork

T = TypeVar("T")
UnitOfWorkFactory = Callable[[], UnitOfWork]

#: How often a transaction is tried before a TransientConflict reaches the caller.
ATTEMPTS = 12


def transactionally(
    new_uow: UnitOfWorkFactory,
    work: Callable[[UnitOfWork], T],
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


def read_only(new_uow: UnitOfWorkFactory, work: Callable[[UnitOfWork], T]) -> T:
    """Run ``work`` in a unit of work that is rolled back: for queries."""
    with new_uow() as uow:
        return work(uow)
