"""Calendar feeds in memory."""

from __future__ import annotations

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.calendar.feeds import CalendarFeed
from medbook.domain.shared.actors import Role

TABLES = ("calendar_feeds",)


class MemoryCalendarFeeds(MemoryTable):
    def replace(self, feed: CalendarFeed) -> CalendarFeed:
        self.delete_of(feed.owner_role, feed.owner_id)
        if any(f.token_hash == feed.token_hash for f in self._all()):
            raise ValueError("a feed with that token exists")
        return self._insert(feed)  # type: ignore[no-any-return]

    def by_hash(self, token_hash: str) -> CalendarFeed | None:
        return next((f for f in self._all() if f.token_hash == token_hash), None)

    def of_owner(self, role: Role, owner_id: int) -> CalendarFeed | None:
        return next(
            (f for f in self._all() if f.owner_role is role and f.owner_id == owner_id), None
        )

    def delete_of(self, role: Role, owner_id: int) -> bool:
        found = self.of_owner(role, owner_id)
        if found is not None:
            del self.rows[found.id]
        return found is not None
