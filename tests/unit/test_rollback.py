"""A service call that fails midway leaves nothing half-written; a retried one writes once."""

from __future__ import annotations

import pytest
from unit_support import TOMORROW, Boom, PlacesLeft, failing

from medbook.adapters.memory import ManualClock, MemoryStore, MemoryUnitOfWork
from medbook.domain import AppointmentStatus, Period, WeeklySchedule
from medbook.domain.shared.errors import SessionFull
from medbook.ports.transaction import TransientConflict
from medbook.services import BookingService, DirectoryService

MORNING = Period.MORNING
PATIENT = 501


def test_a_full_session_does_not_leave_the_daily_count_taken(
    store: MemoryStore, booking: BookingService, doctor_id: int
) -> None:
    booking.book(1, doctor_id, TOMORROW, MORNING)
    booking.book(2, doctor_id, TOMORROW, MORNING)

    with pytest.raises(SessionFull):
        booking.book(PATIENT, doctor_id, TOMORROW, MORNING)

    with store.unit_of_work() as uow:
        assert uow.daily_counts.count(PATIENT, TOMORROW) == 0
        assert uow.appointments.of_patient(PATIENT) == []


def test_a_booking_that_fails_at_the_last_write_leaves_no_trace(
    store: MemoryStore, clock: ManualClock, doctor_id: int, places_left: PlacesLeft
) -> None:
    broken = BookingService(failing(store, "appointments", "add"), clock)

    with pytest.raises(Boom):
        broken.book(PATIENT, doctor_id, TOMORROW, MORNING)

    with store.unit_of_work() as uow:
        assert uow.daily_counts.count(PATIENT, TOMORROW) == 0
        assert uow.appointments.of_patient(PATIENT) == []
    assert places_left(doctor_id, TOMORROW, MORNING) == 2


def test_a_cancellation_that_fails_midway_keeps_the_appointment(
    store: MemoryStore,
    clock: ManualClock,
    booking: BookingService,
    doctor_id: int,
    places_left: PlacesLeft,
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    assert appointment.id is not None
    broken = BookingService(failing(store, "daily_counts", "release"), clock)

    with pytest.raises(Boom):
        broken.cancel(PATIENT, appointment.id)

    assert booking.appointment(appointment.id).status is AppointmentStatus.BOOKED
    assert places_left(doctor_id, TOMORROW, MORNING) == 1
    with store.unit_of_work() as uow:
        assert uow.daily_counts.count(PATIENT, TOMORROW) == 1


def test_a_leave_that_fails_midway_cancels_nothing(
    store: MemoryStore,
    clock: ManualClock,
    booking: BookingService,
    doctor_id: int,
    places_left: PlacesLeft,
) -> None:
    held = [booking.book(patient, doctor_id, TOMORROW, MORNING) for patient in (11, 12)]
    # The first patient's count is released, the second's fails.
    broken = BookingService(failing(store, "daily_counts", "release", after=1), clock)

    with pytest.raises(Boom):
        broken.take_leave(doctor_id, TOMORROW, MORNING)

    assert [booking.appointment(a.id).status for a in held if a.id] == [
        AppointmentStatus.BOOKED,
        AppointmentStatus.BOOKED,
    ]
    assert places_left(doctor_id, TOMORROW, MORNING) == 0  # still offered: no leave was stored
    with store.unit_of_work() as uow:
        assert uow.daily_counts.count(11, TOMORROW) == 1
        assert not uow.leaves.exists(held[0].session)


def test_a_schedule_change_that_fails_midway_keeps_the_old_schedule(
    store: MemoryStore,
    clock: ManualClock,
    directory: DirectoryService,
    booking: BookingService,
    doctor_id: int,
) -> None:
    booking.book(PATIENT, doctor_id, TOMORROW, MORNING)  # so there is a ledger row to resize
    broken = DirectoryService(failing(store, "places", "resize"), clock)

    with pytest.raises(Boom):
        broken.set_schedule(doctor_id, WeeklySchedule.every_day(9, 9))

    assert directory.doctor(doctor_id).schedule == WeeklySchedule.every_day(2, 2)


def test_a_booking_retried_after_a_conflict_is_written_once(
    store: MemoryStore, clock: ManualClock, doctor_id: int, places_left: PlacesLeft
) -> None:
    commits = {"n": 0}

    def conflicting_once() -> MemoryUnitOfWork:
        uow = store.unit_of_work()
        real_commit = uow.commit

        def commit() -> None:
            commits["n"] += 1
            # The booking proper: the first try finds no ledger row (and writes nothing), the
            # second commit makes the row.
            if commits["n"] == 3:
                raise TransientConflict("deadlock")
            real_commit()

        uow.commit = commit  # type: ignore[method-assign]
        return uow

    booking = BookingService(conflicting_once, clock)

    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)

    assert commits["n"] == 4
    assert appointment.number == 1
    assert [a.id for a in booking.appointments_of_patient(PATIENT)] == [appointment.id]
    assert places_left(doctor_id, TOMORROW, MORNING) == 1
    with store.unit_of_work() as uow:
        assert uow.daily_counts.count(PATIENT, TOMORROW) == 1


def test_an_uncommitted_unit_of_work_is_rolled_back(store: MemoryStore) -> None:
    with store.unit_of_work() as uow:
        assert uow.daily_counts.add(PATIENT, TOMORROW, limit=3)
        assert uow.daily_counts.count(PATIENT, TOMORROW) == 1

    with store.unit_of_work() as uow:
        assert uow.daily_counts.count(PATIENT, TOMORROW) == 0
