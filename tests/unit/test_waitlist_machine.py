"""The waitlist state machine against the in-memory store, and against stores broken on purpose
(it must fail on those)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from medbook.adapters.memory import ManualClock, MemoryStore, MemoryUnitOfWork
from medbook.adapters.memory.booking import MemoryPlaces, MemoryWaitlist
from medbook.domain import OfferedSession, Period, Session, WeeklySchedule
from medbook.domain.booking.waitlist import WaitlistEntry, WaitlistStatus
from medbook.domain.shared.errors import SessionFull
from medbook.services import BookingService, DirectoryService
from medbook.services.waitlist import WaitlistService
from medbook.testing import UnitOfWorkFactory, WaitlistStateMachine

CI = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # No explain phase: its tracing takes minutes on a failure of a machine this size.
    phases=[phase for phase in Phase if phase is not Phase.explain],
)


class MemoryWaitlistMachine(WaitlistStateMachine):
    def make_uow_factory(self) -> UnitOfWorkFactory:
        return MemoryStore().unit_of_work


def test_the_waitlist_rules_hold_on_the_memory_store() -> None:
    run_state_machine_as_test(MemoryWaitlistMachine, settings=CI)


def test_the_machine_needs_an_adapter() -> None:
    with pytest.raises(NotImplementedError, match="make_uow_factory"):
        WaitlistStateMachine()


# --- the machine can fail ------------------------------------------------------------------------

#: A store broken on purpose must make the machine fail. No shrinking: not the point, and slow.
BROKEN_STORE = settings(
    CI,
    max_examples=200,
    database=None,
    derandomize=True,
    phases=[Phase.generate],
    report_multiple_bugs=False,
)


class WaitlistNewestFirst(MemoryWaitlist):
    """A broken queue: the active entries newest first, so the last to join is offered first."""

    def active(self, session: Session) -> Sequence[WaitlistEntry]:
        return list(reversed(super().active(session)))


class PlacesThatIgnoreTheHeld(MemoryPlaces):
    """A broken ledger: a booking may take a place held for a waitlist offer."""

    def take(self, session: Session) -> int | None:
        quota, booked, issued, held, waiting = self.rows[session]
        if booked >= quota:
            return None
        self.rows[session] = (quota, booked + 1, issued + 1, held, waiting)
        return issued + 1  # type: ignore[no-any-return]


class NewestFirstUnitOfWork(MemoryUnitOfWork):
    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self.waitlist = WaitlistNewestFirst(self, "waitlist")


class IgnoringHeldUnitOfWork(MemoryUnitOfWork):
    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self.places = PlacesThatIgnoreTheHeld(self, "places")


class NewestFirstMachine(WaitlistStateMachine):
    def make_uow_factory(self) -> UnitOfWorkFactory:
        store = MemoryStore()
        return lambda: NewestFirstUnitOfWork(store)


class IgnoringHeldMachine(WaitlistStateMachine):
    def make_uow_factory(self) -> UnitOfWorkFactory:
        store = MemoryStore()
        return lambda: IgnoringHeldUnitOfWork(store)


def test_the_machine_catches_offers_out_of_join_order() -> None:
    with pytest.raises(AssertionError, match=r"queue is|out of join order|the model says"):
        run_state_machine_as_test(NewestFirstMachine, settings=BROKEN_STORE)


def test_the_machine_catches_a_booking_that_takes_a_held_place() -> None:
    with pytest.raises(AssertionError, match=r"the model refuses it|overbooked"):
        run_state_machine_as_test(IgnoringHeldMachine, settings=BROKEN_STORE)


# --- a bug the machine found, fixed since: its regression tests -----------------------------------

# Wednesday 08:30 in Shanghai; the sessions below are Thursday morning's (08:00 local).
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TOMORROW = dt.date(2026, 11, 26)
HOLD = dt.timedelta(minutes=15)


class Queue:
    """One doctor, Thursday morning booked full by 1 and 2, and 3 then 4 on its waitlist."""

    def __init__(self) -> None:
        store, self.clock = MemoryStore(), ManualClock(NOW)
        self.directory = DirectoryService(store.unit_of_work, self.clock)
        hospital = self.directory.add_hospital("Ruijin Hospital")
        assert hospital.id is not None
        department = self.directory.add_department(hospital.id, "Cardiology")
        assert department.id is not None
        doctor = self.directory.add_doctor(
            hospital.id, department.id, name="Dr Li", phone="13800000001"
        )
        assert doctor.id is not None
        self.doctor_id = doctor.id
        self.schedule(2)
        self.directory.set_verified(doctor.id, True)
        self.booking = BookingService(store.unit_of_work, self.clock)
        self.waitlist = WaitlistService(store.unit_of_work, self.clock)
        for patient in (1, 2):
            self.booking.book(patient, doctor.id, TOMORROW, Period.MORNING)
        self.third, self.fourth = (
            self.waitlist.join(patient, doctor.id, TOMORROW, Period.MORNING) for patient in (3, 4)
        )

    def schedule(self, quota: int) -> None:
        self.directory.set_schedule(self.doctor_id, WeeklySchedule.every_day(quota, quota))

    def status(self, entry: WaitlistEntry) -> WaitlistStatus:
        assert entry.id is not None
        return self.waitlist.entry_of(entry.patient_id, entry.id).status

    def places(self) -> OfferedSession:
        state = self.booking.session_state(Session(self.doctor_id, TOMORROW, Period.MORNING))
        assert state is not None
        return state.places

    def offer_above_a_lowered_quota(self) -> None:
        """3 is offered a place of a raised quota, and the quota goes back down: 3's offer is
        kept (like a booked place above a lowered quota), and lapses."""
        self.schedule(3)
        assert self.waitlist.sweep().offered == 1
        self.schedule(2)
        assert (self.places().quota, self.places().held) == (3, 1)
        self.clock.advance(HOLD)


def test_a_lapsed_offer_above_a_lowered_quota_is_not_offered_again_by_the_sweep() -> None:
    queue = Queue()
    queue.offer_above_a_lowered_quota()

    result = queue.waitlist.sweep()

    assert (result.lapsed, result.offered) == (1, 0)
    assert queue.status(queue.fourth) is WaitlistStatus.WAITING  # the quota is 2, both booked
    places = queue.places()
    assert (places.quota, places.booked, places.held, places.remaining) == (2, 2, 0, 0)


def test_a_lapsed_offer_above_a_lowered_quota_is_nobody_elses_place() -> None:
    queue = Queue()
    queue.offer_above_a_lowered_quota()

    with pytest.raises(SessionFull):  # the booking lapses 3's offer first, lazily
        queue.booking.book(5, queue.doctor_id, TOMORROW, Period.MORNING)

    assert queue.status(queue.third) is WaitlistStatus.LAPSED
    assert queue.status(queue.fourth) is WaitlistStatus.WAITING
    assert queue.places().booked + queue.places().held == 2


def test_an_offer_left_in_a_session_switched_off_goes_and_the_waitlist_clears() -> None:
    queue = Queue()
    queue.schedule(3)
    queue.waitlist.sweep()
    queue.directory.set_schedule(queue.doctor_id, WeeklySchedule.off())  # no hook: lazily
    assert queue.third.id is not None

    queue.waitlist.leave(3, queue.third.id)

    assert queue.status(queue.fourth) is WaitlistStatus.CLEARED  # nothing left to wait for
    places = queue.places()
    assert (places.quota, places.booked, places.held, places.waiting) == (2, 2, 0, 0)
