"""The waitlists of full sessions: join, leave, accept an offer, and the sweep that lapses offers.

Every change to a session's waitlist is made holding the session's places row, like every
booking and cancellation of it: a place that frees goes to the first waiting patient (an offer,
held ``BookingPolicy.waitlist_hold``) in the very transaction that frees it, so nobody else can
take it; the offer counts in the session's places (``held``) until it is booked, or let go and
offered to the next. ``settle`` is that step, run wherever a session's places or waitlist move:

- a cancellation or a patient leaving the list (a place or an offer freed);
- a booking or a join of a session whose waitlist is not empty (it first lapses the offers whose
  hold is over, and gives free places to the waiting: they come before any newcomer);
- the sweep (``WaitlistService.sweep``, run by ``medbook worker``): offers whose hold ran out,
  places freed by a raised quota, and the waitlists of sessions that have started (closed).

A doctor's leave clears the session's waitlist (``clear``), each patient told.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from attrs import define, evolve, field, frozen

from medbook.domain.booking.policy import (
    BookingPolicy,
    daily_limit_reached,
    ensure_offered,
    waitlist_limit_reached,
)
from medbook.domain.booking.sessions import OfferedSession
from medbook.domain.booking.waitlist import (
    WaitlistEntry,
    WaitlistStatus,
    free_places,
    hold_until,
)
from medbook.domain.directory.model import Doctor
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.calendar import Period, Session
from medbook.domain.shared.errors import (
    AlreadyBooked,
    DomainError,
    InvalidTransition,
    SessionNotFull,
    WaitlistEntryNotFound,
)
from medbook.ports.booking import BookingUnitOfWork
from medbook.ports.clock import Clock
from medbook.services.authorization import require_role
from medbook.services.directory import doctor_in_zone
from medbook.services.sessions import check_bookable
from medbook.services.transactions import T, read_only, transactionally

log = logging.getLogger("medbook.waitlist")

#: How many sessions one sweep transaction-by-transaction looks at, at most, per round.
SWEEP_BATCH = 200


@frozen
class Refused:
    """A refusal to raise once the transaction has committed what came before it: the waitlist's
    own moves (an offer lapsed, a place offered) stand, whatever the caller asked for."""

    error: DomainError


@frozen
class Settled:
    """What ``settle`` did to one session's waitlist, and the session's places after it."""

    places: OfferedSession
    offered: tuple[WaitlistEntry, ...] = ()
    lapsed: tuple[WaitlistEntry, ...] = ()
    closed: tuple[WaitlistEntry, ...] = ()
    cleared: tuple[WaitlistEntry, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.offered or self.lapsed or self.closed or self.cleared)


@frozen
class SweepResult:
    sessions: int
    offered: int
    lapsed: int
    closed: int
    cleared: int = 0

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(
            self.sessions + other.sessions,
            self.offered + other.offered,
            self.lapsed + other.lapsed,
            self.closed + other.closed,
            self.cleared + other.cleared,
        )


def _when(session: Session) -> str:
    return f"{session.date.isoformat()} {session.period.value}"


def _notice(
    entry: WaitlistEntry,
    doctor: Doctor,
    kind: NotificationKind,
    title: str,
    body: str,
    now: dt.datetime,
) -> Notification:
    data: dict[str, str | int | None] = {
        "waitlist_entry_id": entry.id,
        "doctor_id": entry.doctor_id,
        "date": entry.date.isoformat(),
        "period": entry.period.value,
    }
    if entry.expires_at is not None and kind is NotificationKind.WAITLIST_OFFER:
        data["expires_at"] = entry.expires_at.isoformat()
    return Notification(
        Role.PATIENT, entry.patient_id, kind, title=title, body=body, created_at=now, data=data
    )


def _end(uow: BookingUnitOfWork, entry: WaitlistEntry) -> None:
    """An entry that was active has ended: its count in the session and the patient's day go."""
    uow.daily_counts.release_waiting(entry.patient_id, entry.date)


def _fit(uow: BookingUnitOfWork, doctor: Doctor, places: OfferedSession, held: int) -> int:
    """The session's quota once ``held`` offers are held: a quota kept above the schedule's for
    the places taken when it was lowered shrinks back as they are let go (as a cancellation's
    does, ``services.booking._give_back``), so that a lapsed or left offer's place above the
    schedule goes, rather than to the next waiting patient or a newcomer."""
    scheduled = doctor.schedule.quota(places.session.date, places.session.period)
    if places.quota <= scheduled:
        return places.quota
    uow.places.resize(places.session, scheduled)
    return max(scheduled, places.booked + held)


def settle(
    uow: BookingUnitOfWork,
    policy: BookingPolicy,
    doctor: Doctor,
    places: OfferedSession,
    start: dt.datetime,
    now: dt.datetime,
) -> Settled:
    """Bring one session's waitlist up to date, holding its places row (``places``, as locked):
    a session that has started closes its waitlist, and one the schedule no longer offers clears
    it; else the offers whose hold is over lapse, and each free place is offered to the next
    waiting patient, in the order they joined."""
    session = places.session
    quota = _fit(uow, doctor, places, places.held)
    if places.waiting == 0 and places.held == 0:
        return Settled(OfferedSession(session, quota, places.booked, 0, 0))
    entries = uow.waitlist.active(session)
    held, waiting = places.held, places.waiting
    if now >= start:
        body = (
            f"The session of {doctor.name} on {_when(session)} has started, and no place came "
            "free for you: you are off its waitlist."
        )
        closed = _end_everyone(
            uow,
            places,
            entries,
            now,
            WaitlistStatus.CLOSED,
            lambda entry: _notice(
                entry, doctor, NotificationKind.WAITLIST_CLOSED, "No place came free", body, now
            ),
        )
        return Settled(OfferedSession(session, places.quota, places.booked, 0, 0), closed=closed)
    if doctor.schedule.quota(session.date, session.period) <= 0:
        cleared = _clear(uow, doctor, places, entries, now, switched_off=True)
        after = OfferedSession(session, _fit(uow, doctor, places, 0), places.booked, 0, 0)
        return Settled(after, cleared=cleared)
    lapsed = []
    for entry in entries:
        if entry.offer_lapsed(now):
            entry.lapse(now)
            uow.waitlist.save(entry)
            uow.places.withdraw(session)
            held -= 1
            _end(uow, entry)
            uow.notifications.add(
                _notice(
                    entry,
                    doctor,
                    NotificationKind.WAITLIST_LAPSED,
                    "Your held place has gone",
                    f"The place held for you with {doctor.name} on {_when(session)} was not "
                    "booked in time: it went to the next patient waiting, and you are off the "
                    "waitlist.",
                    now,
                )
            )
            lapsed.append(entry)
    if lapsed:
        quota = _fit(uow, doctor, places, held)
    offered = []
    free = free_places(quota, places.booked, held)
    until = hold_until(now, policy.waitlist_hold, start)
    for entry in entries:
        if free == 0:
            break
        if entry.status is not WaitlistStatus.WAITING:
            continue
        if not uow.places.offer(session):
            raise AssertionError(f"the places of {session} disagree with its waitlist")
        entry.offer(now, until)
        uow.waitlist.save(entry)
        held, waiting, free = held + 1, waiting - 1, free - 1
        uow.notifications.add(
            _notice(
                entry,
                doctor,
                NotificationKind.WAITLIST_OFFER,
                "A place is free for you",
                f"A place with {doctor.name} on {_when(session)} is held for you until "
                f"{until.astimezone(start.tzinfo):%Y-%m-%d %H:%M} (the hospital's time): book "
                "it before then, or it goes to the next patient waiting.",
                now,
            )
        )
        offered.append(entry)
    after = OfferedSession(session, quota, places.booked, held, waiting)
    return Settled(after, tuple(offered), tuple(lapsed))


def clear(
    uow: BookingUnitOfWork, doctor: Doctor, places: OfferedSession, now: dt.datetime
) -> tuple[WaitlistEntry, ...]:
    """The doctor took the session off: everyone on its waitlist is told, and off it."""
    if places.waiting == 0 and places.held == 0:
        return ()
    return _clear(uow, doctor, places, uow.waitlist.active(places.session), now)


def _clear(
    uow: BookingUnitOfWork,
    doctor: Doctor,
    places: OfferedSession,
    entries: Sequence[WaitlistEntry],
    now: dt.datetime,
    *,
    switched_off: bool = False,
) -> tuple[WaitlistEntry, ...]:
    """``clear`` with the session's active entries read: the doctor is on leave, or the
    schedule ``switched_off`` the session."""
    when = _when(places.session)
    why = (
        f"{doctor.name} no longer holds the session of {when}"
        if switched_off
        else f"{doctor.name} is on leave on {when}"
    )
    body = f"{why}: its waitlist is cleared. Please book another session."
    return _end_everyone(
        uow,
        places,
        entries,
        now,
        WaitlistStatus.CLEARED,
        lambda entry: _notice(
            entry,
            doctor,
            NotificationKind.WAITLIST_CLEARED,
            "The session you wait for is cancelled",
            body,
            now,
        ),
    )


def _end_everyone(
    uow: BookingUnitOfWork,
    places: OfferedSession,
    entries: Sequence[WaitlistEntry],
    now: dt.datetime,
    status: WaitlistStatus,
    notice: Callable[[WaitlistEntry], Notification],
) -> tuple[WaitlistEntry, ...]:
    """End every active entry of the session (``status``: closed or cleared), each patient told,
    and let its held offers and waiting count go."""
    end = {WaitlistStatus.CLOSED: WaitlistEntry.close, WaitlistStatus.CLEARED: WaitlistEntry.clear}
    for entry in entries:
        end[status](entry, now)
        uow.waitlist.save(entry)
        _end(uow, entry)
        uow.notifications.add(notice(entry))
    uow.places.withdraw(places.session, places.held)
    uow.places.queue(places.session, -places.waiting)
    return tuple(entries)


def unrefused(outcome: Refused | T) -> T:
    """The committed transaction's answer, or its refusal raised."""
    if isinstance(outcome, Refused):
        raise outcome.error
    return outcome


@define
class WaitlistService:
    """Joining, leaving and listing waitlists; an offer is accepted by booking it
    (``BookingService.accept_offer_as``)."""

    new_uow: Callable[[], BookingUnitOfWork]
    clock: Clock
    policy: BookingPolicy = field(factory=BookingPolicy)
    batch: int = SWEEP_BATCH

    def join(self, patient_id: int, doctor_id: int, date: dt.date, period: Period) -> WaitlistEntry:
        """Put the patient on the waitlist of a full session they hold no place in."""
        session = Session(doctor_id, date, period)

        def work(uow: BookingUnitOfWork) -> Refused | WaitlistEntry:
            doctor, tz, places = check_bookable(uow, self.policy, self.clock, session, patient_id)
            if places is None:  # never booked: not full (unless not offered at all)
                quota = doctor.schedule.quota(date, period)
                ensure_offered(session, quota, on_leave=uow.leaves.exists(session))
                return Refused(SessionNotFull(f"session {session} has places left: book one"))
            now = self.clock.now()
            start = self.policy.session_start(session, tz)
            settled = settle(uow, self.policy, doctor, places, start, now)
            if uow.appointments.held_by(patient_id, session) is not None:
                return Refused(AlreadyBooked(f"you already hold a place in session {session}"))
            if settled.places.remaining > 0:
                return Refused(
                    SessionNotFull(
                        f"session {session} has places left: book one",
                        remaining=settled.places.remaining,
                    )
                )
            if uow.daily_counts.count(patient_id, date) >= self.policy.max_active_per_day:
                # An offer they could not book would only hold the place from the next.
                return Refused(daily_limit_reached(self.policy))
            entry = uow.waitlist.add(WaitlistEntry.join(session, patient_id, now))
            uow.places.queue(session, 1)
            if not uow.daily_counts.add_waiting(patient_id, date, self.policy.max_waiting_per_day):
                raise waitlist_limit_reached(self.policy)
            return entry

        return unrefused(transactionally(self.new_uow, work))

    def leave(self, patient_id: int, entry_id: int) -> WaitlistEntry:
        """The patient leaves a waitlist (or turns an offer down): a held place goes to the next."""

        def work(uow: BookingUnitOfWork) -> WaitlistEntry:
            found = uow.waitlist.get(entry_id)
            if found is None or found.patient_id != patient_id:
                raise WaitlistEntryNotFound(f"no waitlist entry {entry_id}")
            doctor, tz = doctor_in_zone(uow, found.doctor_id, for_share=True)
            places = uow.places.lock(found.session)
            entry = uow.waitlist.get(entry_id)  # current, now that we hold the lock
            assert entry is not None
            if not entry.active:
                raise InvalidTransition(
                    f"a waitlist entry that is {entry.status.value} cannot be left"
                )
            now = self.clock.now()
            was_offered = entry.status is WaitlistStatus.OFFERED
            entry.leave(now)
            uow.waitlist.save(entry)
            _end(uow, entry)
            if was_offered:
                uow.places.withdraw(entry.session)
                places = evolve(places, held=places.held - 1)
            else:
                uow.places.queue(entry.session, -1)
                places = evolve(places, waiting=places.waiting - 1)
            start = self.policy.session_start(entry.session, tz)
            settle(uow, self.policy, doctor, places, start, now)
            return entry

        return transactionally(self.new_uow, work)

    def entries_of(self, patient_id: int, since: dt.date | None = None) -> Sequence[WaitlistEntry]:
        """The patient's waitlist entries of sessions from ``since`` on (default: yesterday, UTC,
        so every zone's today is in), chronological."""
        first = since or self.clock.now().astimezone(dt.UTC).date() - dt.timedelta(days=1)
        return read_only(self.new_uow, lambda uow: uow.waitlist.of_patient(patient_id, first))

    def entry_of(self, patient_id: int, entry_id: int) -> WaitlistEntry:
        def query(uow: BookingUnitOfWork) -> WaitlistEntry:
            found = uow.waitlist.get(entry_id)
            if found is None or found.patient_id != patient_id:
                raise WaitlistEntryNotFound(f"no waitlist entry {entry_id}")
            return found

        return read_only(self.new_uow, query)

    # --- as an authenticated actor ---------------------------------------------------------------

    def join_as(self, actor: Actor, doctor_id: int, date: dt.date, period: Period) -> WaitlistEntry:
        require_role(actor, Role.PATIENT)
        return self.join(actor.id, doctor_id, date, period)

    def leave_as(self, actor: Actor, entry_id: int) -> WaitlistEntry:
        require_role(actor, Role.PATIENT)
        return self.leave(actor.id, entry_id)

    def entries_as(self, actor: Actor) -> Sequence[WaitlistEntry]:
        require_role(actor, Role.PATIENT)
        return self.entries_of(actor.id)

    def entry_as(self, actor: Actor, entry_id: int) -> WaitlistEntry:
        require_role(actor, Role.PATIENT)
        return self.entry_of(actor.id, entry_id)

    # --- the sweep -------------------------------------------------------------------------------

    def settle_doctor(self, doctor_id: int, now: dt.datetime | None = None) -> SweepResult:
        """Settle every coming session of the doctor that has a waitlist, at once: what a new
        weekly schedule calls for (``DirectoryService.schedule_changed``), so a raised quota's
        places are offered to the waiting, and a session switched off clears its waitlist."""
        at = now or self.clock.now()

        def query(uow: BookingUnitOfWork) -> list[Session]:
            _, tz = doctor_in_zone(uow, doctor_id)
            today = at.astimezone(tz).date()
            ledger = uow.places.between(doctor_id, today, dt.date.max)
            return [p.session for p in ledger.values() if p.waiting or p.held]

        return self._settle_all(read_only(self.new_uow, query), at)

    def sweep(self, now: dt.datetime | None = None) -> SweepResult:
        """Settle every session whose waitlist needs it by ``now``: offers whose hold is over
        lapse (the place goes to the next), free places go to the waiting, and the waitlists of
        sessions that have started close. One transaction per session, holding its places row:
        several workers may sweep at once, and each offer is made once."""
        at = now or self.clock.now()
        before = at.astimezone(dt.UTC).date() - dt.timedelta(days=1)
        total = SweepResult(0, 0, 0, 0)
        for _ in range(10):  # a bound: each round settles what it found
            due = read_only(self.new_uow, lambda uow: uow.waitlist.due(at, before, self.batch))
            done = self._settle_all(due, at)
            total = total + done
            if len(due) < self.batch:
                break
        return total

    def _settle_all(self, sessions: Sequence[Session], at: dt.datetime) -> SweepResult:
        offered = lapsed = closed = cleared = 0
        for session in sessions:
            try:
                settled = self._settle_session(session, at)
            except DomainError as error:  # one session's trouble must not stop the others
                log.warning("waitlist of %s not settled: %s", session, error.message)
                continue
            if settled is not None:
                offered += len(settled.offered)
                lapsed += len(settled.lapsed)
                closed += len(settled.closed)
                cleared += len(settled.cleared)
        return SweepResult(len(sessions), offered, lapsed, closed, cleared)

    def _settle_session(self, session: Session, now: dt.datetime) -> Settled | None:
        def work(uow: BookingUnitOfWork) -> Settled | None:
            doctor, tz = doctor_in_zone(uow, session.doctor_id, for_share=True)
            places = uow.places.try_lock(session)
            if places is None:
                return None
            start = self.policy.session_start(session, tz)
            return settle(uow, self.policy, doctor, places, start, now)

        return transactionally(self.new_uow, work)


__all__ = [
    "Refused",
    "Settled",
    "SweepResult",
    "WaitlistService",
    "clear",
    "settle",
    "unrefused",
]
