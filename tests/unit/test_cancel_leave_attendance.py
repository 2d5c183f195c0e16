"""BookingService after the booking: cancellation, a doctor's leave, and attendance."""

from __future__ import annotations

import datetime as dt

import pytest
from unit_support import NOW, TODAY, TOMORROW, DailyCount, MakeDoctor, PlacesLeft, ident, local

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.domain import (
    AppointmentStatus,
    BookingPolicy,
    CancelledBy,
    Leave,
    Period,
    Session,
    WeeklySchedule,
)
from medbook.domain.shared.errors import (
    AlreadyOnLeave,
    AppointmentNotFound,
    DoctorNotFound,
    InvalidTransition,
    NotCancellable,
    NotOffered,
    NotYetStarted,
    OutsideWindow,
)
from medbook.services import BookingService, DirectoryService

MORNING, AFTERNOON = Period.MORNING, Period.AFTERNOON
PATIENT = 501


# --- cancel -------------------------------------------------------------------------------------


def test_a_patient_cancels_their_appointment(
    booking: BookingService,
    doctor_id: int,
    clock: ManualClock,
    daily_count: DailyCount,
    places_left: PlacesLeft,
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    clock.advance(dt.timedelta(minutes=5))

    cancelled = booking.cancel(PATIENT, ident(appointment))

    assert cancelled.status is AppointmentStatus.CANCELLED
    assert cancelled.cancelled_by is CancelledBy.PATIENT
    assert cancelled.cancelled_at == NOW + dt.timedelta(minutes=5)
    assert booking.appointment(ident(appointment)).status is AppointmentStatus.CANCELLED
    assert daily_count(PATIENT, TOMORROW) == 0
    assert places_left(doctor_id, TOMORROW, MORNING) == 2


def test_a_cancellation_frees_exactly_one_place(
    booking: BookingService, doctor_id: int, places_left: PlacesLeft
) -> None:
    first = booking.book(1, doctor_id, TOMORROW, MORNING)
    booking.book(2, doctor_id, TOMORROW, MORNING)
    assert places_left(doctor_id, TOMORROW, MORNING) == 0

    booking.cancel(1, ident(first))

    assert places_left(doctor_id, TOMORROW, MORNING) == 1
    assert booking.book(3, doctor_id, TOMORROW, MORNING).number == 3
    assert places_left(doctor_id, TOMORROW, MORNING) == 0


def test_a_patient_cannot_cancel_another_patients_appointment(
    booking: BookingService, doctor_id: int, daily_count: DailyCount
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)

    with pytest.raises(AppointmentNotFound) as caught:
        booking.cancel(PATIENT + 1, ident(appointment))

    assert caught.value.code == "appointment_not_found"
    assert booking.appointment(ident(appointment)).status is AppointmentStatus.BOOKED
    assert daily_count(PATIENT, TOMORROW) == 1


def test_an_unknown_appointment_cannot_be_cancelled(booking: BookingService) -> None:
    with pytest.raises(AppointmentNotFound):
        booking.cancel(PATIENT, 404)


def test_an_appointment_cannot_be_cancelled_twice(
    booking: BookingService, doctor_id: int, daily_count: DailyCount, places_left: PlacesLeft
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    booking.book(2, doctor_id, TOMORROW, MORNING)
    booking.cancel(PATIENT, ident(appointment))

    with pytest.raises(NotCancellable) as caught:
        booking.cancel(PATIENT, ident(appointment))

    assert caught.value.code == "not_cancellable"
    assert places_left(doctor_id, TOMORROW, MORNING) == 1  # the place was given back once only
    assert daily_count(PATIENT, TOMORROW) == 0


@pytest.mark.parametrize(
    "moment", [local(TOMORROW, 8), local(TOMORROW, 9, 15)], ids=["at_start", "after_start"]
)
def test_by_default_an_appointment_cannot_be_cancelled_once_its_session_starts(
    booking: BookingService, doctor_id: int, clock: ManualClock, moment: dt.datetime
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    clock.set(moment)

    with pytest.raises(NotCancellable):
        booking.cancel(PATIENT, ident(appointment))

    assert booking.appointment(ident(appointment)).status is AppointmentStatus.BOOKED


def test_an_appointment_can_be_cancelled_just_before_its_session_starts(
    booking: BookingService, doctor_id: int, clock: ManualClock
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    clock.set(local(TOMORROW, 7, 59))

    assert booking.cancel(PATIENT, ident(appointment)).status is AppointmentStatus.CANCELLED


def test_a_configured_deadline_closes_cancellation_before_the_start(
    store: MemoryStore, clock: ManualClock, doctor_id: int
) -> None:
    policy = BookingPolicy(cancel_deadline=dt.timedelta(hours=2))
    booking = BookingService(store.unit_of_work, clock, policy)
    early = booking.book(1, doctor_id, TOMORROW, AFTERNOON)  # starts 13:30: cancel until 11:30
    late = booking.book(2, doctor_id, TOMORROW, AFTERNOON)

    clock.set(local(TOMORROW, 11, 29))
    assert booking.cancel(1, ident(early)).status is AppointmentStatus.CANCELLED
    clock.set(local(TOMORROW, 11, 30))
    with pytest.raises(NotCancellable):
        booking.cancel(2, ident(late))

    assert booking.appointment(ident(late)).status is AppointmentStatus.BOOKED


# --- leave --------------------------------------------------------------------------------------


def test_leave_cancels_the_sessions_appointments_and_names_their_patients(
    booking: BookingService, doctor_id: int, clock: ManualClock, daily_count: DailyCount
) -> None:
    first = booking.book(11, doctor_id, TOMORROW, MORNING)
    second = booking.book(12, doctor_id, TOMORROW, MORNING)
    elsewhere = booking.book(13, doctor_id, TOMORROW, AFTERNOON)
    clock.advance(dt.timedelta(hours=1))

    taken = booking.take_leave(doctor_id, TOMORROW, MORNING)

    assert taken.leave == Leave(doctor_id, TOMORROW, MORNING)
    assert taken.affected_patient_ids == (11, 12)
    assert [a.id for a in taken.cancelled] == [first.id, second.id]
    for appointment in (first, second):
        stored = booking.appointment(ident(appointment))
        assert stored.status is AppointmentStatus.CANCELLED
        assert stored.cancelled_by is CancelledBy.DOCTOR_LEAVE
        assert stored.cancelled_at == NOW + dt.timedelta(hours=1)
    assert booking.appointment(ident(elsewhere)).status is AppointmentStatus.BOOKED
    assert (daily_count(11, TOMORROW), daily_count(12, TOMORROW), daily_count(13, TOMORROW)) == (
        0,
        0,
        1,
    )


def test_leave_leaves_already_cancelled_appointments_alone(
    booking: BookingService, doctor_id: int
) -> None:
    gone = booking.book(11, doctor_id, TOMORROW, MORNING)
    booking.book(12, doctor_id, TOMORROW, MORNING)
    booking.cancel(11, ident(gone))

    taken = booking.take_leave(doctor_id, TOMORROW, MORNING)

    assert taken.affected_patient_ids == (12,)
    assert booking.appointment(ident(gone)).cancelled_by is CancelledBy.PATIENT


def test_a_session_on_leave_is_neither_offered_nor_bookable(
    booking: BookingService, doctor_id: int, places_left: PlacesLeft
) -> None:
    booking.book(11, doctor_id, TOMORROW, MORNING)

    taken = booking.take_leave(doctor_id, TOMORROW, MORNING)

    assert taken.affected_patient_ids == (11,)
    assert places_left(doctor_id, TOMORROW, MORNING) is None
    assert places_left(doctor_id, TOMORROW, AFTERNOON) == 2
    with pytest.raises(NotOffered):
        booking.book(11, doctor_id, TOMORROW, MORNING)


def test_leave_gives_back_the_places_it_cancels(
    store: MemoryStore, booking: BookingService, doctor_id: int
) -> None:
    # The places ledger must agree with the appointments that still hold a place.
    for patient in (11, 12):
        booking.book(patient, doctor_id, TOMORROW, MORNING)

    booking.take_leave(doctor_id, TOMORROW, MORNING)

    with store.unit_of_work() as uow:
        session = Session(doctor_id, TOMORROW, MORNING)
        assert uow.appointments.holding(session) == []
        assert uow.places.lock(session).booked == 0


def test_leave_of_an_unbooked_session_cancels_nothing(
    booking: BookingService, doctor_id: int, places_left: PlacesLeft
) -> None:
    taken = booking.take_leave(doctor_id, TOMORROW, AFTERNOON)

    assert taken.cancelled == ()
    assert taken.affected_patient_ids == ()
    assert places_left(doctor_id, TOMORROW, AFTERNOON) is None


def test_leave_cannot_be_taken_twice(booking: BookingService, doctor_id: int) -> None:
    booking.take_leave(doctor_id, TOMORROW, MORNING)

    with pytest.raises(AlreadyOnLeave) as caught:
        booking.take_leave(doctor_id, TOMORROW, MORNING)

    assert caught.value.code == "already_on_leave"


def test_leave_cannot_be_taken_for_a_session_that_has_started(
    booking: BookingService, doctor_id: int, clock: ManualClock
) -> None:
    clock.set(local(TOMORROW, 7))
    held = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    clock.set(local(TOMORROW, 8))

    with pytest.raises(OutsideWindow) as caught:
        booking.take_leave(doctor_id, TOMORROW, MORNING)

    assert caught.value.code == "outside_window"
    assert booking.appointment(ident(held)).status is AppointmentStatus.BOOKED
    with pytest.raises(OutsideWindow):
        booking.take_leave(doctor_id, TODAY - dt.timedelta(days=1), AFTERNOON)


def test_leave_can_be_taken_at_most_a_year_ahead(booking: BookingService, doctor_id: int) -> None:
    # NOW is in the morning of TODAY; the default horizon is 365 days, in the hospital's calendar.
    last = TODAY + dt.timedelta(days=365)
    monday_after = last + dt.timedelta(days=(7 - last.weekday()) % 7 or 7)

    taken = booking.take_leave(doctor_id, last, AFTERNOON)
    with pytest.raises(OutsideWindow) as caught:
        booking.take_leave(doctor_id, last + dt.timedelta(days=1), AFTERNOON)
    with pytest.raises(OutsideWindow):
        booking.take_leave(doctor_id, dt.date(9999, 12, 31), MORNING)
    with pytest.raises(OutsideWindow):
        booking.take_leave(doctor_id, monday_after, MORNING)

    assert taken.leave.date == last
    assert caught.value.field == "date"
    assert caught.value.details["last_date"] == last.isoformat()


def test_leave_cannot_be_taken_for_a_switched_off_session(
    booking: BookingService, make_doctor: MakeDoctor
) -> None:
    doctor = make_doctor(WeeklySchedule.every_day(4, 0))
    assert doctor.id is not None

    with pytest.raises(NotOffered):
        booking.take_leave(doctor.id, TOMORROW, AFTERNOON)


def test_leave_can_still_cancel_a_switched_off_session_that_holds_appointments(
    booking: BookingService, directory: DirectoryService, doctor_id: int, daily_count: DailyCount
) -> None:
    held = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    directory.set_schedule(doctor_id, WeeklySchedule.every_day(0, 2))  # kept: it holds a place

    taken = booking.take_leave(doctor_id, TOMORROW, MORNING)

    assert taken.affected_patient_ids == (PATIENT,)
    assert booking.appointment(ident(held)).cancelled_by is CancelledBy.DOCTOR_LEAVE
    assert daily_count(PATIENT, TOMORROW) == 0


def test_an_unknown_doctor_cannot_take_leave(booking: BookingService) -> None:
    with pytest.raises(DoctorNotFound):
        booking.take_leave(404, TOMORROW, MORNING)


# --- attendance ---------------------------------------------------------------------------------


def test_attendance_cannot_be_recorded_before_the_session_starts(
    booking: BookingService, doctor_id: int, clock: ManualClock
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    clock.set(local(TOMORROW, 7, 59))

    with pytest.raises(NotYetStarted) as caught:
        booking.record_attendance(doctor_id, ident(appointment), attended=True)

    assert caught.value.code == "session_not_started"
    assert booking.appointment(ident(appointment)).status is AppointmentStatus.BOOKED


@pytest.mark.parametrize(
    ("attended", "status"),
    [(True, AppointmentStatus.ATTENDED), (False, AppointmentStatus.NO_SHOW)],
)
def test_attendance_is_recorded_once_the_session_has_started(
    booking: BookingService,
    doctor_id: int,
    clock: ManualClock,
    daily_count: DailyCount,
    attended: bool,
    status: AppointmentStatus,
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    clock.set(local(TOMORROW, 8))

    recorded = booking.record_attendance(doctor_id, ident(appointment), attended=attended)

    assert recorded.status is status
    assert booking.appointment(ident(appointment)).status is status
    assert daily_count(PATIENT, TOMORROW) == 1  # the place stays held


def test_attendance_is_recorded_once(
    booking: BookingService, doctor_id: int, clock: ManualClock
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    clock.set(local(TOMORROW, 9))
    booking.record_attendance(doctor_id, ident(appointment), attended=True)

    with pytest.raises(InvalidTransition) as caught:
        booking.record_attendance(doctor_id, ident(appointment), attended=False)

    assert caught.value.code == "invalid_transition"
    assert booking.appointment(ident(appointment)).status is AppointmentStatus.ATTENDED


def test_a_cancelled_appointment_cannot_be_attended(
    booking: BookingService, doctor_id: int, clock: ManualClock
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    booking.cancel(PATIENT, ident(appointment))
    clock.set(local(TOMORROW, 9))

    with pytest.raises(InvalidTransition):
        booking.record_attendance(doctor_id, ident(appointment), attended=True)


def test_only_the_appointments_doctor_records_attendance(
    booking: BookingService, doctor_id: int, make_doctor: MakeDoctor, clock: ManualClock
) -> None:
    other = make_doctor(name="Dr Other")
    assert other.id is not None
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    clock.set(local(TOMORROW, 9))

    with pytest.raises(AppointmentNotFound):
        booking.record_attendance(other.id, ident(appointment), attended=True)

    assert booking.appointment(ident(appointment)).status is AppointmentStatus.BOOKED
