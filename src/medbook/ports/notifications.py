"""Notifications' ports: the inbox, and its unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from medbook.domain.notifications.model import Notification
from medbook.domain.shared.actors import Role
from medbook.ports.transaction import Transaction


class NotificationRepository(Protocol):
    def add(self, notification: Notification) -> Notification: ...

    def get(self, notification_id: int) -> Notification | None: ...

    def save(self, notification: Notification) -> None: ...

    def of_recipient(
        self, role: Role, recipient_id: int, *, unread_only: bool = False, limit: int = 100
    ) -> Sequence[Notification]:
        """Newest first."""
        ...

    def newest_id(self) -> int:
        """The highest id there is (0: none)."""
        ...

    def since(self, after: int, limit: int) -> Sequence[Notification]:
        """Everyone's notifications with an id above ``after``, oldest first: the chat server
        pushes them to whoever is connected."""
        ...


class NotificationsUnitOfWork(Transaction, Protocol):
    @property
    def notifications(self) -> NotificationRepository: ...
