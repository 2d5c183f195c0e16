"""A state machine that books, cancels, joins and leaves waitlists, accepts offers, sweeps, takes
leave, changes the schedule and moves the clock at random against any adapter, and checks the
waitlist's rules after every step.

Its oracle is a model of its own — the queue of each session in join order, who holds an offer
and until when, who holds a place — never the code under test: every refusal must be the one the
model predicts, every offer must go to the patient the model names, and the store must agree with
the model after every step.
"""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from collections import Counter
from collections.abc import Iterable

import attrs
from attrs import define, field
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from medbook.adapters.memory.clock import ManualClock
from medbook.domain import BookingPolicy, Period, Session, WeeklySchedule
from medbook.domain.booking.waitlist import WaitlistStatus
from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.errors import (
    AlreadyBooked,
    AlreadyOnLeave,
    AlreadyWaiting,
    AppointmentNotFound,
    DailyLimitReached,
    DomainError,
    InvalidTransition,
    NoOffer,
    NotCancellable,
    NotOffered,
    OutsideWindow,
    SessionFull,
    SessionNotFull,
    WaitlistEntryNotFound,
    WaitlistLimitReached,
)
from medbook.services import BookingService, DirectoryService
from medbook.services.transactions import UnitOfWorkFactory
from medbook.services.waitlist import WaitlistService
from medbook.testing.strategies import aware_datetimes, booking_policies

WAITLIST_TIMEZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
#: The waitlist machine's patients: more of them than places, so that sessions fill and queue.
WAITLIST_PATIENT_IDS: tuple[int, ...] = (201, 202, 203, 204, 205)
#: How long an offer is held, per example: shorter and longer than the clock's small steps.
HOLDS = st.sampled_from([dt.timedelta(minutes=n) for n in (1, 15, 45)])
_MINUTES = st.integers(1, 20).map(lambda n: dt.timedelta(minutes=n))
#: Mostly minutes (within or just past a hold), sometimes hours (towards the sessions' starts).
WAITLIST_CLOCK_STEPS = st.one_of(
    _MINUTES, _MINUTES, _MINUTES, st.integers(1, 8).map(lambda n: dt.timedelta(hours=n))
)
#: The sessions the machine uses: tomorrow's morning and afternoon, and the morning after.
SESSION_INDEX = st.integers(0, 2)
#: A new schedule's quotas: mostly small, sometimes the session switched off.
QUOTAS = st.sampled_from([0, 1, 1, 2, 2, 3])
ANY = st.integers(0, 2**16)  # an index into a list of the model's, modulo its length

_KIND = {
    NotificationKind.WAITLIST_OFFER: "offer",
    NotificationKind.WAITLIST_LAPSED: "lapsed",
    NotificationKind.WAITLIST_CLOSED: "closed",
    NotificationKind.WAITLIST_CLEARED: "cleared",
}
_ACTIVE = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


@define
class WaitingPatient:
    """A waitlist entry as the machine knows it."""

    patient_id: int
    session: Session
    status: WaitlistStatus = WaitlistStatus.WAITING
    expires_at: dt.datetime | None = None
    #: What the patient must have been told about this entry, in order.
    notices: list[str] = field(factory=list)

    @property
    def active(self) -> bool:
        return self.status in _ACTIVE


@define
class Place:
    """An appointment as the machine knows it: whether it still holds its place."""

    patient_id: int
    session: Session
    holds: bool = True


@define
class WaitlistModel:
    """What the machine has done and been told, kept apart from the store under test."""

    quotas: dict[Period, int]
    leaves: set[Session] = field(factory=set)
    places: dict[int, Place] = field(factory=dict)
    #: By id; the insertion order is the join order.
    entries: dict[int, WaitingPatient] = field(factory=dict)
    #: Per session: booked + held may never exceed this (the schedule's quota, or the places
    #: taken when it was lowered below them; a place let go above a lowered quota goes for good).
    ceilings: dict[Session, int] = field(factory=dict)

    def quota(self, session: Session) -> int:
        return self.quotas[session.period]

    def holding(self, session: Session) -> list[int]:
        return [i for i, p in self.places.items() if p.session == session and p.holds]

    def booked(self, session: Session) -> int:
        return len(self.holding(session))

    def active(self, session: Session) -> list[int]:
        return [i for i, e in self.entries.items() if e.session == session and e.active]

    def with_status(self, session: Session, status: WaitlistStatus) -> list[int]:
        return [i for i in self.active(session) if self.entries[i].status is status]

    def held(self, session: Session) -> int:
        return len(self.with_status(session, WaitlistStatus.OFFERED))

    def waiting(self, session: Session) -> int:
        return len(self.with_status(session, WaitlistStatus.WAITING))

    def free(self, session: Session) -> int:
        """Places a booking or an offer may take: the schedule's quota, less booked and held."""
        return max(0, self.quota(session) - self.booked(session) - self.held(session))

    def held_by(self, patient_id: int, session: Session) -> int | None:
        found = [i for i in self.holding(session) if self.places[i].patient_id == patient_id]
        assert len(found) <= 1, f"the model has patient {patient_id} twice in {session}"
        return found[0] if found else None

    def active_of(self, patient_id: int, session: Session) -> int | None:
        found = [i for i in self.active(session) if self.entries[i].patient_id == patient_id]
        assert len(found) <= 1, f"the model has patient {patient_id} queued twice in {session}"
        return found[0] if found else None

    def held_on(self, patient_id: int, date: dt.date) -> int:
        return sum(
            1
            for p in self.places.values()
            if (p.patient_id, p.session.date, p.holds) == (patient_id, date, True)
        )

    def waiting_on(self, patient_id: int, date: dt.date) -> int:
        return sum(
            1
            for e in self.entries.values()
            if e.patient_id == patient_id and e.session.date == date and e.active
        )

    def end(self, entry_id: int, status: WaitlistStatus, notice: str | None = None) -> None:
        entry = self.entries[entry_id]
        entry.status, entry.expires_at = status, None
        if notice:
            entry.notices.append(notice)

    def settle(
        self, session: Session, now: dt.datetime, start: dt.datetime, hold: dt.timedelta
    ) -> None:
        """The waitlist's rules, from scratch: a started session closes its list, one switched
        off in the schedule clears it; else offers whose hold is over lapse, and each free place
        is offered to the next in join order."""
        queue = self.active(session)
        if now >= start:
            for entry_id in queue:
                self.end(entry_id, WaitlistStatus.CLOSED, "closed")
            return
        if self.quota(session) <= 0:  # switched off in the schedule: nothing to wait for
            for entry_id in queue:
                self.end(entry_id, WaitlistStatus.CLEARED, "cleared")
            return
        for entry_id in queue:
            entry = self.entries[entry_id]
            if entry.status is WaitlistStatus.OFFERED:
                assert entry.expires_at is not None
                if now >= entry.expires_at:
                    self.end(entry_id, WaitlistStatus.LAPSED, "lapsed")
        free = self.free(session)
        until = min(now + hold, start)
        for entry_id in queue:
            entry = self.entries[entry_id]
            if free == 0:
                break
            if entry.status is WaitlistStatus.WAITING:
                entry.status, entry.expires_at = WaitlistStatus.OFFERED, until
                entry.notices.append("offer")
                free -= 1


@define
class Expected:
    """The model's prediction for one command: the refusal (None: it succeeds), and the model
    after it (a refusal after the waitlist's own moves commits those)."""

    refusal: type[DomainError] | None
    model: WaitlistModel
    offer: int | None = None


class WaitlistStateMachine(RuleBasedStateMachine):
    """Random bookings, cancellations, joins, leaves, acceptances, sweeps, leave, schedule changes
    and clock moves on one hospital, one doctor and three sessions with 1 to 3 places each.

    Subclass it and implement ``make_uow_factory`` (see ``BookingStateMachine``); release what
    the factory holds in ``teardown``. The clock is a ``ManualClock``: nothing sleeps.
    """

    clock: ManualClock
    policy: BookingPolicy
    directory: DirectoryService
    booking: BookingService
    waitlist: WaitlistService
    model: WaitlistModel
    doctor_id: int
    sessions: list[Session]

    def __init__(self) -> None:
        super().__init__()
        self.new_uow = self.make_uow_factory()

    def make_uow_factory(self) -> UnitOfWorkFactory:
        """A factory of units of work over a fresh, empty store: called once per example."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_uow_factory")

    # --- set-up ----------------------------------------------------------------------------------

    @initialize(
        policy=booking_policies(min_window_days=1, max_window_days=3, max_cancel_deadline_hours=2),
        hold=HOLDS,
        max_active=st.integers(1, 3),
        max_waiting=st.integers(1, 3),
        start=aware_datetimes(
            min_value=dt.datetime(2024, 1, 1),  # noqa: DTZ001
            max_value=dt.datetime(2030, 12, 31),  # noqa: DTZ001
        ),
        morning=st.integers(1, 3),
        afternoon=st.integers(1, 3),
    )
    def open_hospital(
        self,
        policy: BookingPolicy,
        hold: dt.timedelta,
        max_active: int,
        max_waiting: int,
        start: dt.datetime,
        morning: int,
        afternoon: int,
    ) -> None:
        self.clock = ManualClock(start)
        self.policy = attrs.evolve(
            policy,
            waitlist_hold=hold,
            max_active_per_day=max_active,
            max_waiting_per_day=max_waiting,
        )
        self.directory = DirectoryService(self.new_uow, self.clock)
        self.booking = BookingService(self.new_uow, self.clock, self.policy)
        self.waitlist = WaitlistService(self.new_uow, self.clock, self.policy)
        self.directory.schedule_changed.append(self.waitlist.settle_doctor)  # as bootstrap does
        hospital = self.directory.add_hospital("Ruijin Hospital", timezone=WAITLIST_TIMEZONE.key)
        assert hospital.id is not None
        department = self.directory.add_department(hospital.id, "Cardiology")
        assert department.id is not None
        doctor = self.directory.add_doctor(
            hospital.id, department.id, name="Dr Wang", phone="13800000009"
        )
        assert doctor.id is not None
        self.doctor_id = doctor.id
        self.directory.set_schedule(doctor.id, WeeklySchedule.every_day(morning, afternoon))
        self.directory.set_verified(doctor.id, True)
        tomorrow = self.clock.now().astimezone(WAITLIST_TIMEZONE).date() + dt.timedelta(days=1)
        self.sessions = [
            Session(doctor.id, tomorrow, Period.MORNING),
            Session(doctor.id, tomorrow, Period.AFTERNOON),
            Session(doctor.id, tomorrow + dt.timedelta(days=1), Period.MORNING),
        ]
        self.model = WaitlistModel({Period.MORNING: morning, Period.AFTERNOON: afternoon})
        self.model.ceilings = {s: self.model.quota(s) for s in self.sessions}

    # --- helpers ---------------------------------------------------------------------------------

    def starts_at(self, session: Session) -> dt.datetime:
        """Worked out here rather than by the policy, so that a wrong policy is caught."""
        start = self.policy.morning_start
        if session.period is Period.AFTERNOON:
            start = self.policy.afternoon_start
        return dt.datetime.combine(session.date, start, tzinfo=WAITLIST_TIMEZONE)

    def within_window(self, session: Session, now: dt.datetime) -> bool:
        today = now.astimezone(WAITLIST_TIMEZONE).date()
        last = today + dt.timedelta(days=self.policy.window_days)
        return now < self.starts_at(session) and session.date <= last

    def trial(self) -> WaitlistModel:
        return copy.deepcopy(self.model)

    def settle(self, model: WaitlistModel, session: Session, now: dt.datetime) -> None:
        model.settle(session, now, self.starts_at(session), self.policy.waitlist_hold)

    def pick(self, ids: Iterable[int], index: int) -> int | None:
        found = list(ids)
        return found[index % len(found)] if found else None

    def check(self, what: str, expected: Expected, refusal: DomainError | None) -> None:
        """The command did what the model predicted; the model moves on as predicted."""
        wanted = expected.refusal
        if refusal is None:
            assert wanted is None, f"{what}: done, but the model refuses it ({wanted.__name__})"
            event(f"{what.split()[0]}: done")
        else:
            event(f"{what.split()[0]}: {refusal.code}")
            assert wanted is not None, f"{what}: refused for no reason: {refusal!r}"
            assert isinstance(refusal, wanted), (
                f"{what}: refused with {refusal!r}, the model expected {wanted.__name__}"
            )
        self.model = expected.model

    # --- predictions -----------------------------------------------------------------------------

    def expect_booking(
        self, patient_id: int, session: Session, accepting: int | None = None
    ) -> Expected:
        now, model = self.clock.now(), self.model
        if accepting is not None and model.entries[accepting].status is not WaitlistStatus.OFFERED:
            return Expected(NoOffer, model)  # an entry not offered: refused before anything
        if not self.within_window(session, now):
            return Expected(OutsideWindow, model)
        if model.quota(session) <= 0 or session in model.leaves:
            return Expected(NotOffered, model)
        after = self.trial()
        self.settle(after, session, now)
        offer = after.active_of(patient_id, session)
        if offer is not None and after.entries[offer].status is not WaitlistStatus.OFFERED:
            offer = None
        if accepting is not None and offer != accepting:
            return Expected(NoOffer, after)
        if offer is None and after.free(session) == 0:
            if after.held_by(patient_id, session) is not None:
                return Expected(AlreadyBooked, after)
            return Expected(SessionFull, after)
        # A place taken; a refusal from here on undoes everything, the waitlist's moves too.
        if after.held_by(patient_id, session) is not None:
            return Expected(AlreadyBooked, model)
        if after.held_on(patient_id, session.date) >= self.policy.max_active_per_day:
            return Expected(DailyLimitReached, model)
        return Expected(None, after, offer)

    def expect_join(self, patient_id: int, session: Session) -> Expected:
        now, model = self.clock.now(), self.model
        if not self.within_window(session, now):
            return Expected(OutsideWindow, model)
        if model.quota(session) <= 0 or session in model.leaves:
            return Expected(NotOffered, model)
        after = self.trial()
        self.settle(after, session, now)
        if after.held_by(patient_id, session) is not None:
            return Expected(AlreadyBooked, after)
        if after.free(session) > 0:
            return Expected(SessionNotFull, after)
        if after.held_on(patient_id, session.date) >= self.policy.max_active_per_day:
            return Expected(DailyLimitReached, after)  # an offer they could never book
        if after.active_of(patient_id, session) is not None:
            return Expected(AlreadyWaiting, model)
        if after.waiting_on(patient_id, session.date) >= self.policy.max_waiting_per_day:
            return Expected(WaitlistLimitReached, model)
        return Expected(None, after)

    # --- rules -----------------------------------------------------------------------------------

    @rule(patient_id=st.sampled_from(WAITLIST_PATIENT_IDS), which=SESSION_INDEX)
    def book(self, patient_id: int, which: int) -> None:
        self.try_booking(patient_id, self.sessions[which])

    def try_booking(self, patient_id: int, session: Session, accepting: int | None = None) -> None:
        what = (
            f"{'book' if accepting is None else 'accept'} {session} by {patient_id} ({accepting})"
        )
        expected = self.expect_booking(patient_id, session, accepting)
        try:
            if accepting is None:
                appointment = self.booking.book(
                    patient_id, session.doctor_id, session.date, session.period
                )
            else:
                appointment = self.booking.accept_offer(patient_id, accepting)
        except DomainError as refusal:
            self.check(what, expected, refusal)
            return
        self.check(what, expected, None)
        assert (appointment.patient_id, appointment.session) == (patient_id, session)
        assert appointment.id is not None and appointment.id not in self.model.places
        self.model.places[appointment.id] = Place(patient_id, session)
        if expected.offer is not None:
            self.model.end(expected.offer, WaitlistStatus.BOOKED)

    @rule(patient_id=st.sampled_from(WAITLIST_PATIENT_IDS), which=SESSION_INDEX)
    def join(self, patient_id: int, which: int) -> None:
        session = self.sessions[which]
        expected = self.expect_join(patient_id, session)
        try:
            entry = self.waitlist.join(patient_id, session.doctor_id, session.date, session.period)
        except DomainError as refusal:
            self.check(f"join {session} by {patient_id}", expected, refusal)
            return
        self.check(f"join {session} by {patient_id}", expected, None)
        assert entry.id is not None and entry.id not in self.model.entries
        assert (entry.patient_id, entry.session, entry.status) == (
            patient_id,
            session,
            WaitlistStatus.WAITING,
        )
        self.model.entries[entry.id] = WaitingPatient(patient_id, session)

    @rule(which=SESSION_INDEX, patient_ids=st.permutations(WAITLIST_PATIENT_IDS))
    def crowd(self, which: int, patient_ids: list[int]) -> None:
        """Everyone goes for one session: some book, the others join its waitlist."""
        for patient_id in patient_ids:
            self.book(patient_id, which)
        for patient_id in patient_ids:
            self.join(patient_id, which)

    @precondition(lambda self: bool(self.model.entries))
    @rule(index=ANY, own=st.booleans(), other=st.sampled_from(WAITLIST_PATIENT_IDS))
    def accept(self, index: int, own: bool, other: int) -> None:
        """Accept an offer; mostly one that is open, sometimes any entry, or someone else's."""
        offered = [i for i, e in self.model.entries.items() if e.status is WaitlistStatus.OFFERED]
        entry_id = self.pick(offered if offered and index % 4 else self.model.entries, index)
        assert entry_id is not None
        entry = self.model.entries[entry_id]
        patient_id = entry.patient_id if own else other
        if patient_id != entry.patient_id:
            try:
                self.booking.accept_offer(patient_id, entry_id)
            except WaitlistEntryNotFound:
                return
            raise AssertionError(f"patient {patient_id} accepted another's offer {entry_id}")
        self.try_booking(patient_id, entry.session, accepting=entry_id)

    @precondition(
        lambda self: any(e.status is WaitlistStatus.OFFERED for e in self.model.entries.values())
    )
    @rule(index=ANY)
    def accept_an_offer(self, index: int) -> None:
        """The patient holding an offer books it (in time, unless the clock ran past its hold)."""
        offered = [i for i, e in self.model.entries.items() if e.status is WaitlistStatus.OFFERED]
        entry_id = offered[index % len(offered)]
        entry = self.model.entries[entry_id]
        self.try_booking(entry.patient_id, entry.session, accepting=entry_id)

    def queued_places(self) -> list[int]:
        """The places held in sessions that patients wait for."""
        return [
            i for i, p in self.model.places.items() if p.holds and self.model.waiting(p.session) > 0
        ]

    @precondition(lambda self: bool(self.queued_places()))
    @rule(index=ANY)
    def cancel_for_the_waiting(self, index: int) -> None:
        """A patient gives back a place that patients wait for: it is offered to the first."""
        queued = self.queued_places()
        self.try_cancel(queued[index % len(queued)], own=True, other=0)

    @precondition(lambda self: bool(self.model.places))
    @rule(index=ANY, own=st.booleans(), other=st.sampled_from(WAITLIST_PATIENT_IDS))
    def cancel(self, index: int, own: bool, other: int) -> None:
        holding = [i for i, p in self.model.places.items() if p.holds]
        appointment_id = self.pick(holding if holding and index % 4 else self.model.places, index)
        assert appointment_id is not None
        self.try_cancel(appointment_id, own, other)

    def try_cancel(self, appointment_id: int, own: bool, other: int) -> None:
        place = self.model.places[appointment_id]
        patient_id, session, now = (
            place.patient_id if own else other,
            place.session,
            self.clock.now(),
        )
        if patient_id != place.patient_id:
            expected = Expected(AppointmentNotFound, self.model)
        elif not place.holds or now >= self.starts_at(session) - self.policy.cancel_deadline:
            expected = Expected(NotCancellable, self.model)
        else:
            after = self.trial()
            after.places[appointment_id].holds = False
            self.settle(after, session, now)
            expected = Expected(None, after)
        try:
            self.booking.cancel(patient_id, appointment_id)
        except DomainError as refusal:
            self.check(f"cancel {appointment_id} by {patient_id}", expected, refusal)
            return
        self.check(f"cancel {appointment_id} by {patient_id}", expected, None)

    @precondition(lambda self: bool(self.model.entries))
    @rule(index=ANY, own=st.booleans(), other=st.sampled_from(WAITLIST_PATIENT_IDS))
    def leave_waitlist(self, index: int, own: bool, other: int) -> None:
        active = [i for i, e in self.model.entries.items() if e.active]
        entry_id = self.pick(active if active and index % 4 else self.model.entries, index)
        assert entry_id is not None
        entry = self.model.entries[entry_id]
        patient_id = entry.patient_id if own else other
        if patient_id != entry.patient_id:
            expected = Expected(WaitlistEntryNotFound, self.model)
        elif not entry.active:
            expected = Expected(InvalidTransition, self.model)
        else:
            after = self.trial()
            after.end(entry_id, WaitlistStatus.LEFT)
            self.settle(after, entry.session, self.clock.now())
            expected = Expected(None, after)
        what = f"leave waitlist {entry_id} by {patient_id}"
        try:
            left = self.waitlist.leave(patient_id, entry_id)
        except DomainError as refusal:
            self.check(what, expected, refusal)
            return
        self.check(what, expected, None)
        assert left.status is WaitlistStatus.LEFT

    @rule(which=SESSION_INDEX)
    def take_leave(self, which: int) -> None:
        session, now, model = self.sessions[which], self.clock.now(), self.model
        refusals: set[type[DomainError]] = set()
        if now >= self.starts_at(session):
            refusals.add(OutsideWindow)
        elif model.quota(session) <= 0 and model.booked(session) == 0:
            refusals.add(NotOffered)
        elif session in model.leaves:
            refusals.add(AlreadyOnLeave)
        try:
            taken = self.booking.take_leave(session.doctor_id, session.date, session.period)
        except DomainError as refusal:
            event(f"leave: {refusal.code}")
            assert type(refusal) in refusals, f"leave of {session} refused: {refusal!r}"
            return
        event("leave: taken")
        assert not refusals, f"leave of {session} taken, the model refuses it: {refusals}"
        assert {a.id for a in taken.cancelled} == set(model.holding(session))
        assert {e.id for e in taken.cleared} == set(model.active(session))
        for appointment_id in model.holding(session):
            model.places[appointment_id].holds = False
        for entry_id in model.active(session):
            model.end(entry_id, WaitlistStatus.CLEARED, "cleared")
        model.leaves.add(session)

    @rule(morning=QUOTAS, afternoon=QUOTAS)
    def set_schedule(self, morning: int, afternoon: int) -> None:
        self.directory.set_schedule(self.doctor_id, WeeklySchedule.every_day(morning, afternoon))
        self.model.quotas = {Period.MORNING: morning, Period.AFTERNOON: afternoon}
        now = self.clock.now()
        today = now.astimezone(WAITLIST_TIMEZONE).date()
        for session in self.sessions:
            taken = self.model.booked(session) + self.model.held(session)
            self.model.ceilings[session] = max(self.model.quota(session), taken)
            # The new schedule's waitlists settle at once (DirectoryService.schedule_changed):
            # a raised quota's places are offered, a session switched off is cleared.
            if session.date >= today and self.model.active(session):
                self.settle(self.model, session, now)

    @precondition(
        lambda self: any(e.status is WaitlistStatus.OFFERED for e in self.model.entries.values())
    )
    @rule(index=ANY, cut=st.integers(0, 1))
    def lower_the_quota_under_an_offer(self, index: int, cut: int) -> None:
        """The quota of a session holding an offer goes down to its places booked (or one
        fewer): the offer is kept, and the place goes once it is let go."""
        offered = [e for e in self.model.entries.values() if e.status is WaitlistStatus.OFFERED]
        session = offered[index % len(offered)].session
        quotas = dict(self.model.quotas)
        quotas[session.period] = max(0, self.model.booked(session) - cut)
        self.set_schedule(quotas[Period.MORNING], quotas[Period.AFTERNOON])

    @rule(step=WAITLIST_CLOCK_STEPS)
    def move_clock(self, step: dt.timedelta) -> None:
        self.clock.advance(step)

    @precondition(
        lambda self: any(e.status is WaitlistStatus.OFFERED for e in self.model.entries.values())
    )
    @rule(index=ANY, offset=st.sampled_from([-1, 0, 1]))
    def move_clock_to_a_hold(self, index: int, offset: int) -> None:
        """To a second before an open offer's hold ends, to its end, or just after."""
        offered = [e for e in self.model.entries.values() if e.status is WaitlistStatus.OFFERED]
        expires_at = offered[index % len(offered)].expires_at
        assert expires_at is not None
        target = expires_at + dt.timedelta(seconds=offset)
        if target > self.clock.now():
            self.clock.set(target)

    @rule()
    def sweep(self) -> None:
        now = self.clock.now()
        before = now.astimezone(dt.UTC).date() - dt.timedelta(days=1)
        after = self.trial()
        for session in self.sessions:
            active = [after.entries[i] for i in after.active(session)]
            due = (
                any(e.expires_at is not None and e.expires_at <= now for e in active)
                or (
                    after.waiting(session) > 0
                    and after.free(session) > 0
                    and session.date >= before
                )
                or (bool(active) and session.date < before)
            )
            if due:
                self.settle(after, session, now)
        self.waitlist.sweep()
        self.model = after

    # --- invariants, read from the store after every step -----------------------------------------

    @invariant()
    def the_store_holds_what_the_model_holds(self) -> None:
        model = self.model
        with self.new_uow() as uow:
            ledger = uow.places.between(
                self.doctor_id, self.sessions[0].date, self.sessions[-1].date
            )
            for session in self.sessions:
                places = ledger.get((session.date, session.period))
                booked, held, waiting = (
                    model.booked(session),
                    model.held(session),
                    model.waiting(session),
                )
                if places is None:
                    assert (booked, held, waiting) == (0, 0, 0), f"{session} has no ledger"
                else:
                    assert places.booked + places.held <= places.quota, f"overbooked: {places}"
                    assert (places.booked, places.held, places.waiting) == (
                        booked,
                        held,
                        waiting,
                    ), (
                        f"{places}, but the model has {booked} booked, {held} held, "
                        f"{waiting} waiting"
                    )
                taken = booked + held
                assert taken <= model.ceilings[session], (
                    f"{session} overbooked: {taken} taken, at most {model.ceilings[session]}"
                )
                model.ceilings[session] = max(model.quota(session), taken)
                listed = [a.id for a in uow.appointments.holding(session)]
                assert sorted(listed, key=lambda i: i or 0) == sorted(model.holding(session)), (
                    f"{session}: the store holds {listed}, the model {model.holding(session)}"
                )
                stored = list(uow.waitlist.active(session))
                ids = [e.id for e in stored]
                assert ids == model.active(session), (
                    f"{session}: the store's queue is {ids}, the model's {model.active(session)}"
                )
                # Offers in join order: nobody waiting is passed over by a later joiner.
                statuses = [e.status for e in stored]
                offered = statuses.count(WaitlistStatus.OFFERED)
                assert statuses == [WaitlistStatus.OFFERED] * offered + [WaitlistStatus.WAITING] * (
                    len(statuses) - offered
                ), f"{session}: offers out of join order: {stored}"
                holders = {a.patient_id for a in uow.appointments.holding(session)}
                waiters = {e.patient_id for e in stored}
                assert not holders & waiters, f"{session}: {holders & waiters} hold and wait"
                if places is not None:
                    assert places.held == offered, f"{places}, but {offered} offers are open"
                    assert places.waiting == len(stored) - offered, f"{places}, but {stored}"
                for patient_id in WAITLIST_PATIENT_IDS:
                    found = uow.waitlist.active_of(patient_id, session)
                    assert (found and found.id) == model.active_of(patient_id, session)
            for entry_id, entry in model.entries.items():
                found = uow.waitlist.get(entry_id)
                assert found is not None, f"waitlist entry {entry_id} vanished"
                assert (found.patient_id, found.session) == (entry.patient_id, entry.session)
                assert found.status is entry.status, (
                    f"entry {entry_id} of {entry.patient_id} in {entry.session} is "
                    f"{found.status.value}, the model says {entry.status.value}"
                )
                if entry.status is WaitlistStatus.OFFERED:
                    assert found.expires_at == entry.expires_at, (
                        f"entry {entry_id} held until {found.expires_at}, not {entry.expires_at}"
                    )
            for patient_id in WAITLIST_PATIENT_IDS:
                for date in {s.date for s in self.sessions}:
                    count = uow.daily_counts.count(patient_id, date)
                    assert count == model.held_on(patient_id, date), (
                        f"patient {patient_id} on {date}: counted {count}"
                    )
            told: dict[int, list[str]] = {}
            for notice in uow.notifications.since(0, 100_000):
                kind = _KIND.get(notice.kind)
                if kind is not None:
                    named = notice.data.get("waitlist_entry_id")
                    assert isinstance(named, int), f"{notice} names no entry"
                    told.setdefault(named, []).append(kind)
            for entry_id, entry in model.entries.items():
                got = Counter(told.pop(entry_id, []))
                assert got == Counter(entry.notices), (
                    f"entry {entry_id} was told {dict(got)}, not {entry.notices}"
                )
            assert not told, f"notices of entries nobody joined: {told}"


__all__ = [
    "HOLDS",
    "WAITLIST_CLOCK_STEPS",
    "WAITLIST_PATIENT_IDS",
    "WAITLIST_TIMEZONE",
    "Expected",
    "Place",
    "WaitingPatient",
    "WaitlistModel",
    "WaitlistStateMachine",
]
