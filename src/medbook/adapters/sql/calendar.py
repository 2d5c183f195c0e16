"""Calendar feeds' table and repository: one row per owner (a unique key), the SHA-256 of its
token, never the token (unique too)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, Row, String, Table, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError

from medbook.adapters.sql.base import Repository
from medbook.adapters.sql.errors import is_duplicate_key
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.calendar.feeds import CalendarFeed
from medbook.domain.shared.actors import Role
from medbook.ports.transaction import TransientConflict

calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_role", value_enum(Role, "role"), nullable=False),
    Column("owner_id", Integer, nullable=False),
    # The SHA-256 of the token, never the token.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("owner_role", "owner_id"),
)


def _feed(row: Row[Any]) -> CalendarFeed:
    return CalendarFeed(row.owner_role, row.owner_id, row.token_hash, row.created_at, id=row.id)


def _owner(role: Role, owner_id: int) -> Any:
    c = calendar_feeds.c
    return (c.owner_role == role) & (c.owner_id == owner_id)


class SqlCalendarFeeds(Repository):
    def replace(self, feed: CalendarFeed) -> CalendarFeed:
        self.delete_of(feed.owner_role, feed.owner_id)
        values = {
            "owner_role": feed.owner_role,
            "owner_id": feed.owner_id,
            "token_hash": feed.token_hash,
            "created_at": feed.created_at,
        }
        try:
            feed.id = self._insert(calendar_feeds, values)
        except IntegrityError as error:
            if not is_duplicate_key(error):
                raise
            # Another transaction made the owner's feed between our delete and insert (on MySQL
            # the delete of a missing row locks nothing that stops it): run it all again.
            raise TransientConflict("the owner's feed was replaced meanwhile") from error
        return feed

    def by_hash(self, token_hash: str) -> CalendarFeed | None:
        query = select(calendar_feeds).where(calendar_feeds.c.token_hash == token_hash)
        row = self.connection.execute(query).first()
        return _feed(row) if row else None

    def of_owner(self, role: Role, owner_id: int) -> CalendarFeed | None:
        row = self.connection.execute(select(calendar_feeds).where(_owner(role, owner_id))).first()
        return _feed(row) if row else None

    def delete_of(self, role: Role, owner_id: int) -> bool:
        result = self.connection.execute(delete(calendar_feeds).where(_owner(role, owner_id)))
        return bool(result.rowcount)
