"""Leave, and the sessions a doctor really offers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping

from attrs import frozen

from medbook.domain.shared.calendar import PERIODS, Period, Session, WeeklySchedule


@frozen
class Leave:
    """A doctor is away for one session."""

    doctor_id: int
    date: dt.date
    period: Period

    @property
    def session(self) -> Session:
        return Session(self.doctor_id, self.date, self.period)


@frozen
class OfferedSession:
    """A session's places: its quota, how many are booked, how many are held for waitlist offers
    and how many patients wait for one. What a listing offers, and what the places ledger
    (``ports.booking_ledger``) holds for every session that was ever booked."""

    session: Session
    quota: int
    booked: int
    held: int = 0
    waiting: int = 0

    @property
    def remaining(self) -> int:
        """The places anyone may book now: neither booked nor held for an offer, and none while
        patients wait (a free place goes to them first, as soon as the session is settled)."""
        return 0 if self.waiting else max(0, self.quota - self.booked - self.held)


def sessions_between(
    doctor_id: int, schedule: WeeklySchedule, start: dt.date, end: dt.date
) -> Iterator[Session]:
    """Every session from ``start`` to ``end`` (both included) the weekly schedule switches on."""
    day = start
    while day <= end:
        for period in PERIODS:
            if schedule.quota(day, period) > 0:
                yield Session(doctor_id, day, period)
        day += dt.timedelta(days=1)


def offered_between(
    doctor_id: int,
    schedule: WeeklySchedule,
    start: dt.date,
    end: dt.date,
    *,
    leaves: Collection[tuple[dt.date, Period]],
    ledger: Mapping[tuple[dt.date, Period], OfferedSession],
    is_open: Callable[[Session], bool],
) -> list[OfferedSession]:
    """What a doctor offers from ``start`` to ``end``: every session the schedule switches on,
    but those on leave and those ``is_open`` refuses (past, or beyond the window), each with its
    places: the ledger's, for a session ever booked, else the schedule's quota and none held."""
    offered = []
    for session in sessions_between(doctor_id, schedule, start, end):
        key = (session.date, session.period)
        if key in leaves or not is_open(session):
            continue
        places = ledger.get(key)
        if places is not None:
            offered.append(places)
        else:
            offered.append(OfferedSession(session, schedule.quota(session.date, session.period), 0))
    return offered
