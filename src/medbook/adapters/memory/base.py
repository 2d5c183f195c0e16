"""What every context's in-memory repositories share: a table staged by the unit of work."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medbook.adapters.memory.unit_of_work import MemoryUnitOfWork

Tables = dict[str, dict[Any, Any]]


class MemoryTable:
    """One named table of the unit of work's staged copy; entities are copied in and out."""

    def __init__(self, uow: MemoryUnitOfWork, name: str) -> None:
        self._uow = uow
        self._name = name

    @property
    def rows(self) -> dict[Any, Any]:
        return self._uow.staged[self._name]

    def _insert(self, entity: Any) -> Any:
        entity.id = self._uow.store.next_id()
        self.rows[entity.id] = copy.copy(entity)
        return entity

    def _get(self, key: Any) -> Any:
        found = self.rows.get(key)
        return copy.copy(found) if found is not None else None

    def _save(self, entity: Any) -> None:
        if entity.id not in self.rows:
            raise KeyError(f"{self._name} {entity.id} was never added")
        self.rows[entity.id] = copy.copy(entity)

    def _all(self) -> list[Any]:
        return [copy.copy(row) for row in self.rows.values()]
