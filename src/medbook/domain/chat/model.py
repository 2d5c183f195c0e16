"""A conversation between one patient and one doctor, and the messages sent in it."""

from __future__ import annotations

import datetime as dt
import enum

from attrs import define, field, frozen

from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import ConversationNotFound


class MessageKind(enum.Enum):
    TEXT = "text"
    IMAGE = "image"  # content: the URL an upload returned
    FILE = "file"  # content: the URL an upload returned


#: The two roles that take part in a conversation.
PARTIES = (Role.PATIENT, Role.DOCTOR)


@frozen(order=True)
class Party:
    """A patient or a doctor, as chat addresses them (connections, presence, fan-out)."""

    role: Role = field(order=lambda role: role.value)
    id: int

    @classmethod
    def of(cls, actor: Actor) -> Party:
        return cls(actor.role, actor.id)


@define(slots=False, eq=False)
class Conversation(Entity):
    """Exactly two parties; each party's read receipt is the id of the last message they read."""

    patient_id: int
    doctor_id: int
    created_at: dt.datetime
    patient_read_up_to: int = 0
    doctor_read_up_to: int = 0
    id: int | None = None

    @classmethod
    def start(cls, patient_id: int, doctor_id: int, now: dt.datetime) -> Conversation:
        return cls(patient_id, doctor_id, now)

    def party_of(self, role: Role) -> int:
        """The id of the party in ``role`` (a patient or a doctor)."""
        return self.patient_id if role is Role.PATIENT else self.doctor_id

    @property
    def parties(self) -> tuple[Party, Party]:
        return Party(Role.PATIENT, self.patient_id), Party(Role.DOCTOR, self.doctor_id)

    def other_party(self, role: Role) -> Party:
        """The party that is not in ``role``: the recipient of what ``role`` sends."""
        patient, doctor = self.parties
        return doctor if role is Role.PATIENT else patient

    def is_party(self, actor: Actor) -> bool:
        return actor.role in PARTIES and self.party_of(actor.role) == actor.id

    def read_up_to(self, role: Role) -> int:
        return self.patient_read_up_to if role is Role.PATIENT else self.doctor_read_up_to

    def is_read(self, message: Message) -> bool:
        """Whether the recipient of ``message`` (the party that did not send it) has read it."""
        recipient = Role.DOCTOR if message.sender_role is Role.PATIENT else Role.PATIENT
        return message.id is not None and message.id <= self.read_up_to(recipient)


def ensure_party(
    conversation: Conversation | None, actor: Actor, conversation_id: int
) -> Conversation:
    """Only the two parties see a conversation: to anyone else it does not exist."""
    if conversation is None or not conversation.is_party(actor):
        raise ConversationNotFound(f"no conversation {conversation_id}")
    return conversation


@define(slots=False, eq=False)
class Message(Entity):
    """One message; ``client_id`` is the sender's own id for it, so that a resend is recognised."""

    conversation_id: int
    sender_role: Role
    sender_id: int
    kind: MessageKind
    content: str
    client_id: str
    sent_at: dt.datetime
    id: int | None = None
