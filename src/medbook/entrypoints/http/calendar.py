"""Calendar feeds over HTTP: a patient or doctor makes (or remakes) their secret feed URL and
revokes it; a calendar app fetches the feed at that URL, without logging in."""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING

from attrs import frozen

from medbook.domain.calendar.feeds import TOKEN_PATTERN
from medbook.entrypoints.calendar import MEDIA_TYPE, ical
from medbook.entrypoints.http.api import Call, FileAnswer, Operation, Route

if TYPE_CHECKING:
    from medbook.bootstrap import Services


@frozen
class FeedOut:
    """The feed's URL holds its token, which exists in clear only in this answer: medbook keeps
    its hash. Relative unless the server knows its public URL (``MEDBOOK_PUBLIC_URL``)."""

    url: str
    created_at: dt.datetime


def create_feed(s: Services, c: Call[None, None]) -> FeedOut:
    made = s.calendar.create_feed_as(c.me)
    return FeedOut(made.url, made.feed.created_at)


def revoke_feed(s: Services, c: Call[None, None]) -> None:
    s.calendar.revoke_feed_as(c.me)


def feed(s: Services, c: Call[None, None]) -> FileAnswer:
    data = ical(s.calendar.feed(c.params["token"]), s.calendar.host)
    return FileAnswer(MEDIA_TYPE, len(data), io.BytesIO(data))


ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/me/calendar-feed",
        {
            "POST": Operation(
                create_feed,
                "A patient or doctor makes a secret calendar feed URL (the old one stops working)",
                status=201,
                response=FeedOut,
                errors=(403,),
                description="The `url` holds a token of 256 random bits and is shown once: "
                "medbook keeps only its hash. Subscribe to it in a calendar app (iCalendar, "
                "RFC 5545). One feed per account: asking again makes a new URL and the old one "
                "answers 404 from then on. A doctor's feed names no patient.",
            ),
            "DELETE": Operation(
                revoke_feed,
                "Revoke the caller's calendar feed: its URL answers 404 from now on",
                status=204,
                errors=(403,),
            ),
        },
        "calendar",
    ),
    Route(
        "/v1/calendar-feeds/{token}",
        {
            "GET": Operation(
                feed,
                "A calendar feed (iCalendar), for whoever holds its URL",
                auth=False,
                download=True,
                media_type="text/calendar",
                errors=(404,),
                description="The owner's appointments (a patient's also their home-visit "
                "orders) from 90 days ago on: stable UIDs, SEQUENCE raised on each change, "
                "cancelled events kept as STATUS:CANCELLED, times in the hospital's time zone "
                "with its VTIMEZONE. An unknown, revoked or replaced token is the same 404.",
            )
        },
        "calendar",
        patterns={"token": f"^{TOKEN_PATTERN}$"},
    ),
)
