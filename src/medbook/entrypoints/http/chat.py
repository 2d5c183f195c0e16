"""Consultation chat over HTTP: start a conversation, list them, page through their messages.

Sending, read receipts and the live delivery are the chat server's (``entrypoints/chat``, a later
slice); these calls read and start what it serves.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from attrs import field, frozen

from medbook.domain.chat.model import Message
from medbook.domain.shared.entity import MAX_ID
from medbook.entrypoints.http.api import Answer, Call, Operation, Route
from medbook.ports.chat import ConversationView
from medbook.services.chat import DEFAULT_PAGE, MAX_PAGE, MessageView

if TYPE_CHECKING:
    from medbook.bootstrap import Services

# --- commands ------------------------------------------------------------------------------------


@frozen
class NewConversation:
    doctor_id: int


# --- queries -------------------------------------------------------------------------------------


@frozen
class MessagesQuery:
    after: int | None = field(default=None, metadata={"schema": {"minimum": 0, "maximum": MAX_ID}})
    before: int | None = field(default=None, metadata={"schema": {"minimum": 1, "maximum": MAX_ID}})
    limit: int = field(
        default=DEFAULT_PAGE, metadata={"schema": {"minimum": 1, "maximum": MAX_PAGE}}
    )


# --- views ---------------------------------------------------------------------------------------


@frozen
class ConversationOut:
    id: int
    doctor_id: int
    patient_id: int


@frozen
class PartyOut:
    id: int
    name: str | None


@frozen
class MessageOut:
    id: int
    conversation_id: int
    sender_id: int
    sender_role: str
    kind: str
    content: str
    sent_at: dt.datetime
    read: bool

    @classmethod
    def of(cls, m: Message, read: bool) -> MessageOut:
        assert m.id is not None
        return cls(
            m.id,
            m.conversation_id,
            m.sender_id,
            m.sender_role.value,
            m.kind.value,
            m.content,
            m.sent_at,
            read,
        )


@frozen
class ConversationSummaryOut:
    id: int
    doctor: PartyOut
    patient: PartyOut
    last_message: MessageOut | None
    unread: int

    @classmethod
    def of(cls, view: ConversationView) -> ConversationSummaryOut:
        c, last = view.conversation, view.last_message
        assert c.id is not None
        return cls(
            c.id,
            PartyOut(c.doctor_id, view.doctor_name),
            PartyOut(c.patient_id, view.patient_name),
            MessageOut.of(last, c.is_read(last)) if last is not None else None,
            view.unread,
        )


# --- handlers ------------------------------------------------------------------------------------


def start_conversation(s: Services, c: Call[NewConversation, None]) -> ConversationOut | Answer:
    started = s.chat.start_conversation_as(c.me, c.body.doctor_id)
    conversation = started.conversation
    assert conversation.id is not None
    out = ConversationOut(conversation.id, conversation.doctor_id, conversation.patient_id)
    return out if started.created else Answer(200, out)


def conversations(s: Services, c: Call[None, None]) -> list[ConversationSummaryOut]:
    return [ConversationSummaryOut.of(v) for v in s.chat.conversations_as(c.me)]


def conversation_messages(s: Services, c: Call[None, MessagesQuery]) -> list[MessageOut]:
    q = c.query
    found: list[MessageView] = list(
        s.chat.messages_as(
            c.me, c.params["conversation_id"], after=q.after, before=q.before, limit=q.limit
        )
    )
    return [MessageOut.of(v.message, v.read) for v in found]


# --- routes --------------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/conversations",
        {
            "POST": Operation(
                start_conversation,
                "Start a conversation with a doctor (or get the one there is)",
                body=NewConversation,
                status=201,
                also=(200,),
                response=ConversationOut,
                errors=(403, 404),
                description=(
                    "201 with a new conversation, 200 with the existing one. 403 "
                    "`no_relationship` unless the patient has an appointment with the doctor "
                    "near today."
                ),
            ),
            "GET": Operation(
                conversations,
                "The caller's conversations, the most recent activity first",
                response=list[ConversationSummaryOut],
                errors=(403,),
            ),
        },
        "chat",
    ),
    Route(
        "/v1/conversations/{conversation_id:id}/messages",
        {
            "GET": Operation(
                conversation_messages,
                "A page of a conversation's messages, oldest first",
                query=MessagesQuery,
                response=list[MessageOut],
                errors=(404,),
                description=(
                    "With `after`: the first `limit` messages after that id; without: the last "
                    "`limit` messages (before `before`, when given)."
                ),
            )
        },
        "chat",
    ),
)
