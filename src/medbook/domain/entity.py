"""Identity for entities: two entities are equal when they are of one type and share an id."""

from __future__ import annotations


class Entity:
    """Mixin for ``@define(slots=False, eq=False)`` classes that carry an ``id`` attribute.

    An entity with no id yet (not stored) is only equal to itself.
    """

    id: int | None

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        if self.id is None:
            return self is other
        return self.id == other.id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id)) if self.id is not None else id(self)
