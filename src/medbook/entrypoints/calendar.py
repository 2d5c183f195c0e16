"""A calendar feed (``medbook.domain.calendar.feeds.Feed``) as iCalendar (RFC 5545) bytes, written
with the ``icalendar`` package: usable without HTTP (``ical(services.calendar.feed(token),
services.calendar.host)``).

Every event has a UID stable across fetches (``<key>@<host>``), a SEQUENCE that only grows, a
STATUS (cancelled events stay, ``CANCELLED``), DTSTART and DTEND in the hospital's time zone with
its TZID (all-day events as dates), and the calendar a VTIMEZONE for each zone its events use.
"""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Event, Timezone

from medbook.domain.calendar.feeds import CalendarEvent, EventStatus, Feed
from medbook.domain.directory.model import DEFAULT_TIMEZONE

MEDIA_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//medbook//Hospital appointments//EN"
#: How long after a feed's last event its time zones' definitions reach.
ZONES_AHEAD = dt.timedelta(days=366)


def ical(feed: Feed, host: str) -> bytes:
    """The feed as an iCalendar object (``METHOD:PUBLISH``), CRLF line ends, UTF-8."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", feed.name)
    for event in feed.events:
        calendar.add_component(_event(event, host, feed.stamp))
    last = max((_day(e.end) for e in feed.events), default=feed.stamp.date())
    first = feed.since - dt.timedelta(days=1)
    calendar.add_missing_timezones(first_date=first, last_date=last + ZONES_AHEAD)
    if not feed.events:
        # RFC 5545 §3.6: a calendar holds at least one component. A new account's feed has no
        # event yet: it carries the default zone's definition, which a later event would use.
        zone = Timezone.from_tzid(DEFAULT_TIMEZONE, first_date=first, last_date=last + ZONES_AHEAD)
        calendar.add_component(zone)
    data: bytes = calendar.to_ical()
    return data


def _event(e: CalendarEvent, host: str, stamp: dt.datetime) -> Event:
    event = Event()
    event.add("uid", f"{e.key}@{host}")
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("created", e.created.astimezone(dt.UTC))
    if e.last_modified is not None:
        event.add("last-modified", e.last_modified.astimezone(dt.UTC))
    event.add("sequence", e.sequence)
    event.add("status", e.status.value)
    event.add("dtstart", e.start)
    event.add("dtend", e.end)
    event.add("summary", e.summary)
    if e.description:
        event.add("description", e.description)
    if e.location:
        event.add("location", e.location)
    if e.geo is not None:
        event.add("geo", (e.geo.lat, e.geo.lng))
    # A session takes the time it runs; a home visit's day and a cancelled event take none.
    busy = isinstance(e.start, dt.datetime) and e.status is not EventStatus.CANCELLED
    event.add("transp", "OPAQUE" if busy else "TRANSPARENT")
    return event


def _day(value: dt.datetime | dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
