"""Notifications in memory."""

from __future__ import annotations

from collections.abc import Sequence

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.notifications.model import Notification
from medbook.domain.shared.actors import Role

TABLES = ("notifications",)


class MemoryNotifications(MemoryTable):
    def add(self, notification: Notification) -> Notification:
        return self._insert(notification)  # type: ignore[no-any-return]

    def get(self, notification_id: int) -> Notification | None:
        return self._get(notification_id)  # type: ignore[no-any-return]

    def save(self, notification: Notification) -> None:
        self._save(notification)

    def of_recipient(
        self, role: Role, recipient_id: int, *, unread_only: bool = False, limit: int = 100
    ) -> Sequence[Notification]:
        found = [
            n
            for n in self._all()
            if n.recipient_role is role
            and n.recipient_id == recipient_id
            and not (unread_only and n.read)
        ]
        return sorted(found, key=lambda n: n.id, reverse=True)[:limit]

    def newest_id(self) -> int:
        return max((n.id for n in self._all()), default=0)

    def since(self, after: int, limit: int) -> Sequence[Notification]:
        return sorted((n for n in self._all() if n.id > after), key=lambda n: n.id)[:limit]
