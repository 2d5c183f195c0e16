"""The places ledger: where the database, not the service, guarantees that no session is
overbooked (``take`` is a conditional write that fails rather than overbook). Booking owns it; the
directory resizes it when a doctor's schedule changes."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from medbook.domain.booking.sessions import OfferedSession
from medbook.domain.shared.calendar import Period, Session


class PlacesRepository(Protocol):
    """One ledger row per session that has ever been booked: the guard against overbooking."""

    def ensure(self, session: Session, quota: int) -> None:
        """Create the session's row with ``quota`` if it does not exist yet (idempotent)."""
        ...

    def lock(self, session: Session) -> OfferedSession:
        """Read the session's row and hold it until the transaction ends (``ensure`` first)."""
        ...

    def try_lock(self, session: Session) -> OfferedSession | None:
        """As ``lock``, but None when the session has no row yet (nothing is locked then)."""
        ...

    def take(self, session: Session) -> int | None:
        """Take one place if one is left: the new queue number, or None when the session is full.

        One conditional write (``booked + held < quota``): never more places than the quota, and
        never a place held for a waitlist offer. Queue numbers are never handed out twice, even
        after cancellations (a counter of its own).
        """
        ...

    def offer(self, session: Session) -> bool:
        """Hold a free place for a waiting patient's offer: one fewer waiting, one more held.
        One conditional write (a place free, someone waiting): False, and nothing changes, when
        there is none."""
        ...

    def withdraw(self, session: Session, count: int = 1) -> None:
        """Let ``count`` held places go (an offer booked, lapsed, left or cleared)."""
        ...

    def queue(self, session: Session, change: int) -> None:
        """Count ``change`` more (or, negative, fewer) patients waiting for a place."""
        ...

    def release(self, session: Session, count: int = 1) -> None:
        """Give back ``count`` places (cancellation, leave)."""
        ...

    def resize(self, session: Session, quota: int) -> None:
        """Set a new quota; never below the places already booked and held."""
        ...

    def between(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> dict[tuple[dt.date, Period], OfferedSession]: ...

    def calendar(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> tuple[dict[tuple[dt.date, Period], OfferedSession], set[tuple[dt.date, Period]]]:
        """``between``, and the sessions the doctor took leave of in those dates, in one read:
        what a listing of the doctor's offered sessions needs from the store."""
        ...
