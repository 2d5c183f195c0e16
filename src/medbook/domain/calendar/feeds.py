"""A calendar feed: one per patient or doctor, reached by a secret token in its URL.

The token is 256 random bits, URL-safe, and only its SHA-256 is stored, as a record share's code
is (``domain.records.shares``): a database dump subscribes no one. Creating a feed again replaces
the old one, whose URL stops working; revoking deletes it. An unknown token and a revoked one are
the same 404.

What a feed shows is a list of ``CalendarEvent`` values, as calendar-neutral as iCalendar lets
them be: an event's ``sequence`` only grows (it counts the steps of its object's lifecycle, which
only moves forward), and a cancelled one stays in the feed as ``CANCELLED``, so that calendar
apps take it out rather than keep a stale copy.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import secrets
from collections.abc import Sequence

from attrs import define, frozen

from medbook.domain.shared.actors import Role
from medbook.domain.shared.entity import Entity
from medbook.domain.shared.geo import GeoPoint

#: Random bytes in a token (256 bits; the issue asks for at least 128).
TOKEN_BYTES = 32
#: What a token looks like: URL-safe base64 of ``TOKEN_BYTES`` bytes, without padding. Being 43
#: such characters, it is taken out of log lines as a share code is (``redact_codes``).
TOKEN_PATTERN = r"[A-Za-z0-9_-]{43}"  # noqa: S105 - a shape, not a secret
_TOKEN = re.compile(TOKEN_PATTERN)
#: Who may keep a feed: those who have appointments.
OWNERS = (Role.PATIENT, Role.DOCTOR)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex (256 random bits need no salt)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def is_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


@define(slots=False, eq=False)
class CalendarFeed(Entity):
    owner_role: Role
    owner_id: int
    token_hash: str
    created_at: dt.datetime
    id: int | None = None

    @classmethod
    def create(cls, owner_role: Role, owner_id: int, token: str, now: dt.datetime) -> CalendarFeed:
        return cls(owner_role, owner_id, token_hash(token), now)


class EventStatus(enum.Enum):
    """An event's STATUS (RFC 5545, 3.8.1.11)."""

    TENTATIVE = "TENTATIVE"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


@frozen
class CalendarEvent:
    """One event of a feed.

    ``start`` and ``end`` are aware datetimes in the hospital's time zone, or dates for an
    all-day event (``end`` the day after, exclusive). ``key`` names the object the event shows
    (``appointment-12``): the same on every fetch, it makes the event's UID.
    """

    key: str
    summary: str
    description: str
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    location: str
    geo: GeoPoint | None
    status: EventStatus
    sequence: int
    created: dt.datetime
    last_modified: dt.datetime | None = None


@frozen
class Feed:
    """What a feed's URL shows: its name, the moment it was read, and its events from ``since``
    on (the past ``PAST_DAYS`` days and everything to come)."""

    name: str
    stamp: dt.datetime
    since: dt.date
    events: Sequence[CalendarEvent]


#: How far back a feed reaches.
PAST_DAYS = 90


def window_start(now: dt.datetime) -> dt.date:
    """The first date a feed read at ``now`` shows."""
    return (now.astimezone(dt.UTC) - dt.timedelta(days=PAST_DAYS)).date()
