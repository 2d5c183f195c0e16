"""The rules of chat: who may start a conversation, and what a message may hold."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable

from attrs import frozen

from medbook.domain.chat.model import Conversation, Message, MessageKind
from medbook.domain.shared.actors import Actor
from medbook.domain.shared.errors import ClientIdReused, InvalidValue, NoRelationship
from medbook.domain.shared.text import TextRule, is_link

#: Text messages: several lines, up to 4000 characters, at least one visible.
MESSAGE_TEXT = TextRule(4000, multiline=True)
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,64}")


class Link(enum.Enum):
    """What may link a patient and a doctor so that they may talk: an appointment near today, or
    an active family-doctor contract (each context adds its check to ``ChatService.checks``)."""

    APPOINTMENT = "appointment"
    CONTRACT = "contract"


@frozen
class Encounter:
    """An appointment between the two, as far as chat cares: its day, and whether it stands
    (booked or attended; a cancelled or missed one does not)."""

    date: dt.date
    stands: bool


@frozen
class ChatPolicy:
    """``appointment_days``: an appointment links the two from that many days before its day to
    that many days after it."""

    appointment_days: int = 7

    def __attrs_post_init__(self) -> None:
        if self.appointment_days < 0:
            raise ValueError("appointment_days must not be negative")

    def appointment_links(self, encounters: Iterable[Encounter], today: dt.date) -> bool:
        """A standing appointment today, or within ``appointment_days`` before or after it."""
        window = dt.timedelta(days=self.appointment_days)
        return any(e.stands and abs(e.date - today) <= window for e in encounters)


def ensure_relationship(links: Iterable[Link | None]) -> Link:
    """A patient may start a conversation with a doctor only when something links them."""
    found = next((link for link in links if link is not None), None)
    if found is None:
        raise NoRelationship(
            "you may only message a doctor you have an appointment, contract or paid visit with"
        )
    return found


def ensure_client_id(client_id: str) -> str:
    """1 to 64 printable ASCII characters (a UUID fits)."""
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise InvalidValue("client_id", "must be 1 to 64 printable ASCII characters")
    return client_id


def ensure_same_message(stored: Message, resent: Message) -> Message:
    """A resend of a client id must be the message first sent with it: the same conversation,
    kind and content. Anything else would ack (and deliver) an older message in its place — to
    another conversation's party, even."""
    if (stored.conversation_id, stored.kind, stored.content) != (
        resent.conversation_id,
        resent.kind,
        resent.content,
    ):
        raise ClientIdReused(
            f"client id {resent.client_id!r} was used for another message: use a new one",
            field="client_id",
        )
    return stored


def ensure_content(kind: MessageKind, content: str) -> str:
    """Text goes through the text rule; an image or a file is the URL its upload returned."""
    if kind is MessageKind.TEXT:
        return MESSAGE_TEXT.check(content, "content")
    if not is_link(content):
        raise InvalidValue("content", f"an {kind.value} message carries the URL of an upload")
    return content


def compose(
    conversation: Conversation,
    sender: Actor,
    client_id: str,
    kind: MessageKind,
    content: str,
    now: dt.datetime,
) -> Message:
    """A new message of ``sender`` (a party of ``conversation``) in it."""
    assert conversation.id is not None and conversation.is_party(sender)
    return Message(
        conversation.id,
        sender.role,
        sender.id,
        kind,
        ensure_content(kind, content),
        ensure_client_id(client_id),
        now,
    )
