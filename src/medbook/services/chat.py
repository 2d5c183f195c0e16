"""Consultation chat's use cases: start a conversation, list them, read and send messages, read
receipts and the catch-up after a reconnect (``sync``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from attrs import Factory, define, frozen

from medbook.domain.booking.appointments import AppointmentStatus
from medbook.domain.chat.model import Conversation, Message, MessageKind, Party, ensure_party
from medbook.domain.chat.rules import (
    ChatPolicy,
    Encounter,
    Link,
    compose,
    ensure_content,
    ensure_relationship,
    ensure_same_message,
)
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.entity import MAX_ID
from medbook.domain.shared.errors import DomainError, InvalidValue
from medbook.ports.chat import ChatUnitOfWork, ConversationView, SenderKey
from medbook.ports.clock import Clock
from medbook.services.authorization import require_role
from medbook.services.contracts import ContractCheck
from medbook.services.directory import doctor_of, doctor_tz
from medbook.services.transactions import read_only, transactionally

#: The most messages one page (or one sync) returns.
MAX_PAGE = 100
DEFAULT_PAGE = 50

#: One way a patient and a doctor may be linked: the link, or None. Runs inside the transaction
#: that starts the conversation; the contracts and orders contexts add their own.
RelationshipCheck = Callable[[ChatUnitOfWork, int, int, dt.datetime], Link | None]


@frozen
class Started:
    conversation: Conversation
    created: bool


@frozen
class MessageView:
    """A message and whether its recipient has read it."""

    message: Message
    read: bool


@frozen
class Receipt:
    """A read receipt as stored: up to which message, and whether it moved (parties hear of it
    only then)."""

    conversation: Conversation
    up_to: int
    moved: bool


@frozen
class Sent:
    """What ``send_as`` stored, to whom it goes, and whether it is new (False: a resend of a
    ``client_id`` its sender used before, which stored nothing)."""

    message: Message
    read: bool
    recipient: Party
    new: bool


@frozen
class Outgoing:
    """One message to store: what ``send_as`` takes."""

    actor: Actor
    conversation_id: int
    client_id: str
    kind: MessageKind
    content: str


@frozen
class AppointmentCheck:
    """Linked by a standing appointment near today (in the doctor's hospital's time zone)."""

    policy: ChatPolicy

    def __call__(
        self, uow: ChatUnitOfWork, patient_id: int, doctor_id: int, now: dt.datetime
    ) -> Link | None:
        today = now.astimezone(doctor_tz(uow, doctor_of(uow, doctor_id))).date()
        encounters = [
            Encounter(a.date, a.status in (AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED))
            for a in uow.appointments.of_patient(patient_id)
            if a.doctor_id == doctor_id
        ]
        return Link.APPOINTMENT if self.policy.appointment_links(encounters, today) else None


def _default_checks(service: ChatService) -> tuple[RelationshipCheck, ...]:
    return (AppointmentCheck(service.policy), ContractCheck())


#: An image or file message's URL as an attachment of the sender's: the path of an upload of
#: theirs, or ``InvalidValue`` (``UploadService.attachment_of``).
AttachmentCheck = Callable[[Actor, str], str]


@define
class ChatService:
    new_uow: Callable[[], ChatUnitOfWork]
    clock: Clock
    policy: ChatPolicy = Factory(ChatPolicy)
    checks: tuple[RelationshipCheck, ...] = Factory(_default_checks, takes_self=True)
    #: None: any URL of the right form is taken (a library user without uploads).
    attachments: AttachmentCheck | None = None

    def start_conversation_as(self, actor: Actor, doctor_id: int) -> Started:
        """The patient's conversation with the doctor: the existing one, or a new one when
        something links them (``ensure_relationship``)."""
        require_role(actor, Role.PATIENT)

        def work(uow: ChatUnitOfWork) -> Started:
            doctor_of(uow, doctor_id)
            found = uow.conversations.find(actor.id, doctor_id)
            if found is not None:
                return Started(found, created=False)
            now = self.clock.now()
            ensure_relationship(check(uow, actor.id, doctor_id, now) for check in self.checks)
            stored = uow.conversations.add(Conversation.start(actor.id, doctor_id, now))
            return Started(stored, created=True)

        return transactionally(self.new_uow, work)

    def conversations_as(self, actor: Actor) -> Sequence[ConversationView]:
        require_role(actor, Role.PATIENT, Role.DOCTOR)
        return read_only(
            self.new_uow, lambda uow: uow.conversation_views.of_party(actor.role, actor.id)
        )

    def messages_as(
        self,
        actor: Actor,
        conversation_id: int,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Sequence[MessageView]:
        """A page of the conversation, oldest first (see ``MessageRepository.page``)."""
        _ensure_cursor("after", after, 0)
        _ensure_cursor("before", before, 1)
        _ensure_limit(limit)

        def work(uow: ChatUnitOfWork) -> Sequence[MessageView]:
            conversation = self._party_to(uow, actor, conversation_id)
            found = uow.messages.page(conversation_id, after=after, before=before, limit=limit)
            return [MessageView(m, conversation.is_read(m)) for m in found]

        return read_only(self.new_uow, work)

    def send_as(
        self, actor: Actor, conversation_id: int, client_id: str, kind: MessageKind, content: str
    ) -> Sent:
        """Store the message (or, for a client_id the sender used before, find the stored one).
        An image or a file must be an upload of the sender's; it is stored as its path, which
        serves it to the two parties only (``shares_attachment``)."""
        if kind is not MessageKind.TEXT and self.attachments is not None:
            content = self.attachments(actor, ensure_content(kind, content))

        def work(uow: ChatUnitOfWork) -> Sent:
            conversation = self._party_to(uow, actor, conversation_id)
            now = self.clock.now()
            message = compose(conversation, actor, client_id, kind, content, now)
            # Under the parties' locks no other message of the sender is being stored, so
            # looking for the client id first is safe; the unique key backs it all the same.
            uow.conversations.lock_parties(conversation)
            found = uow.messages.find(actor.role, actor.id, message.client_id)
            if found is not None:
                ensure_same_message(found, message)
            stored = found if found is not None else uow.messages.add(message)
            recipient = conversation.other_party(actor.role)
            return Sent(stored, conversation.is_read(stored), recipient, new=found is None)

        return transactionally(self.new_uow, work)

    def send_all(self, outgoing: Sequence[Outgoing]) -> list[Sent | Exception]:
        """Group commit: store several messages in one transaction, each as ``send_as`` would,
        and answer each with its ``Sent`` or the error ``send_as`` would have raised for it.

        Every rule is checked per message, before anything of that message is written: one
        message refused (not a party, bad content, a client id reused) leaves the others in the
        batch alone. The parties of every conversation in the batch are locked at once (one
        statement, one lock order), so each party's messages still get their ids in commit
        order; within the batch, messages are stored in the order given. Should the batch's
        transaction fail for another reason, each message is stored on its own (``send_as``)
        instead, so that one message's failure is only its own. Nothing here is acknowledged:
        the caller does that once this returns, i.e. after the commit."""
        results: list[Sent | Exception | None] = [None] * len(outgoing)
        contents: list[str] = []
        for n, one in enumerate(outgoing):
            try:
                contents.append(self._attachment(one.actor, one.kind, one.content))
            except DomainError as error:
                results[n] = error
                contents.append(one.content)

        def work(uow: ChatUnitOfWork) -> list[Sent | Exception | None]:
            answers = list(results)  # afresh on every attempt
            by_id = uow.conversations.get_all([o.conversation_id for o in outgoing])
            now = self.clock.now()
            composed: list[tuple[int, Conversation, Message]] = []
            for n, one in enumerate(outgoing):
                if answers[n] is not None:
                    continue
                try:
                    actor = one.actor
                    conversation = ensure_party(
                        by_id.get(one.conversation_id), actor, one.conversation_id
                    )
                    message = compose(
                        conversation, actor, one.client_id, one.kind, contents[n], now
                    )
                except DomainError as error:
                    answers[n] = error
                    continue
                composed.append((n, conversation, message))
            if not composed:
                return answers
            locked = {id(c): c for _, c, _ in composed}
            uow.conversations.lock_parties(*locked.values())
            # Under the parties' locks no other message of these senders is being stored, so
            # looking for the client ids first is safe; the unique key backs it all the same.
            keys = [_key(message) for _, _, message in composed]
            stored = uow.messages.find_all(keys)
            new: dict[SenderKey, Message] = {}  # first sent in this batch, in the order given
            for _, _, message in composed:
                key = _key(message)
                if key not in stored and key not in new:
                    new[key] = message
            for message in uow.messages.add_all(list(new.values())):
                stored[_key(message)] = message
            firsts: set[SenderKey] = set()
            for n, conversation, message in composed:
                key = _key(message)
                found = stored[key]
                is_new = key in new and key not in firsts
                firsts.add(key)
                if not is_new:
                    try:
                        ensure_same_message(found, message)
                    except DomainError as error:
                        answers[n] = error
                        continue
                recipient = conversation.other_party(message.sender_role)
                answers[n] = Sent(found, conversation.is_read(found), recipient, new=is_new)
            return answers

        try:
            answered = transactionally(self.new_uow, work)
        except Exception:  # noqa: BLE001 - each message then fails (or not) on its own
            return [self._send_alone(one) for one in outgoing]
        return [a if a is not None else AssertionError("unanswered") for a in answered]

    def _send_alone(self, one: Outgoing) -> Sent | Exception:
        try:
            return self.send_as(
                one.actor, one.conversation_id, one.client_id, one.kind, one.content
            )
        except Exception as error:  # noqa: BLE001 - the sender's frame gets it, as from send_as
            return error

    def _attachment(self, actor: Actor, kind: MessageKind, content: str) -> str:
        if kind is not MessageKind.TEXT and self.attachments is not None:
            return self.attachments(actor, ensure_content(kind, content))
        return content

    def notify_absent(self, message: Message) -> Notification | None:
        """The recipient of ``message`` is not connected: leave them an inbox notification,
        unless one about this conversation is still unread (one notice, however many messages).
        The notice names the sender, never what they wrote (it may show on a locked screen)."""

        def work(uow: ChatUnitOfWork) -> Notification | None:
            conversation = uow.conversations.get(message.conversation_id)
            assert conversation is not None and conversation.id is not None
            recipient = conversation.other_party(message.sender_role)
            unread = uow.notifications.of_recipient(recipient.role, recipient.id, unread_only=True)
            if any(
                n.kind is NotificationKind.CHAT_MESSAGE
                and n.data.get("conversation_id") == conversation.id
                for n in unread
            ):
                return None
            notice = Notification(
                recipient.role,
                recipient.id,
                NotificationKind.CHAT_MESSAGE,
                f"New message from {self._name_of(uow, conversation, message.sender_role)}",
                "Open the conversation to read it.",
                self.clock.now(),
                {"conversation_id": conversation.id, "message_id": message.id},
            )
            return uow.notifications.add(notice)

        return transactionally(self.new_uow, work)

    def shares_attachment(self, actor: Actor, path: str) -> bool:
        """Whether an image or file message in one of the actor's conversations carries the
        upload at ``path``: then the actor may fetch it (an ``UploadGrant``)."""
        if actor.role not in (Role.PATIENT, Role.DOCTOR):
            return False
        found: bool = read_only(
            self.new_uow, lambda uow: uow.messages.carries(actor.role, actor.id, path)
        )
        return found

    def counterparts_of(self, actor: Actor) -> Sequence[Party]:
        """The other party of each of the actor's conversations: who sees their presence."""
        require_role(actor, Role.PATIENT, Role.DOCTOR)

        def work(uow: ChatUnitOfWork) -> Sequence[Party]:
            return [c.other_party(actor.role) for c in self._conversations_of(uow, actor)]

        return read_only(self.new_uow, work)

    def read_as(self, actor: Actor, conversation_id: int, up_to: int) -> Receipt:
        """The actor has read every message of the conversation up to ``up_to`` — at most up
        to its newest message: a receipt beyond it would mark messages not yet sent as read."""
        _ensure_cursor("up_to", up_to, 0)

        def work(uow: ChatUnitOfWork) -> Receipt:
            conversation = self._party_to(uow, actor, conversation_id)
            newest = uow.messages.page(conversation_id, after=None, before=None, limit=1)
            reached = min(up_to, newest[-1].id or 0) if newest else 0
            moved = uow.conversations.mark_read(conversation_id, actor.role, reached)
            return Receipt(conversation, reached, moved)

        return transactionally(self.new_uow, work)

    def unread_as(self, actor: Actor, conversation_id: int) -> int:
        def work(uow: ChatUnitOfWork) -> int:
            conversation = self._party_to(uow, actor, conversation_id)
            return uow.messages.unread(conversation, actor.role)

        return read_only(self.new_uow, work)

    def sync_as(self, actor: Actor, after: int, limit: int = MAX_PAGE) -> Sequence[MessageView]:
        """Every message of the actor's conversations with an id above ``after``, by id (at most
        ``limit``: a client asks again from the last id it got)."""
        require_role(actor, Role.PATIENT, Role.DOCTOR)
        _ensure_cursor("after", after, 0)
        _ensure_limit(limit)

        def work(uow: ChatUnitOfWork) -> Sequence[MessageView]:
            found = uow.messages.of_user(actor.role, actor.id, after=after, limit=limit)
            by_id = {c.id: c for c in self._conversations_of(uow, actor)}
            return [MessageView(m, by_id[m.conversation_id].is_read(m)) for m in found]

        return read_only(self.new_uow, work)

    def _party_to(self, uow: ChatUnitOfWork, actor: Actor, conversation_id: int) -> Conversation:
        return ensure_party(uow.conversations.get(conversation_id), actor, conversation_id)

    @staticmethod
    def _conversations_of(uow: ChatUnitOfWork, actor: Actor) -> Sequence[Conversation]:
        if actor.role is Role.PATIENT:
            return uow.conversations.of_patient(actor.id)
        return uow.conversations.of_doctor(actor.id)

    @staticmethod
    def _name_of(uow: ChatUnitOfWork, conversation: Conversation, role: Role) -> str:
        if role is Role.DOCTOR:
            return f"Dr. {doctor_of(uow, conversation.doctor_id).name}"
        patient = uow.patients.get(conversation.patient_id)
        return patient.name if patient is not None and patient.name else "your patient"


def _key(message: Message) -> SenderKey:
    return (message.sender_role, message.sender_id, message.client_id)


def _ensure_cursor(name: str, value: int | None, lowest: int) -> None:
    if value is not None and not lowest <= value <= MAX_ID:
        raise InvalidValue(name, f"must be a message id from {lowest} to {MAX_ID}")


def _ensure_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidValue("limit", f"must be from 1 to {MAX_PAGE}")
