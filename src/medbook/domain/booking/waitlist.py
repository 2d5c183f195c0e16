"""The waitlist of a full session: patients wait in the order they joined; when a place frees, the
first waiting patient is offered it with a hold, during which the place counts as taken, and
either books it (accept) or lets it go (the hold lapses, or they leave), and the next is offered.

An entry's life::

    waiting ──offer──▶ offered ──accept──▶ booked
       │                  │ ──lapse───▶ lapsed
       ├──leave───────────┤ ──leave───▶ left
       ├──clear (leave)───┤ ──clear───▶ cleared      (the doctor took the session off)
       └──close───────────┘ ──close───▶ closed       (the session started with no place for them)

Only a waiting or offered entry is active: it holds the patient's one place in the session's
queue, and counts towards their waitlists of that day. The places ledger keeps, per session, how
many entries wait and how many offers are held (``ports.booking_ledger``): an offer's place counts
in the session's places until it is booked or let go, so nobody else can take it.
"""

from __future__ import annotations

import datetime as dt
import enum

from attrs import define

from medbook.domain.shared.calendar import Period, Session
from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import InvalidTransition, InvalidValue

#: How long an offered place is held for the patient, unless the hospital's setting says otherwise.
DEFAULT_HOLD = dt.timedelta(minutes=15)


class WaitlistStatus(enum.Enum):
    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    LAPSED = "lapsed"
    LEFT = "left"
    CLEARED = "cleared"
    CLOSED = "closed"


ACTIVE = frozenset({WaitlistStatus.WAITING, WaitlistStatus.OFFERED})


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(name, "must be timezone-aware")
    return value


@define(slots=False, eq=False)
class WaitlistEntry(Entity):
    """One patient waiting for a place in one session of a doctor."""

    patient_id: int
    doctor_id: int
    date: dt.date
    period: Period
    joined_at: dt.datetime
    status: WaitlistStatus = WaitlistStatus.WAITING
    offered_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    appointment_id: int | None = None
    id: int | None = None

    @classmethod
    def join(cls, session: Session, patient_id: int, now: dt.datetime) -> WaitlistEntry:
        return cls(
            patient_id, session.doctor_id, session.date, session.period, _aware(now, "joined_at")
        )

    @property
    def session(self) -> Session:
        return Session(self.doctor_id, self.date, self.period)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def offer_open(self, now: dt.datetime) -> bool:
        """An offer the patient may still accept: offered, and its hold not over."""
        return (
            self.status is WaitlistStatus.OFFERED
            and self.expires_at is not None
            and _aware(now, "now") < self.expires_at
        )

    def offer_lapsed(self, now: dt.datetime) -> bool:
        """An offer whose hold is over: to be let go, and the place offered to the next."""
        return (
            self.status is WaitlistStatus.OFFERED
            and self.expires_at is not None
            and _aware(now, "now") >= self.expires_at
        )

    def offer(self, now: dt.datetime, until: dt.datetime) -> None:
        self._expect(WaitlistStatus.WAITING, to=WaitlistStatus.OFFERED)
        if _aware(until, "expires_at") <= _aware(now, "offered_at"):
            raise InvalidValue("expires_at", "an offer is held for a while after it is made")
        self.status, self.offered_at, self.expires_at = WaitlistStatus.OFFERED, now, until

    def book(self, appointment_id: int, now: dt.datetime) -> None:
        self._expect(WaitlistStatus.OFFERED, to=WaitlistStatus.BOOKED)
        self.status, self.appointment_id, self.ended_at = WaitlistStatus.BOOKED, appointment_id, now

    def lapse(self, now: dt.datetime) -> None:
        self._expect(WaitlistStatus.OFFERED, to=WaitlistStatus.LAPSED)
        self._end(WaitlistStatus.LAPSED, now)

    def leave(self, now: dt.datetime) -> None:
        self._end_active(WaitlistStatus.LEFT, now)

    def clear(self, now: dt.datetime) -> None:
        self._end_active(WaitlistStatus.CLEARED, now)

    def close(self, now: dt.datetime) -> None:
        self._end_active(WaitlistStatus.CLOSED, now)

    def _end_active(self, status: WaitlistStatus, now: dt.datetime) -> None:
        if not self.active:
            raise InvalidTransition(
                f"a waitlist entry that is {self.status.value} cannot become {status.value}"
            )
        self._end(status, now)

    def _end(self, status: WaitlistStatus, now: dt.datetime) -> None:
        self.status, self.ended_at = status, _aware(now, "ended_at")

    def _expect(self, current: WaitlistStatus, *, to: WaitlistStatus) -> None:
        if self.status is not current:
            raise InvalidTransition(
                f"a waitlist entry that is {self.status.value} cannot become {to.value}"
            )


def hold_until(now: dt.datetime, hold: dt.timedelta, session_start: dt.datetime) -> dt.datetime:
    """When an offer made ``now`` lapses: ``hold`` later, or at the session's start if that comes
    first (a session closes for booking at its start)."""
    return min(_aware(now, "now") + hold, _aware(session_start, "session_start"))


def free_places(quota: int, booked: int, held: int) -> int:
    """The places of a session nobody holds: not booked, and not held for an offer."""
    return max(0, quota - booked - held)


__all__ = [
    "ACTIVE",
    "DEFAULT_HOLD",
    "WaitlistEntry",
    "WaitlistStatus",
    "free_places",
    "hold_until",
]
