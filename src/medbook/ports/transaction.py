"""Transactions: the one shape every context's unit of work has."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self


class TransientConflict(Exception):
    """The store gave up on this transaction (deadlock, lock wait timeout, busy): run it again."""


class Transaction(Protocol):
    """One transaction: everything done inside is committed together or not at all.

    ``with uow:`` begins it; leaving the block without ``commit()`` rolls it back. Each context's
    unit of work (``ports.<context>``) is a Transaction with the repositories that context uses.
    """

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def for_reading(self) -> Self:
        """Before ``with``: this transaction will only read (``services.transactions.read_only``).
        A store may then skip what only writers need (locks taken up front, the rollback); the
        reads must still see every transaction committed before they run."""
        ...
