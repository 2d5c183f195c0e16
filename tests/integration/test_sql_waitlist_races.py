"""The waitlist under races on MariaDB, over real separate connections: holders cancelling,
waiting patients accepting and leaving, newcomers booking and joining, and several sweeps, all at
once on one full session. The places row's lock and its guarded writes keep the invariants."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.domain import Period, Session, WeeklySchedule
from medbook.domain.booking.waitlist import WaitlistEntry, WaitlistStatus
from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.errors import DomainError
from medbook.services import BookingService, DirectoryService
from medbook.services.waitlist import WaitlistService

TOMORROW = dt.date(2026, 11, 26)
QUOTA = 3
HOLDERS = (1, 2, 3)
WAITING = tuple(range(11, 21))
BOOKERS = tuple(range(31, 39))
JOINERS = tuple(range(41, 49))
SWEEPERS = 6
PAST_THE_HOLDS = dt.timedelta(minutes=20)

#: Only on MariaDB: SQLite runs one writer at a time, there is no race to lose.
pytestmark = pytest.mark.parametrize(
    "engine_factory", [pytest.param("mariadb", marks=pytest.mark.mariadb)], indirect=True
)


def _race(attempts: list[Callable[[], object]]) -> Counter[str]:
    """Run every attempt on a thread of its own, released at once; count outcomes by error code
    (anything but a domain error fails the test)."""
    barrier = threading.Barrier(len(attempts))

    def run(attempt: Callable[[], object]) -> str:
        barrier.wait()
        try:
            attempt()
        except DomainError as error:
            return error.code
        return "ok"

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return Counter(pool.map(run, attempts))


class Hospital:
    def __init__(self, engine: Engine, clock: ManualClock) -> None:
        self.engine, self.clock = engine, clock
        directory = DirectoryService(self.new_uow, clock)
        hospital = directory.add_hospital("Ruijin Hospital")
        department = directory.add_department(hospital.id, "Cardiology")
        doctor = directory.add_doctor(hospital.id, department.id, name="Dr Li", phone="13800000001")
        assert doctor.id is not None
        directory.set_schedule(doctor.id, WeeklySchedule.every_day(QUOTA, QUOTA))
        directory.set_verified(doctor.id, True)
        self.session = Session(doctor.id, TOMORROW, Period.MORNING)
        self.booking = BookingService(self.new_uow, clock)
        self.waitlist = WaitlistService(self.new_uow, clock)

    def new_uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def book(self, patient_id: int) -> object:
        s = self.session
        return self.booking.book(patient_id, s.doctor_id, s.date, s.period)

    def join(self, patient_id: int) -> WaitlistEntry:
        s = self.session
        return self.waitlist.join(patient_id, s.doctor_id, s.date, s.period)

    def entries(self) -> list[WaitlistEntry]:
        with self.new_uow() as uow:
            patients = {*WAITING, *JOINERS, *BOOKERS, *HOLDERS}
            found = [e for p in patients for e in uow.waitlist.of_patient(p, TOMORROW)]
        return sorted(found, key=lambda e: e.id or 0)

    def round(self, clock_to: dt.datetime) -> Counter[str]:
        """Everyone at once: holders cancel, the waiting accept (two leave), newcomers book and
        join, and several sweeps run."""
        self.clock.set(clock_to)
        attempts: list[Callable[[], object]] = []
        with self.new_uow() as uow:
            holding = list(uow.appointments.holding(self.session))
        for appointment in holding[:2]:
            assert appointment.id is not None
            attempts.append(
                lambda a=appointment: self.booking.cancel(a.patient_id, a.id)  # type: ignore[misc]
            )
        for entry in self.entries():
            if not entry.active:
                continue
            assert entry.id is not None
            if entry.patient_id in (WAITING[3], WAITING[7]):
                attempts.append(lambda e=entry: self.waitlist.leave(e.patient_id, e.id))  # type: ignore[misc]
            else:
                attempts.append(
                    lambda e=entry: self.booking.accept_offer(e.patient_id, e.id)  # type: ignore[misc]
                )
        attempts += [lambda p=p: self.book(p) for p in BOOKERS]  # type: ignore[misc]
        attempts += [lambda p=p: self.join(p) for p in JOINERS]  # type: ignore[misc]
        attempts += [self.waitlist.sweep] * SWEEPERS
        return _race(attempts)


def test_a_full_session_with_a_waitlist_under_a_crowd(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = engine_factory(pool_size=60, max_overflow=0, pool_timeout=120)
    world = Hospital(engine, clock)
    start = clock.now()
    for patient_id in HOLDERS:
        world.book(patient_id)
    for patient_id in WAITING:
        world.join(patient_id)
    with world.new_uow() as uow:
        (first, *_) = uow.appointments.holding(world.session)
    assert first.id is not None
    world.booking.cancel(first.patient_id, first.id)  # the first waiting is offered its place

    outcomes: Counter[str] = Counter()
    # Past the holds, so that every open offer may lapse at once; then within the new ones.
    for at in (PAST_THE_HOLDS, 2 * PAST_THE_HOLDS, 2 * PAST_THE_HOLDS + dt.timedelta(minutes=5)):
        outcomes += world.round(start + at)
    assert set(outcomes) <= {
        "ok",
        "no_offer",
        "session_full",
        "session_not_full",
        "already_waiting",
        "already_booked",
        "invalid_transition",
        "daily_limit_reached",
    }, outcomes

    entries = world.entries()
    with world.new_uow() as uow:
        places = uow.places.lock(world.session)
        holding = list(uow.appointments.holding(world.session))
        notices = [
            n
            for n in uow.notifications.since(0, 100_000)
            if n.kind is NotificationKind.WAITLIST_OFFER
        ]
    # The places: never more than the quota, and the counters are a recount of the rows.
    assert places.booked + places.held <= places.quota == QUOTA, places
    assert places.booked == len(holding), f"{places}, but {len(holding)} appointments hold one"
    offered = [e for e in entries if e.status is WaitlistStatus.OFFERED]
    waiting = [e for e in entries if e.status is WaitlistStatus.WAITING]
    assert (places.held, places.waiting) == (len(offered), len(waiting)), places
    assert len({a.patient_id for a in holding}) == len(holding)
    assert not {a.patient_id for a in holding} & {e.patient_id for e in offered + waiting}
    # Each booked entry's appointment holds a place (or was cancelled since, by its patient).
    for entry in entries:
        if entry.status is WaitlistStatus.BOOKED:
            assert entry.appointment_id is not None and entry.offered_at is not None
    # One offer notice per offer, and only to entries that were offered.
    told = Counter(n.data.get("waitlist_entry_id") for n in notices)
    for entry in entries:
        expected = 1 if entry.offered_at is not None else 0
        assert told.pop(entry.id, 0) == expected, f"entry {entry.id} told {told.get(entry.id)}"
        if entry.status in (WaitlistStatus.BOOKED, WaitlistStatus.LAPSED):
            assert expected == 1, f"{entry} ended {entry.status.value} without an offer"
    assert not told, f"offer notices of no entry: {told}"
    # Offers in join order: whenever one was offered, each who joined before it and was still on
    # the list had been offered by then.
    for later in entries:
        if later.offered_at is None:
            continue
        for earlier in entries:
            if earlier.id is None or later.id is None or earlier.id >= later.id:
                continue
            if earlier.joined_at > later.offered_at:
                continue
            gone = earlier.ended_at is not None and earlier.ended_at <= later.offered_at
            offered_first = (
                earlier.offered_at is not None and earlier.offered_at <= later.offered_at
            )
            assert offered_first or gone, f"{earlier} was passed over by {later}"
    # The active entries: the offered ones first, in join order.
    active = [e.status for e in entries if e.active]
    assert active == sorted(active, key=lambda s: s is not WaitlistStatus.OFFERED), active
    assert outcomes["ok"] > SWEEPERS, outcomes  # the crowd got somewhere
    assert any(e.status is WaitlistStatus.BOOKED for e in entries)  # offers were accepted
