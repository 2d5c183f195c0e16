"""The waitlist on the in-memory store, time moved by a manual clock: join a full session, a
freed place offered in order with a hold that counts in the places, accept, lapse, leave,
the doctor's leave clearing it, and the sweep."""

from __future__ import annotations

import datetime as dt

import pytest

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.bootstrap import Settings, bootstrap
from medbook.domain import Period, WeeklySchedule
from medbook.domain.booking.policy import BookingPolicy
from medbook.domain.booking.waitlist import WaitlistEntry, WaitlistStatus, hold_until
from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.errors import (
    AlreadyBooked,
    AlreadyWaiting,
    DailyLimitReached,
    HospitalNotFound,
    InvalidTransition,
    InvalidValue,
    NoOffer,
    NotOffered,
    SessionFull,
    SessionNotFull,
    WaitlistEntryNotFound,
    WaitlistLimitReached,
)
from medbook.services import BookingService, DirectoryService
from medbook.services.waitlist import WaitlistService

# Wednesday 08:30 in Shanghai; the sessions below are Thursday's (morning: 08:00 local).
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TOMORROW = dt.date(2026, 11, 26)
MORNING = Period.MORNING
HOLD = dt.timedelta(minutes=15)


class World:
    def __init__(
        self, quota: int = 1, policy: BookingPolicy | None = None, *, hooked: bool = True
    ) -> None:
        self.store, self.clock = MemoryStore(), ManualClock(NOW)
        self.policy = policy or BookingPolicy()
        self.directory = DirectoryService(self.store.unit_of_work, self.clock)
        hospital = self.directory.add_hospital("Ruijin Hospital")
        assert hospital.id is not None
        department = self.directory.add_department(hospital.id, "Cardiology")
        assert department.id is not None
        doctor = self.directory.add_doctor(
            hospital.id, department.id, name="Dr Li", phone="13800000001"
        )
        assert doctor.id is not None
        self.doctor_id = doctor.id
        self.directory.set_schedule(doctor.id, WeeklySchedule.every_day(quota, quota))
        self.directory.set_verified(doctor.id, True)
        self.booking = BookingService(self.store.unit_of_work, self.clock, self.policy)
        self.waitlist = WaitlistService(self.store.unit_of_work, self.clock, self.policy)
        if hooked:  # as bootstrap wires them
            self.directory.schedule_changed.append(self.waitlist.settle_doctor)

    def book(self, patient: int, date: dt.date = TOMORROW, period: Period = MORNING):  # type: ignore[no-untyped-def]
        return self.booking.book(patient, self.doctor_id, date, period)

    def join(
        self, patient: int, date: dt.date = TOMORROW, period: Period = MORNING
    ) -> WaitlistEntry:
        return self.waitlist.join(patient, self.doctor_id, date, period)

    def entry(self, patient: int, entry_id: int | None) -> WaitlistEntry:
        assert entry_id is not None
        return self.waitlist.entry_of(patient, entry_id)

    def places(self, date: dt.date = TOMORROW, period: Period = MORNING):  # type: ignore[no-untyped-def]
        (found,) = [
            o
            for o in self.booking.offered_sessions(self.doctor_id, date, date)
            if o.session.period is period
        ]
        return found

    def kinds(self, patient: int) -> list[NotificationKind]:
        with self.store.unit_of_work() as uow:
            return [
                n.kind
                for n in uow.notifications._all()
                if n.recipient_id == patient and n.kind.value.startswith("waitlist")
            ]


def test_a_session_with_places_left_has_no_waitlist_to_join() -> None:
    world = World(quota=2)
    world.book(1)
    with pytest.raises(SessionNotFull):
        world.join(2)


def test_a_session_never_booked_is_not_full_and_one_not_offered_cannot_be_waited_for() -> None:
    world = World(quota=1)
    with pytest.raises(SessionNotFull):
        world.join(2)
    world.directory.set_schedule(world.doctor_id, WeeklySchedule.off())
    with pytest.raises(NotOffered):
        world.join(2)


def test_joining_a_full_session_queues_the_patient_once() -> None:
    world = World()
    world.book(1)
    entry = world.join(2)
    assert entry.status is WaitlistStatus.WAITING
    with pytest.raises(AlreadyWaiting):
        world.join(2)
    with pytest.raises(AlreadyBooked):
        world.join(1)  # holds the place already
    assert world.places().waiting == 1


def test_a_cancellation_offers_the_place_to_the_first_waiting_and_nobody_else_takes_it() -> None:
    world = World()
    first = world.book(1)
    second, third = world.join(2), world.join(3)
    world.booking.cancel(1, first.id)

    offered = world.entry(2, second.id)
    assert offered.status is WaitlistStatus.OFFERED
    assert offered.expires_at == NOW + HOLD
    assert world.entry(3, third.id).status is WaitlistStatus.WAITING
    places = world.places()
    assert (places.booked, places.held, places.remaining) == (0, 1, 0)
    with pytest.raises(SessionFull):
        world.book(4)  # the held place is nobody else's
    with pytest.raises(NoOffer):
        world.booking.accept_offer(3, third.id)  # third waits behind second
    assert world.kinds(2) == [NotificationKind.WAITLIST_OFFER]
    assert world.kinds(3) == []


def test_accepting_an_offer_books_the_held_place() -> None:
    world = World()
    first = world.book(1)
    second = world.join(2)
    world.booking.cancel(1, first.id)
    world.clock.advance(HOLD - dt.timedelta(seconds=1))

    appointment = world.booking.accept_offer(2, second.id)

    assert appointment.patient_id == 2
    entry = world.entry(2, second.id)
    assert (entry.status, entry.appointment_id) == (WaitlistStatus.BOOKED, appointment.id)
    places = world.places()
    assert (places.booked, places.held, places.waiting) == (1, 0, 0)
    with pytest.raises(NoOffer):
        world.booking.accept_offer(2, second.id)  # once


def test_booking_the_session_while_holding_its_offer_takes_the_held_place() -> None:
    world = World()
    first = world.book(1)
    second = world.join(2)
    world.booking.cancel(1, first.id)
    appointment = world.book(2)
    assert world.entry(2, second.id).appointment_id == appointment.id


def test_an_offer_lapses_at_its_hold_and_goes_to_the_next_in_order() -> None:
    world = World()
    first = world.book(1)
    second, third = world.join(2), world.join(3)
    world.booking.cancel(1, first.id)
    world.clock.advance(HOLD)

    with pytest.raises(NoOffer):
        world.booking.accept_offer(2, second.id)
    # The refusal committed the lapse: the next one holds the place now.
    assert world.entry(2, second.id).status is WaitlistStatus.LAPSED
    nxt = world.entry(3, third.id)
    assert nxt.status is WaitlistStatus.OFFERED
    assert nxt.expires_at == NOW + 2 * HOLD
    assert world.kinds(2) == [NotificationKind.WAITLIST_OFFER, NotificationKind.WAITLIST_LAPSED]
    world.booking.accept_offer(3, third.id)


def test_the_sweep_lapses_offers_and_offers_the_next() -> None:
    world = World()
    first = world.book(1)
    second, third = world.join(2), world.join(3)
    world.booking.cancel(1, first.id)
    assert world.waitlist.sweep().offered == 0  # nothing due yet
    world.clock.advance(HOLD)

    result = world.waitlist.sweep()

    assert (result.lapsed, result.offered) == (1, 1)
    assert world.entry(3, third.id).status is WaitlistStatus.OFFERED
    assert world.waitlist.sweep().offered == 0  # each offer once
    assert world.entry(2, second.id).status is WaitlistStatus.LAPSED


def test_the_hold_ends_at_the_session_start_at_the_latest() -> None:
    start = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)  # 08:00 Shanghai
    assert hold_until(start - dt.timedelta(minutes=5), HOLD, start) == start
    world = World()
    first = world.book(1)
    second = world.join(2)
    world.clock.set(start - dt.timedelta(minutes=5))
    world.booking.cancel(1, first.id)
    assert world.entry(2, second.id).expires_at == start


def test_a_raised_quota_is_offered_by_the_sweep_and_a_newcomer_cannot_jump_the_queue() -> None:
    world = World(hooked=False)
    world.book(1)
    second = world.join(2)
    world.directory.set_schedule(world.doctor_id, WeeklySchedule.every_day(2, 2))
    with pytest.raises(SessionFull):
        world.book(3)  # the free place goes to the waiting patient first
    assert world.entry(2, second.id).status is WaitlistStatus.OFFERED
    assert world.waitlist.sweep().offered == 0


def test_the_sweep_offers_a_place_a_raised_quota_freed() -> None:
    world = World(hooked=False)
    world.book(1)
    second = world.join(2)
    world.directory.set_schedule(world.doctor_id, WeeklySchedule.every_day(2, 2))
    assert world.waitlist.sweep().offered == 1
    assert world.entry(2, second.id).status is WaitlistStatus.OFFERED


def test_leaving_gives_an_offered_place_to_the_next() -> None:
    world = World()
    first = world.book(1)
    second, third = world.join(2), world.join(3)
    world.booking.cancel(1, first.id)
    left = world.waitlist.leave(2, second.id)
    assert left.status is WaitlistStatus.LEFT
    assert world.entry(3, third.id).status is WaitlistStatus.OFFERED
    with pytest.raises(InvalidTransition):
        world.waitlist.leave(2, second.id)
    with pytest.raises(WaitlistEntryNotFound):
        world.waitlist.leave(9, third.id)  # someone else's
    places = world.places()
    assert (places.held, places.waiting) == (1, 0)


def test_a_doctors_leave_clears_the_waitlist_and_tells_everyone() -> None:
    world = World()
    first = world.book(1)
    second, third = world.join(2), world.join(3)
    world.booking.cancel(1, first.id)  # 2 offered, 3 waiting
    taken = world.booking.take_leave(world.doctor_id, TOMORROW, MORNING)
    assert {e.id for e in taken.cleared} == {second.id, third.id}
    assert world.entry(2, second.id).status is WaitlistStatus.CLEARED
    assert world.kinds(3) == [NotificationKind.WAITLIST_CLEARED]
    with pytest.raises(NotOffered):
        world.join(4)


def test_a_started_session_closes_its_waitlist() -> None:
    world = World()
    world.book(1)
    second = world.join(2)
    world.clock.advance(dt.timedelta(days=3))
    assert world.waitlist.sweep().closed == 1
    assert world.entry(2, second.id).status is WaitlistStatus.CLOSED
    assert world.kinds(2) == [NotificationKind.WAITLIST_CLOSED]


def test_a_patient_waits_for_at_most_a_few_sessions_a_day() -> None:
    world = World(policy=BookingPolicy(max_waiting_per_day=1))
    world.book(1, period=Period.MORNING)
    world.book(1, period=Period.AFTERNOON)
    world.join(2, period=Period.MORNING)
    with pytest.raises(WaitlistLimitReached):
        world.join(2, period=Period.AFTERNOON)
    world.waitlist.leave(2, world.waitlist.entries_of(2)[0].id or 0)
    world.join(2, period=Period.AFTERNOON)  # a left waitlist no longer counts


def test_the_policy_bounds_the_hold() -> None:
    with pytest.raises(InvalidValue, match="waitlist_hold"):
        BookingPolicy(waitlist_hold=dt.timedelta(0))
    assert BookingPolicy().waitlist_hold == HOLD


def test_the_settings_read_the_hold_and_refuse_nonsense() -> None:
    base = {"MEDBOOK_DATABASE_URL": "memory://"}
    assert Settings.from_env(base).waitlist_hold == HOLD
    read = Settings.from_env({**base, "MEDBOOK_WAITLIST_HOLD_MINUTES": "30"})
    assert read.waitlist_hold == dt.timedelta(minutes=30)
    assert bootstrap(read).waitlist.policy.waitlist_hold == dt.timedelta(minutes=30)
    for value in ("0", "1441", "99999999999999999999", "\u0661\u0665", "-5", "15m"):
        with pytest.raises(ValueError, match="MEDBOOK_WAITLIST_HOLD_MINUTES"):
            Settings.from_env({**base, "MEDBOOK_WAITLIST_HOLD_MINUTES": value})


def test_one_session_the_sweep_cannot_settle_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World()
    first, other = world.book(1), world.book(5, period=Period.AFTERNOON)
    second, third = world.join(2), world.join(3, period=Period.AFTERNOON)
    world.booking.cancel(1, first.id)
    world.booking.cancel(5, other.id)
    world.clock.advance(HOLD)
    settle_session = WaitlistService._settle_session

    def broken_mornings(self: WaitlistService, session, now):  # type: ignore[no-untyped-def]
        if session.period is Period.MORNING:
            raise HospitalNotFound("no hospital 1")
        return settle_session(self, session, now)

    monkeypatch.setattr(WaitlistService, "_settle_session", broken_mornings)
    result = world.waitlist.sweep()
    assert (result.sessions, result.lapsed) == (2, 1)
    assert world.entry(3, third.id).status is WaitlistStatus.LAPSED
    assert world.entry(2, second.id).status is WaitlistStatus.OFFERED


def test_a_raised_quota_is_offered_to_the_waiting_as_the_schedule_changes() -> None:
    world = World()
    world.book(1)
    second, third = world.join(2), world.join(3)
    world.directory.set_schedule(world.doctor_id, WeeklySchedule.every_day(2, 2))
    assert world.entry(2, second.id).status is WaitlistStatus.OFFERED
    assert world.entry(3, third.id).status is WaitlistStatus.WAITING
    assert world.kinds(2) == [NotificationKind.WAITLIST_OFFER]


def test_a_session_switched_off_clears_its_waitlist_as_the_schedule_changes() -> None:
    world = World()
    first = world.book(1)
    second, third = world.join(2), world.join(3)
    world.booking.cancel(1, first.id)  # 2 offered, 3 waiting
    world.directory.set_schedule(world.doctor_id, WeeklySchedule.off())
    assert world.entry(2, second.id).status is WaitlistStatus.CLEARED
    assert world.entry(3, third.id).status is WaitlistStatus.CLEARED
    assert world.kinds(3) == [NotificationKind.WAITLIST_CLEARED]
    with pytest.raises(NoOffer):
        world.booking.accept_offer(2, second.id)
    with world.store.unit_of_work() as uow:
        (places,) = uow.places.between(world.doctor_id, TOMORROW, TOMORROW).values()
    assert (places.booked, places.held, places.waiting) == (0, 0, 0)


def test_a_failing_schedule_hook_leaves_the_schedule_standing() -> None:
    world = World(hooked=False)

    def broken(doctor_id: int) -> None:
        raise RuntimeError("the waitlists are down")

    world.directory.schedule_changed.append(broken)
    changed = world.directory.set_schedule(world.doctor_id, WeeklySchedule.every_day(2, 2))
    assert changed.schedule == WeeklySchedule.every_day(2, 2)
    assert world.places().quota == 2


def test_a_patient_at_the_days_limit_cannot_join_to_hold_a_place_they_could_not_book() -> None:
    world = World(policy=BookingPolicy(max_active_per_day=1))
    world.book(1)  # patient 1 holds as many places that day as they may
    world.book(2, period=Period.AFTERNOON)  # the afternoon is full
    with pytest.raises(DailyLimitReached):
        world.join(1, period=Period.AFTERNOON)
    assert world.places(period=Period.AFTERNOON).waiting == 0


def test_nothing_is_bookable_while_patients_wait() -> None:
    world = World(hooked=False)
    world.book(1)
    world.join(2)
    world.directory.set_schedule(world.doctor_id, WeeklySchedule.every_day(2, 2))  # not settled
    places = world.places()
    assert (places.quota, places.booked, places.held, places.waiting) == (2, 1, 0, 1)
    assert places.remaining == 0  # the free place is the waiting patient's


def test_the_offer_names_its_deadline_in_the_hospitals_time() -> None:
    world = World()
    first = world.book(1)
    world.join(2)
    world.booking.cancel(1, first.id)
    with world.store.unit_of_work() as uow:
        (offer,) = [n for n in uow.notifications._all() if n.recipient_id == 2]
    assert "until 2026-11-25 08:45 (the hospital's time)" in offer.body  # 00:45 UTC
    assert offer.data["expires_at"] == (NOW + HOLD).isoformat()
