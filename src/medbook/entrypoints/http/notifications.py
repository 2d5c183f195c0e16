"""Notifications over HTTP: the caller's own, and marking one read."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from attrs import frozen

from medbook.domain.notifications.model import Notification
from medbook.entrypoints.http.api import Call, Operation, Route

if TYPE_CHECKING:
    from medbook.bootstrap import Services

# --- queries -------------------------------------------------------------------------------------


@frozen
class UnreadQuery:
    unread_only: bool = False


# --- views ---------------------------------------------------------------------------------------


@frozen
class NotificationOut:
    id: int
    kind: str
    title: str
    body: str
    data: dict[str, str | int | None]
    created_at: dt.datetime
    read: bool

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        assert n.id is not None
        return cls(n.id, n.kind.value, n.title, n.body, n.data, n.created_at, n.read)


# --- handlers ------------------------------------------------------------------------------------


def notifications(s: Services, c: Call[None, UnreadQuery]) -> list[NotificationOut]:
    found = s.notifications.of_actor(c.me, unread_only=c.query.unread_only)
    return [NotificationOut.of(n) for n in found]


def read_notification(s: Services, c: Call[None, None]) -> NotificationOut:
    return NotificationOut.of(s.notifications.mark_read(c.me, c.params["notification_id"]))


# --- routes --------------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/notifications",
        {
            "GET": Operation(
                notifications,
                "The caller's notifications, newest first",
                query=UnreadQuery,
                response=list[NotificationOut],
                errors=(422,),
            )
        },
        "notifications",
    ),
    Route(
        "/v1/notifications/{notification_id:id}/read",
        {
            "POST": Operation(
                read_notification,
                "Mark a notification read",
                response=NotificationOut,
                errors=(404,),
            )
        },
        "notifications",
    ),
)
