"""Chat's tables and repositories, and the conversations listing in one query.

A unique key on (patient, doctor) makes a conversation one per pair, and one on (sender role,
sender id, client id) makes a resent message the message already stored: both hold between
racing transactions and processes, not only within one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    insert,
    select,
    tuple_,
    update,
)

from medbook.adapters.sql.accounts import patients
from medbook.adapters.sql.base import Repository, insert_if_missing
from medbook.adapters.sql.directory import doctors
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.chat.model import Conversation, Message, MessageKind, Party
from medbook.domain.shared.actors import Role
from medbook.ports.chat import ConversationView, SenderKey

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Integer, nullable=False),
    Column("doctor_id", Integer, ForeignKey("doctors.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Each party's read receipt: the id of the last message they have read (0: none).
    Column("patient_read_up_to", Integer, nullable=False, default=0),
    Column("doctor_read_up_to", Integer, nullable=False, default=0),
    UniqueConstraint("patient_id", "doctor_id"),
    Index(None, "doctor_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("sender_role", value_enum(Role, "role"), nullable=False),
    Column("sender_id", Integer, nullable=False),
    Column("kind", value_enum(MessageKind, "message_kind"), nullable=False),
    Column("content", Text, nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    UniqueConstraint("sender_role", "sender_id", "client_id"),
    Index(None, "conversation_id", "id"),
)

# One row per patient and doctor who has a conversation: what ``lock_parties`` writes, so that a
# party's messages are stored one after the other and get their ids in commit order. A write,
# not only a lock (``stamp`` counts the messages): a Galera cluster certifies writes, and refuses
# the second of two messages stored for one party through two nodes at once (revision 0013).
chat_parties = Table(
    "chat_parties",
    metadata,
    Column("role", value_enum(Role, "role"), primary_key=True),
    Column("user_id", Integer, primary_key=True, autoincrement=False),
    Column("stamp", BigInteger, nullable=False, server_default="0"),
)

CONVERSATION_FIELDS = (
    "patient_id",
    "doctor_id",
    "created_at",
    "patient_read_up_to",
    "doctor_read_up_to",
)
MESSAGE_FIELDS = (
    "conversation_id",
    "sender_role",
    "sender_id",
    "kind",
    "content",
    "client_id",
    "sent_at",
)


def conversation_from_row(row: Row[Any]) -> Conversation:
    return Conversation(**{name: getattr(row, name) for name in (*CONVERSATION_FIELDS, "id")})


def conversation_to_row(conversation: Conversation) -> dict[str, Any]:
    return {name: getattr(conversation, name) for name in CONVERSATION_FIELDS}


def message_from_row(row: Row[Any], prefix: str = "") -> Message:
    return Message(**{name: getattr(row, prefix + name) for name in (*MESSAGE_FIELDS, "id")})


def message_to_row(message: Message) -> dict[str, Any]:
    return {name: getattr(message, name) for name in MESSAGE_FIELDS}


def _party_row(party: Party) -> dict[str, Any]:
    return {"role": party.role, "user_id": party.id}


def _party_is(role: Role, user_id: int) -> Any:
    c = conversations.c
    return (c.patient_id if role is Role.PATIENT else c.doctor_id) == user_id


def _read_up_to(role: Role) -> Any:
    c = conversations.c
    return c.patient_read_up_to if role is Role.PATIENT else c.doctor_read_up_to


class SqlConversations(Repository):
    def add(self, conversation: Conversation) -> Conversation:
        insert_if_missing(self.connection, conversations, conversation_to_row(conversation))
        for party in conversation.parties:
            insert_if_missing(self.connection, chat_parties, _party_row(party))
        stored = self.find(conversation.patient_id, conversation.doctor_id)
        assert stored is not None
        return stored

    def lock_parties(self, conversation: Conversation, *more: Conversation) -> None:
        # Every row in one statement: InnoDB locks them in primary-key order (a range scan of
        # the key), the same order for every sender and every batch (group commit), so two
        # transactions never wait on each other in a cycle. Written, not only locked: a
        # cluster's certification sees writes only.
        p = chat_parties.c
        keys = list({(party.role, party.id) for c in (conversation, *more) for party in c.parties})
        written = self.connection.execute(
            update(chat_parties)
            .where(tuple_(p.role, p.user_id).in_(keys))
            .values(stamp=p.stamp + 1)
        ).rowcount
        assert written == len(keys), f"chat_parties lacks a party of conversation {conversation.id}"

    def get_all(self, conversation_ids: Sequence[int]) -> dict[int, Conversation]:
        if not conversation_ids:
            return {}
        query = select(conversations).where(conversations.c.id.in_(sorted(set(conversation_ids))))
        found = (conversation_from_row(row) for row in self.connection.execute(query))
        return {c.id: c for c in found if c.id is not None}

    def get(self, conversation_id: int) -> Conversation | None:
        return self._one(conversations.c.id == conversation_id)

    def find(self, patient_id: int, doctor_id: int) -> Conversation | None:
        c = conversations.c
        return self._one(and_(c.patient_id == patient_id, c.doctor_id == doctor_id))

    def of_patient(self, patient_id: int) -> Sequence[Conversation]:
        return self._where(conversations.c.patient_id == patient_id)

    def of_doctor(self, doctor_id: int) -> Sequence[Conversation]:
        return self._where(conversations.c.doctor_id == doctor_id)

    def mark_read(self, conversation_id: int, reader: Role, up_to: int) -> bool:
        column = _read_up_to(reader)
        result = self.connection.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id, column < up_to)
            .values({column.name: up_to})
        )
        return bool(result.rowcount)

    def _one(self, condition: Any) -> Conversation | None:
        row = self.connection.execute(select(conversations).where(condition)).first()
        return conversation_from_row(row) if row else None

    def _where(self, condition: Any) -> list[Conversation]:
        query = select(conversations).where(condition).order_by(conversations.c.id)
        return [conversation_from_row(row) for row in self.connection.execute(query)]


_ADD_ALL = insert(messages).returning(
    messages.c.id,
    messages.c.sender_role,
    messages.c.sender_id,
    messages.c.client_id,
    sort_by_parameter_order=True,
)


class SqlMessages(Repository):
    def add(self, message: Message) -> Message:
        new_id = insert_if_missing(self.connection, messages, message_to_row(message))
        if new_id is not None:
            return Message(**{name: getattr(message, name) for name in MESSAGE_FIELDS}, id=new_id)
        stored = self.find(message.sender_role, message.sender_id, message.client_id)
        assert stored is not None
        return stored

    def find_all(self, keys: Sequence[SenderKey]) -> dict[SenderKey, Message]:
        if not keys:
            return {}
        m = messages.c
        wanted = tuple_(m.sender_role, m.sender_id, m.client_id).in_(list(dict.fromkeys(keys)))
        found = (
            message_from_row(row) for row in self.connection.execute(select(messages).where(wanted))
        )
        return {(f.sender_role, f.sender_id, f.client_id): f for f in found}

    def add_all(self, messages_: Sequence[Message]) -> list[Message]:
        rows = [message_to_row(message) for message in messages_]
        if not rows:
            return []
        if not self.connection.dialect.insert_executemany_returning_sort_by_parameter_order:
            # MySQL has no RETURNING: a row at a time.
            return [Message(**row, id=self._insert(messages, row)) for row in rows]
        # One statement built once, its rows sent as multi-row INSERT … RETURNING (SQLAlchemy's
        # "insertmanyvalues": MariaDB ≥ 10.5, SQLite ≥ 3.35). Each id is matched to its row by
        # the sender and client id it came back with, not only by its place.
        ids = {
            (got.sender_role, got.sender_id, got.client_id): got.id
            for got in self.connection.execute(_ADD_ALL, rows)
        }
        assert len(ids) == len(rows)
        return [
            Message(**row, id=ids[(row["sender_role"], row["sender_id"], row["client_id"])])
            for row in rows
        ]

    def find(self, sender_role: Role, sender_id: int, client_id: str) -> Message | None:
        m = messages.c
        row = self.connection.execute(
            select(messages).where(
                m.sender_role == sender_role, m.sender_id == sender_id, m.client_id == client_id
            )
        ).first()
        return message_from_row(row) if row else None

    def page(
        self, conversation_id: int, *, after: int | None, before: int | None, limit: int
    ) -> Sequence[Message]:
        m = messages.c
        query = select(messages).where(m.conversation_id == conversation_id)
        if after is not None:
            query = query.where(m.id > after)
        if before is not None:
            query = query.where(m.id < before)
        if after is not None:
            rows = list(self.connection.execute(query.order_by(m.id).limit(limit)))
        else:
            rows = list(self.connection.execute(query.order_by(m.id.desc()).limit(limit)))[::-1]
        return [message_from_row(row) for row in rows]

    def of_user(self, role: Role, user_id: int, *, after: int, limit: int) -> Sequence[Message]:
        m = messages.c
        query = (
            select(messages)
            .join(conversations, conversations.c.id == m.conversation_id)
            .where(_party_is(role, user_id), m.id > after)
            .order_by(m.id)
            .limit(limit)
        )
        return [message_from_row(row) for row in self.connection.execute(query)]

    def carries(self, role: Role, user_id: int, content: str) -> bool:
        m = messages.c
        query = (
            select(m.id)
            .join(conversations, conversations.c.id == m.conversation_id)
            .where(_party_is(role, user_id), m.kind != MessageKind.TEXT, m.content == content)
            .limit(1)
        )
        return self.connection.execute(query).first() is not None

    def unread(self, conversation: Conversation, reader: Role) -> int:
        m = messages.c
        query = select(func.count()).where(
            m.conversation_id == conversation.id,
            m.sender_role != reader,
            m.id > conversation.read_up_to(reader),
        )
        return int(self.connection.execute(query).scalar_one())


_last = messages.alias("last_message")


def _listing(role: Role, user_id: int) -> Any:
    """The party's conversations, each with both names, its newest message and the party's
    unread count: one statement (the newest message ids come from a grouped derived table of
    the party's own conversations, the unread count from a correlated subquery)."""
    c, m = conversations.c, messages.c
    newest = (
        select(m.conversation_id, func.max(m.id).label("message_id"))
        .join(conversations, c.id == m.conversation_id)
        .where(_party_is(role, user_id))
        .group_by(m.conversation_id)
        .subquery("newest")
    )
    unread = (
        select(func.count())
        .select_from(messages)
        .where(m.conversation_id == c.id, m.sender_role != role, m.id > _read_up_to(role))
        .correlate(conversations)
        .scalar_subquery()
    )
    return (
        select(
            conversations,
            patients.c.name.label("patient_name"),
            doctors.c.name.label("doctor_name"),
            *[column.label(f"last_{column.name}") for column in _last.c],
            unread.label("unread"),
        )
        .select_from(
            conversations.join(doctors, doctors.c.id == c.doctor_id)
            .outerjoin(patients, patients.c.id == c.patient_id)
            .outerjoin(newest, newest.c.conversation_id == c.id)
            .outerjoin(_last, _last.c.id == newest.c.message_id)
        )
        .where(_party_is(role, user_id))
        .order_by(func.coalesce(_last.c.id, 0).desc(), c.id.desc())
    )


class SqlConversationViews(Repository):
    def of_party(self, role: Role, user_id: int) -> Sequence[ConversationView]:
        rows = self.connection.execute(_listing(role, user_id))
        return [
            ConversationView(
                conversation_from_row(row),
                row.patient_name,
                row.doctor_name,
                message_from_row(row, "last_") if row.last_id is not None else None,
                int(row.unread),
            )
            for row in rows
        ]
