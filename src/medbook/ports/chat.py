"""Chat's ports: conversations, messages, the conversations listing, and its unit of work.

The broker that wakes the right connections of the chat server is ``ports.broker``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from attrs import frozen

from medbook.domain.chat.model import Conversation, Message
from medbook.domain.shared.actors import Role
from medbook.ports.accounts import PatientRepository
from medbook.ports.booking import AppointmentRepository
from medbook.ports.contracts import ContractRepository
from medbook.ports.directory import DirectoryReads
from medbook.ports.notifications import NotificationRepository
from medbook.ports.transaction import Transaction

#: A message's sender and client id: what makes a resend the message stored before.
SenderKey = tuple[Role, int, str]


class ConversationRepository(Protocol):
    def add(self, conversation: Conversation) -> Conversation:
        """Store a new conversation and return the stored one: when the two already have one
        (a unique key decides, also between racing transactions), that one."""
        ...

    def get(self, conversation_id: int) -> Conversation | None: ...

    def get_all(self, conversation_ids: Sequence[int]) -> dict[int, Conversation]:
        """Those of the conversations that exist, by id (one query)."""
        ...

    def find(self, patient_id: int, doctor_id: int) -> Conversation | None: ...

    def of_patient(self, patient_id: int) -> Sequence[Conversation]: ...

    def of_doctor(self, doctor_id: int) -> Sequence[Conversation]: ...

    def lock_parties(self, conversation: Conversation, *more: Conversation) -> None:
        """Hold both parties (of every conversation given) until the transaction ends, so that
        every message a party sends or receives is stored one after the other: a party's messages
        then get their ids in commit order, and ``sync``'s "every id above the last one I saw"
        misses none that commits late. All of them at once, in one order (no deadlock)."""
        ...

    def mark_read(self, conversation_id: int, reader: Role, up_to: int) -> bool:
        """Move the reader's receipt forward to ``up_to``; never back (a conditional update).
        True when it moved."""
        ...


class MessageRepository(Protocol):
    def add(self, message: Message) -> Message:
        """Store a new message and give it its id; or, when its sender already sent one with the
        same ``client_id``, return that one and store nothing (a unique key decides)."""
        ...

    def find(self, sender_role: Role, sender_id: int, client_id: str) -> Message | None:
        """The message that sender sent with that client id, if any."""
        ...

    def find_all(self, keys: Sequence[SenderKey]) -> dict[SenderKey, Message]:
        """Those of the messages (by sender role, sender id and client id) that are stored."""
        ...

    def add_all(self, messages: Sequence[Message]) -> list[Message]:
        """Store new messages (group commit) in the order given, each with its id: ideally in
        one statement. None of their client ids may be stored yet (the caller holds the
        senders' party locks and looked, ``find_all``); one that is fails the statement."""
        ...

    def page(
        self, conversation_id: int, *, after: int | None, before: int | None, limit: int
    ) -> Sequence[Message]:
        """Oldest first. With ``after``: the first ``limit`` messages after that id (before
        ``before``, if given); without: the last ``limit`` before ``before`` (or the newest)."""
        ...

    def of_user(self, role: Role, user_id: int, *, after: int, limit: int) -> Sequence[Message]:
        """The messages of every conversation of that party with an id above ``after``, by id."""
        ...

    def carries(self, role: Role, user_id: int, content: str) -> bool:
        """Whether an image or file message with that content is in one of that party's
        conversations."""
        ...

    def unread(self, conversation: Conversation, reader: Role) -> int:
        """How many messages of the other party ``reader`` has not read."""
        ...


@frozen
class ConversationView:
    """A conversation as its listing shows it: both parties' names, the last message and how
    many the viewer has not read."""

    conversation: Conversation
    patient_name: str | None
    doctor_name: str
    last_message: Message | None
    unread: int


class ConversationViews(Protocol):
    """Chat's read side: one query per listing, most recent activity first."""

    def of_party(self, role: Role, user_id: int) -> Sequence[ConversationView]: ...


class ChatUnitOfWork(DirectoryReads, Transaction, Protocol):
    """Chat's transaction: its own repositories, and the appointments and patients the
    relationship rule and the names read."""

    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def conversation_views(self) -> ConversationViews: ...
    @property
    def appointments(self) -> AppointmentRepository: ...
    @property
    def patients(self) -> PatientRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
    @property
    def contracts(self) -> ContractRepository: ...
