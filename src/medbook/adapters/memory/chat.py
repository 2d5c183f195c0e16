"""Chat in memory: conversations, messages and the conversations listing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.chat.model import Conversation, Message, MessageKind
from medbook.domain.shared.actors import Role
from medbook.ports.chat import ConversationView, SenderKey

if TYPE_CHECKING:
    from medbook.adapters.memory.unit_of_work import MemoryUnitOfWork

TABLES = ("conversations", "messages")


class MemoryConversations(MemoryTable):
    def add(self, conversation: Conversation) -> Conversation:
        found = self.find(conversation.patient_id, conversation.doctor_id)
        return found if found is not None else self._insert(conversation)

    def get(self, conversation_id: int) -> Conversation | None:
        return self._get(conversation_id)  # type: ignore[no-any-return]

    def get_all(self, conversation_ids: Sequence[int]) -> dict[int, Conversation]:
        found = (self.get(i) for i in conversation_ids)
        return {c.id: c for c in found if c is not None and c.id is not None}

    def find(self, patient_id: int, doctor_id: int) -> Conversation | None:
        return next(
            (c for c in self._all() if (c.patient_id, c.doctor_id) == (patient_id, doctor_id)),
            None,
        )

    def of_patient(self, patient_id: int) -> Sequence[Conversation]:
        return sorted((c for c in self._all() if c.patient_id == patient_id), key=lambda c: c.id)

    def of_doctor(self, doctor_id: int) -> Sequence[Conversation]:
        return sorted((c for c in self._all() if c.doctor_id == doctor_id), key=lambda c: c.id)

    def lock_parties(self, conversation: Conversation, *more: Conversation) -> None:
        """Nothing to do: the store runs one transaction at a time."""

    def mark_read(self, conversation_id: int, reader: Role, up_to: int) -> bool:
        conversation = self.get(conversation_id)
        if conversation is None or conversation.read_up_to(reader) >= up_to:
            return False
        if reader is Role.PATIENT:
            conversation.patient_read_up_to = max(conversation.patient_read_up_to, up_to)
        else:
            conversation.doctor_read_up_to = max(conversation.doctor_read_up_to, up_to)
        self._save(conversation)
        return True


class MemoryMessages(MemoryTable):
    def add(self, message: Message) -> Message:
        found = self.find(message.sender_role, message.sender_id, message.client_id)
        return found if found is not None else self._insert(message)

    def find_all(self, keys: Sequence[SenderKey]) -> dict[SenderKey, Message]:
        wanted = set(keys)
        return {
            key: m
            for m in self._all()
            if (key := (m.sender_role, m.sender_id, m.client_id)) in wanted
        }

    def add_all(self, messages: Sequence[Message]) -> list[Message]:
        stored = []
        for message in messages:
            found = self.find(message.sender_role, message.sender_id, message.client_id)
            assert found is None, f"client id {message.client_id!r} is stored already"
            stored.append(self._insert(message))
        return stored

    def find(self, sender_role: Role, sender_id: int, client_id: str) -> Message | None:
        key = (sender_role, sender_id, client_id)
        return next(
            (m for m in self._all() if (m.sender_role, m.sender_id, m.client_id) == key), None
        )

    def page(
        self, conversation_id: int, *, after: int | None, before: int | None, limit: int
    ) -> Sequence[Message]:
        found = sorted(
            (
                m
                for m in self._all()
                if m.conversation_id == conversation_id
                and (after is None or m.id > after)
                and (before is None or m.id < before)
            ),
            key=lambda m: m.id,
        )
        return found[:limit] if after is not None else found[-limit:]

    def of_user(self, role: Role, user_id: int, *, after: int, limit: int) -> Sequence[Message]:
        mine = self._conversations_of(role, user_id)
        found = [m for m in self._all() if m.conversation_id in mine and m.id > after]
        return sorted(found, key=lambda m: m.id)[:limit]

    def carries(self, role: Role, user_id: int, content: str) -> bool:
        mine = self._conversations_of(role, user_id)
        return any(
            m.conversation_id in mine and m.kind is not MessageKind.TEXT and m.content == content
            for m in self._all()
        )

    def _conversations_of(self, role: Role, user_id: int) -> set[int | None]:
        conversations = self._uow.conversations
        found = (
            conversations.of_patient(user_id)
            if role is Role.PATIENT
            else conversations.of_doctor(user_id)
        )
        return {c.id for c in found}

    def unread(self, conversation: Conversation, reader: Role) -> int:
        up_to = conversation.read_up_to(reader)
        return sum(
            1
            for m in self._all()
            if m.conversation_id == conversation.id and m.sender_role is not reader and m.id > up_to
        )

    def last(self, conversation_id: int) -> Message | None:
        found = self.page(conversation_id, after=None, before=None, limit=1)
        return found[-1] if found else None


class MemoryConversationViews:
    """The listing the SQL join gives, from the staged tables."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def of_party(self, role: Role, user_id: int) -> Sequence[ConversationView]:
        uow = self._uow
        mine = (
            uow.conversations.of_patient(user_id)
            if role is Role.PATIENT
            else uow.conversations.of_doctor(user_id)
        )
        views = []
        for conversation in mine:
            assert conversation.id is not None
            patient = uow.patients.get(conversation.patient_id)
            doctor = uow.doctors.get(conversation.doctor_id)
            assert doctor is not None, "a conversation's doctor is never deleted"
            views.append(
                ConversationView(
                    conversation,
                    patient.name if patient else None,
                    doctor.name,
                    uow.messages.last(conversation.id),
                    uow.messages.unread(conversation, role),
                )
            )
        return sorted(views, key=_recent_first)


def _recent_first(view: ConversationView) -> tuple[int, int]:
    last = view.last_message.id if view.last_message and view.last_message.id else 0
    return (-last, -(view.conversation.id or 0))
