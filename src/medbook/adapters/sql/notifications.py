"""Notifications' table and repository: messages to a patient, doctor or admin, read or not."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Index, Integer, Row, String, Table, Text, func, select, update

from medbook.adapters.sql.base import Repository
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.shared.actors import Role

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recipient_role", value_enum(Role, "role"), nullable=False),
    Column("recipient_id", Integer, nullable=False),
    Column("kind", value_enum(NotificationKind, "notification_kind", 40), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("data", Text, nullable=False),  # JSON
    Column("created_at", UtcDateTime, nullable=False),
    Column("read_at", UtcDateTime, nullable=True),
    Index(None, "recipient_role", "recipient_id", "id"),
)

NOTIFICATION_FIELDS = (
    "recipient_role",
    "recipient_id",
    "kind",
    "title",
    "body",
    "created_at",
    "read_at",
)


def notification_from_row(row: Row[Any]) -> Notification:
    fields = {name: getattr(row, name) for name in (*NOTIFICATION_FIELDS, "id")}
    return Notification(**fields, data=json.loads(row.data))


def notification_to_row(notification: Notification) -> dict[str, Any]:
    row = {name: getattr(notification, name) for name in NOTIFICATION_FIELDS}
    row["data"] = json.dumps(notification.data, ensure_ascii=False, sort_keys=True)
    return row


class SqlNotifications(Repository):
    def add(self, notification: Notification) -> Notification:
        notification.id = self._insert(notifications, notification_to_row(notification))
        return notification

    def get(self, notification_id: int) -> Notification | None:
        row = self.connection.execute(
            select(notifications).where(notifications.c.id == notification_id)
        ).first()
        return notification_from_row(row) if row else None

    def save(self, notification: Notification) -> None:
        self.connection.execute(
            update(notifications)
            .where(notifications.c.id == notification.id)
            .values(notification_to_row(notification))
        )

    def of_recipient(
        self, role: Role, recipient_id: int, *, unread_only: bool = False, limit: int = 100
    ) -> Sequence[Notification]:
        c = notifications.c
        query = select(notifications).where(
            c.recipient_role == role, c.recipient_id == recipient_id
        )
        if unread_only:
            query = query.where(c.read_at.is_(None))
        rows = self.connection.execute(query.order_by(c.id.desc()).limit(limit))
        return [notification_from_row(row) for row in rows]

    def newest_id(self) -> int:
        newest = self.connection.execute(select(func.max(notifications.c.id))).scalar_one()
        return int(newest or 0)

    def since(self, after: int, limit: int) -> Sequence[Notification]:
        c = notifications.c
        query = select(notifications).where(c.id > after).order_by(c.id).limit(limit)
        return [notification_from_row(row) for row in self.connection.execute(query)]
