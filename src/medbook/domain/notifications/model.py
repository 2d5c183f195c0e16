"""Notifications: what the system tells a user (a booking cancelled by leave, …)."""

from __future__ import annotations

import datetime as dt
import enum

from attrs import define, field

from medbook.domain.shared.actors import Role
from medbook.domain.shared.entity import Entity


class NotificationKind(enum.Enum):
    APPOINTMENT_CANCELLED_BY_LEAVE = "appointment_cancelled_by_leave"
    #: A chat message reached a recipient who was not connected (one unread notice per
    #: conversation, however many messages arrive before it is read).
    CHAT_MESSAGE = "chat_message"
    #: A patient paid an order of a home-visit service (to each admin of its hospital).
    ORDER_PAID = "order_paid"
    #: A paid order was cancelled and its money is on its way back (to the patient).
    ORDER_REFUNDED = "order_refunded"
    #: A patient signed a doctor as their family doctor (to the doctor).
    CONTRACT_SIGNED = "contract_signed"
    #: One party ended a family-doctor contract (to the other).
    CONTRACT_ENDED = "contract_ended"
    #: A doctor opened one of the patient's record shares for the first time (to the patient).
    RECORD_SHARE_OPENED = "record_share_opened"
    #: An appointment is coming: the evening before, and a while before it starts (to the patient).
    APPOINTMENT_REMINDER = "appointment_reminder"
    #: A place freed in a session the patient waits for is held for them until a deadline.
    WAITLIST_OFFER = "waitlist_offer"
    #: The patient let an offered place's hold lapse: it went to the next, and they left the list.
    WAITLIST_LAPSED = "waitlist_lapsed"
    #: The doctor took the session off: its waitlist is cleared.
    WAITLIST_CLEARED = "waitlist_cleared"
    #: The session started with no place for the patient: its waitlist is closed.
    WAITLIST_CLOSED = "waitlist_closed"


@define(slots=False, eq=False)
class Notification(Entity):
    recipient_role: Role
    recipient_id: int
    kind: NotificationKind
    title: str
    body: str
    created_at: dt.datetime
    data: dict[str, str | int | None] = field(factory=dict)
    read_at: dt.datetime | None = None
    id: int | None = None

    @property
    def read(self) -> bool:
        return self.read_at is not None

    def mark_read(self, now: dt.datetime) -> None:
        if self.read_at is None:
            self.read_at = now
