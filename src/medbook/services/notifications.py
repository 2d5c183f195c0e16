"""The caller's notifications."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from attrs import define

from medbook.domain.notifications.model import Notification
from medbook.domain.shared.actors import Actor
from medbook.domain.shared.errors import NotificationNotFound
from medbook.ports.clock import Clock
from medbook.ports.notifications import NotificationsUnitOfWork
from medbook.services.transactions import read_only, transactionally


@define
class NotificationService:
    new_uow: Callable[[], NotificationsUnitOfWork]
    clock: Clock

    def of_actor(self, actor: Actor, *, unread_only: bool = False) -> Sequence[Notification]:
        return read_only(
            self.new_uow,
            lambda uow: uow.notifications.of_recipient(
                actor.role, actor.id, unread_only=unread_only
            ),
        )

    def newest_id(self) -> int:
        """The id of the newest notification (0 when there is none)."""
        newest: int = read_only(self.new_uow, lambda uow: uow.notifications.newest_id())
        return newest

    def since(self, after: int, limit: int = 100) -> Sequence[Notification]:
        """Everyone's notifications with an id above ``after``, oldest first (the chat server's
        push feed; never exposed to a user as it is)."""
        return read_only(self.new_uow, lambda uow: uow.notifications.since(after, limit))

    def mark_read(self, actor: Actor, notification_id: int) -> Notification:
        def work(uow: NotificationsUnitOfWork) -> Notification:
            found = uow.notifications.get(notification_id)
            if found is None or (found.recipient_role, found.recipient_id) != (
                actor.role,
                actor.id,
            ):
                raise NotificationNotFound(f"no notification {notification_id}")
            found.mark_read(self.clock.now())
            uow.notifications.save(found)
            return found

        return transactionally(self.new_uow, work)
