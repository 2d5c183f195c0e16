"""The waitlist on the real databases: the repository, the keys and checks that guard it, and the
service's flow end to end (join, a cancellation's offer, accept; a lapse by the sweep)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import DBAPIError

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.booking import session_places
from medbook.adapters.sql.waitlist import waitlist_entries
from medbook.domain import Period, Session, WeeklySchedule
from medbook.domain.booking.waitlist import WaitlistEntry, WaitlistStatus
from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.errors import AlreadyWaiting, NoOffer, SessionFull
from medbook.services import BookingService, DirectoryService
from medbook.services.waitlist import WaitlistService

# Wednesday 08:30 in Shanghai; the sessions below are Thursday's (morning: 08:00 local).
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TOMORROW = dt.date(2026, 11, 26)
HOLD = dt.timedelta(minutes=15)


def _doctor(engine: Engine, clock: ManualClock | None = None, quota: int = 1) -> int:
    directory = DirectoryService(lambda: SqlUnitOfWork(engine), clock or ManualClock(NOW))
    hospital = directory.add_hospital("Ruijin Hospital")
    department = directory.add_department(hospital.id, "Cardiology")
    doctor = directory.add_doctor(hospital.id, department.id, name="Dr Li", phone="13800000001")
    directory.set_schedule(doctor.id, WeeklySchedule.every_day(quota, quota))
    directory.set_verified(doctor.id, True)
    assert doctor.id is not None
    return doctor.id


# --- the repository -------------------------------------------------------------------------------


def test_the_repository_round_trips_entries(engine: Engine) -> None:
    doctor_id = _doctor(engine)
    morning = Session(doctor_id, TOMORROW, Period.MORNING)
    afternoon = Session(doctor_id, TOMORROW, Period.AFTERNOON)
    with SqlUnitOfWork(engine) as uow:
        first = uow.waitlist.add(WaitlistEntry.join(morning, 7, NOW))
        second = uow.waitlist.add(WaitlistEntry.join(morning, 8, NOW + dt.timedelta(seconds=1)))
        other = uow.waitlist.add(WaitlistEntry.join(afternoon, 7, NOW))
        uow.commit()
    assert first.id is not None and second.id is not None and other.id is not None
    assert first.id < second.id  # the id is the queue's order

    with SqlUnitOfWork(engine) as uow:
        stored = uow.waitlist.get(first.id)
        assert stored is not None
        assert (stored.patient_id, stored.session, stored.status) == (
            7,
            morning,
            WaitlistStatus.WAITING,
        )
        assert stored.joined_at == NOW and stored.joined_at.utcoffset() is not None
        assert uow.waitlist.get(10**9) is None
        assert [e.id for e in uow.waitlist.active(morning)] == [first.id, second.id]
        active = uow.waitlist.active_of(8, morning)
        assert active is not None and active.id == second.id
        assert uow.waitlist.active_of(8, afternoon) is None
        # The patient's entries, chronological: the morning before the afternoon.
        assert [e.id for e in uow.waitlist.of_patient(7, TOMORROW)] == [first.id, other.id]
        assert uow.waitlist.of_patient(7, TOMORROW + dt.timedelta(days=1)) == []

        stored.offer(NOW, NOW + HOLD)
        uow.waitlist.save(stored)
        uow.commit()

    with SqlUnitOfWork(engine) as uow:
        offered = uow.waitlist.get(first.id)
        assert offered is not None
        assert (offered.status, offered.offered_at, offered.expires_at) == (
            WaitlistStatus.OFFERED,
            NOW,
            NOW + HOLD,
        )
        before = NOW.date() - dt.timedelta(days=1)
        # Due: an offer whose hold is over, not before.
        assert uow.waitlist.due(NOW + HOLD - dt.timedelta(seconds=1), before, 10) == []
        assert uow.waitlist.due(NOW + HOLD, before, 10) == [morning]
        # Due: active entries of a session long started (its date before ``before``).
        later = TOMORROW + dt.timedelta(days=2)
        assert set(uow.waitlist.due(NOW, later, 10)) == {morning, afternoon}
        assert len(uow.waitlist.due(NOW, later, 1)) == 1
        offered.lapse(NOW + HOLD)
        uow.waitlist.save(offered)
        uow.commit()

    with SqlUnitOfWork(engine) as uow:
        lapsed = uow.waitlist.get(first.id)
        assert lapsed is not None
        assert (lapsed.status, lapsed.ended_at) == (WaitlistStatus.LAPSED, NOW + HOLD)
        assert [e.id for e in uow.waitlist.active(morning)] == [second.id]
        assert uow.waitlist.active_of(7, morning) is None
        assert uow.waitlist.due(NOW + HOLD, NOW.date(), 10) == []
        # Due: a session with free places while patients wait.
        uow.places.ensure(morning, 1)
        uow.places.queue(morning, 1)
        assert uow.waitlist.due(NOW, NOW.date(), 10) == [morning]
        uow.commit()


def test_the_unique_key_refuses_a_second_active_entry_but_not_after_one_ended(
    engine: Engine,
) -> None:
    session = Session(_doctor(engine), TOMORROW, Period.MORNING)
    with SqlUnitOfWork(engine) as uow:
        entry = uow.waitlist.add(WaitlistEntry.join(session, 9, NOW))
        # Bypassing every check of the service: the database still says no.
        with pytest.raises(AlreadyWaiting):
            uow.waitlist.add(WaitlistEntry.join(session, 9, NOW))
        afternoon = Session(session.doctor_id, session.date, Period.AFTERNOON)
        uow.waitlist.add(WaitlistEntry.join(afternoon, 9, NOW))
        entry.leave(NOW)
        uow.waitlist.save(entry)
        # Ended entries never collide, with an active one or with each other.
        again = uow.waitlist.add(WaitlistEntry.join(session, 9, NOW))
        again.leave(NOW)
        uow.waitlist.save(again)
        uow.waitlist.add(WaitlistEntry.join(session, 9, NOW))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert [e.status for e in uow.waitlist.of_patient(9, TOMORROW)] == [
            WaitlistStatus.LEFT,
            WaitlistStatus.LEFT,
            WaitlistStatus.WAITING,
            WaitlistStatus.WAITING,
        ]


# --- the checks -----------------------------------------------------------------------------------


def test_the_check_refuses_more_places_booked_and_held_than_the_quota(engine: Engine) -> None:
    doctor_id = _doctor(engine)
    with engine.connect() as connection, connection.begin():
        connection.execute(
            insert(session_places).values(
                doctor_id=doctor_id,
                date=TOMORROW,
                period=Period.MORNING,
                quota=2,
                booked=1,
                issued=1,
                held=1,
            )
        )
        # MariaDB reports a failed CHECK as error 4025, SQLite as an integrity error.
        with pytest.raises(DBAPIError, match="places_offered"):
            connection.execute(update(session_places).values(held=session_places.c.held + 1))
        with pytest.raises(DBAPIError, match="places_offered"):
            connection.execute(update(session_places).values(waiting=-1))


def test_the_check_keeps_waiter_id_to_the_status(engine: Engine) -> None:
    session = Session(_doctor(engine), TOMORROW, Period.MORNING)
    with SqlUnitOfWork(engine) as uow:
        entry = uow.waitlist.add(WaitlistEntry.join(session, 9, NOW))
        uow.commit()
    c = waitlist_entries.c
    # An entry that ended while still holding the patient's key: refused.
    with (
        engine.connect() as connection,
        connection.begin(),
        pytest.raises(DBAPIError, match="waiter_matches_status"),
    ):
        connection.execute(update(waitlist_entries).where(c.id == entry.id).values(status="left"))
    # An active entry that gave up its key (so that a second one could join): refused.
    with (
        engine.connect() as connection,
        connection.begin(),
        pytest.raises(DBAPIError, match="waiter_matches_status"),
    ):
        connection.execute(update(waitlist_entries).where(c.id == entry.id).values(waiter_id=None))
    with (
        engine.connect() as connection,
        connection.begin(),
        pytest.raises(DBAPIError, match="offer_has_expiry"),
    ):
        connection.execute(
            update(waitlist_entries).where(c.id == entry.id).values(status="offered")
        )


# --- the service, end to end ----------------------------------------------------------------------


class Hospital:
    def __init__(self, engine: Engine) -> None:
        self.engine, self.clock = engine, ManualClock(NOW)
        self.doctor_id = _doctor(engine, self.clock)
        self.booking = BookingService(self.new_uow, self.clock)
        self.waitlist = WaitlistService(self.new_uow, self.clock)

    def new_uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def entry(self, entry: WaitlistEntry) -> WaitlistEntry:
        assert entry.id is not None
        return self.waitlist.entry_of(entry.patient_id, entry.id)

    def places(self) -> tuple[int, int, int, int]:
        with self.new_uow() as uow:
            found = uow.places.lock(Session(self.doctor_id, TOMORROW, Period.MORNING))
        return found.quota, found.booked, found.held, found.waiting

    def told(self, patient_id: int) -> list[NotificationKind]:
        with self.new_uow() as uow:
            return [
                n.kind
                for n in uow.notifications.since(0, 1000)
                if n.recipient_id == patient_id and n.kind.value.startswith("waitlist")
            ]


def test_join_cancel_offer_accept(engine: Engine) -> None:
    world = Hospital(engine)
    first = world.booking.book(1, world.doctor_id, TOMORROW, Period.MORNING)
    second = world.waitlist.join(2, world.doctor_id, TOMORROW, Period.MORNING)
    third = world.waitlist.join(3, world.doctor_id, TOMORROW, Period.MORNING)
    assert world.places() == (1, 1, 0, 2)

    assert first.id is not None
    world.booking.cancel(1, first.id)

    offered = world.entry(second)
    assert (offered.status, offered.expires_at) == (WaitlistStatus.OFFERED, NOW + HOLD)
    assert world.entry(third).status is WaitlistStatus.WAITING
    assert world.places() == (1, 0, 1, 1)
    with pytest.raises(SessionFull):
        world.booking.book(4, world.doctor_id, TOMORROW, Period.MORNING)
    assert third.id is not None
    with pytest.raises(NoOffer):
        world.booking.accept_offer(3, third.id)

    world.clock.advance(HOLD - dt.timedelta(seconds=1))
    assert second.id is not None
    appointment = world.booking.accept_offer(2, second.id)

    booked = world.entry(second)
    assert (booked.status, booked.appointment_id) == (WaitlistStatus.BOOKED, appointment.id)
    assert world.places() == (1, 1, 0, 1)
    assert world.told(2) == [NotificationKind.WAITLIST_OFFER]
    assert world.told(3) == []


def test_an_offer_lapses_by_the_sweep_and_goes_to_the_next(engine: Engine) -> None:
    world = Hospital(engine)
    first = world.booking.book(1, world.doctor_id, TOMORROW, Period.MORNING)
    second = world.waitlist.join(2, world.doctor_id, TOMORROW, Period.MORNING)
    third = world.waitlist.join(3, world.doctor_id, TOMORROW, Period.MORNING)
    assert first.id is not None
    world.booking.cancel(1, first.id)
    assert world.waitlist.sweep().lapsed == 0  # not yet
    world.clock.advance(HOLD)

    result = world.waitlist.sweep()

    assert (result.lapsed, result.offered) == (1, 1)
    assert world.entry(second).status is WaitlistStatus.LAPSED
    nxt = world.entry(third)
    assert (nxt.status, nxt.expires_at) == (WaitlistStatus.OFFERED, NOW + 2 * HOLD)
    assert world.places() == (1, 0, 1, 0)
    assert world.waitlist.sweep() == type(result)(0, 0, 0, 0)  # each offer once
    assert world.told(2) == [NotificationKind.WAITLIST_OFFER, NotificationKind.WAITLIST_LAPSED]
    assert second.id is not None
    with pytest.raises(NoOffer):
        world.booking.accept_offer(2, second.id)
    assert third.id is not None
    world.booking.accept_offer(3, third.id)
    assert world.places() == (1, 1, 0, 0)
