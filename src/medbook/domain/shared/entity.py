"""Identity for entities: two entities are equal when they are of one type and share an id."""

from __future__ import annotations

#: Ids are positive 32-bit integers (the databases' INTEGER): anything else names no row.
MAX_ID = 2**31 - 1


def is_id(value: object) -> bool:
    """True for an int (not a bool) that can be an entity's id: 1 to ``MAX_ID``."""
    return type(value) is int and 1 <= value <= MAX_ID


def parse_id(text: str) -> int | None:
    """The id ``text`` names, written the one way ids are written (ASCII digits, no leading zero,
    no sign: ``12``, never ``012``, ``+12`` or ``١٢``); None for any other text."""
    canonical = text.isascii() and text.isdigit() and not text.startswith("0")
    if not canonical or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


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
