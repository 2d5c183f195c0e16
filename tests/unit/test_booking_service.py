"""BookingService through the in-memory store: offered sessions, booking, and the listings."""

from __future__ import annotations

import datetime as dt

import pytest
from unit_support import (
    LAST_BOOKABLE,
    NOW,
    TODAY,
    TOMORROW,
    DailyCount,
    MakeDoctor,
    PlacesLeft,
    ident,
    local,
)

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.domain import (
    WEEKDAYS,
    AppointmentStatus,
    BookingPolicy,
    OfferedSession,
    Period,
    Session,
    WeeklySchedule,
)
from medbook.domain.shared.errors import (
    AlreadyBooked,
    AppointmentNotFound,
    DailyLimitReached,
    DoctorNotFound,
    InvalidValue,
    NotOffered,
    OutsideWindow,
    SessionFull,
)
from medbook.services import BookingService, DirectoryService

MORNING, AFTERNOON = Period.MORNING, Period.AFTERNOON
DAY_AFTER = TOMORROW + dt.timedelta(days=1)
PATIENT = 501


def only(**sessions: dict[str, int]) -> WeeklySchedule:
    """Every session off but the ones given, e.g. ``only(friday={"morning": 4})``."""
    days = {day: {"morning": 0, "afternoon": 0} for day in WEEKDAYS}
    for day, periods in sessions.items():
        days[day] |= periods
    return WeeklySchedule.from_mapping(days)


# --- offered sessions ---------------------------------------------------------------------------


def test_offered_sessions_are_the_open_switched_on_sessions_with_their_places(
    booking: BookingService, doctor_id: int
) -> None:
    offered = booking.offered_sessions(doctor_id, TODAY, DAY_AFTER)

    # Today's morning started at 08:00 (it is 08:30): not offered any more.
    assert offered == [
        OfferedSession(Session(doctor_id, TODAY, AFTERNOON), 2, 0),
        OfferedSession(Session(doctor_id, TOMORROW, MORNING), 2, 0),
        OfferedSession(Session(doctor_id, TOMORROW, AFTERNOON), 2, 0),
        OfferedSession(Session(doctor_id, DAY_AFTER, MORNING), 2, 0),
        OfferedSession(Session(doctor_id, DAY_AFTER, AFTERNOON), 2, 0),
    ]


def test_only_the_sessions_the_schedule_switches_on_are_offered(
    booking: BookingService, make_doctor: MakeDoctor
) -> None:
    doctor = make_doctor(
        only(thursday={"afternoon": 7}, saturday={"morning": 3}, sunday={"afternoon": 1})
    )

    offered = booking.offered_sessions(ident(doctor), TODAY, TODAY + dt.timedelta(days=6))

    assert [(o.session.date, o.session.period, o.quota) for o in offered] == [
        (dt.date(2026, 11, 26), AFTERNOON, 7),  # Thursday
        (dt.date(2026, 11, 28), MORNING, 3),  # Saturday
        (dt.date(2026, 11, 29), AFTERNOON, 1),  # Sunday
    ]


def test_offered_sessions_show_the_places_left(booking: BookingService, doctor_id: int) -> None:
    booking.book(1, doctor_id, TOMORROW, MORNING)

    offered = booking.offered_sessions(doctor_id, TOMORROW, TOMORROW)

    assert [(o.session.period, o.quota, o.booked, o.remaining) for o in offered] == [
        (MORNING, 2, 1, 1),
        (AFTERNOON, 2, 0, 2),
    ]


def test_a_full_session_is_still_offered_with_no_places_left(
    booking: BookingService, doctor_id: int, places_left: PlacesLeft
) -> None:
    booking.book(1, doctor_id, TOMORROW, MORNING)
    booking.book(2, doctor_id, TOMORROW, MORNING)

    assert places_left(doctor_id, TOMORROW, MORNING) == 0


def test_sessions_on_leave_are_not_offered(booking: BookingService, doctor_id: int) -> None:
    booking.take_leave(doctor_id, TOMORROW, MORNING)

    offered = booking.offered_sessions(doctor_id, TOMORROW, TOMORROW)

    assert [o.session.period for o in offered] == [AFTERNOON]


def test_sessions_beyond_the_window_are_not_offered(
    booking: BookingService, doctor_id: int
) -> None:
    offered = booking.offered_sessions(
        doctor_id, LAST_BOOKABLE - dt.timedelta(days=1), LAST_BOOKABLE + dt.timedelta(days=5)
    )

    assert {o.session.date for o in offered} == {
        LAST_BOOKABLE - dt.timedelta(days=1),
        LAST_BOOKABLE,
    }
    assert len(offered) == 4


def test_no_session_is_offered_in_the_past_or_far_ahead(
    booking: BookingService, doctor_id: int
) -> None:
    last_week = TODAY - dt.timedelta(days=7)

    assert booking.offered_sessions(doctor_id, last_week, TODAY - dt.timedelta(days=1)) == []
    assert (
        booking.offered_sessions(
            doctor_id, LAST_BOOKABLE + dt.timedelta(days=1), LAST_BOOKABLE + dt.timedelta(days=30)
        )
        == []
    )


def test_offered_sessions_move_with_the_clock(
    booking: BookingService, doctor_id: int, clock: ManualClock
) -> None:
    clock.set(local(TODAY, 13, 30))  # the afternoon starts now

    offered = booking.offered_sessions(doctor_id, TODAY, TOMORROW)

    assert [(o.session.date, o.session.period) for o in offered] == [
        (TOMORROW, MORNING),
        (TOMORROW, AFTERNOON),
    ]


def test_offered_sessions_follow_the_hospitals_time_zone(
    directory: DirectoryService, store: MemoryStore, clock: ManualClock
) -> None:
    # 00:30 UTC is 00:30 in London: today's London morning (08:00 GMT) has not started.
    london = directory.add_hospital("St Thomas' Hospital", timezone="Europe/London")
    assert london.id is not None
    ward = directory.add_department(london.id, "Cardiology")
    assert ward.id is not None
    doctor = directory.add_doctor(london.id, ward.id, name="Dr Smith", phone="13600000000")
    directory.set_schedule(ident(doctor), WeeklySchedule.every_day(1, 0))
    directory.set_verified(ident(doctor), True)
    booking = BookingService(store.unit_of_work, clock)

    offered = booking.offered_sessions(ident(doctor), TODAY, TODAY)

    assert [o.session for o in offered] == [Session(ident(doctor), TODAY, MORNING)]
    assert booking.book(PATIENT, ident(doctor), TODAY, MORNING).number == 1


def test_a_reversed_or_too_long_range_is_refused(booking: BookingService, doctor_id: int) -> None:
    with pytest.raises(InvalidValue) as reversed_range:
        booking.offered_sessions(doctor_id, TOMORROW, TODAY)
    with pytest.raises(InvalidValue) as too_long:
        booking.offered_sessions(doctor_id, TODAY, TODAY + dt.timedelta(days=93))

    assert reversed_range.value.field == too_long.value.field == "to"
    assert booking.offered_sessions(doctor_id, TODAY, TODAY + dt.timedelta(days=92))


def test_an_unverified_doctor_offers_nothing_and_is_not_found(
    booking: BookingService, make_doctor: MakeDoctor
) -> None:
    doctor = make_doctor(verified=False)

    # As private as their profile: the public listing does not tell they exist.
    with pytest.raises(DoctorNotFound):
        booking.offered_sessions(ident(doctor), TODAY, TOMORROW)


def test_an_unknown_doctor_offers_nothing(booking: BookingService) -> None:
    with pytest.raises(DoctorNotFound):
        booking.offered_sessions(404, TODAY, TOMORROW)


# --- booking ------------------------------------------------------------------------------------


def test_a_booking_gives_the_patient_a_place(
    booking: BookingService, doctor_id: int, daily_count: DailyCount
) -> None:
    appointment = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)

    assert appointment.id is not None
    assert appointment.status is AppointmentStatus.BOOKED
    assert (appointment.patient_id, appointment.doctor_id) == (PATIENT, doctor_id)
    assert (appointment.date, appointment.period, appointment.number) == (TOMORROW, MORNING, 1)
    assert appointment.booked_at == NOW
    assert booking.appointment(appointment.id) == appointment
    assert booking.appointments_of_patient(PATIENT) == [appointment]
    assert daily_count(PATIENT, TOMORROW) == 1


def test_todays_session_can_be_booked_until_it_starts(
    booking: BookingService, doctor_id: int, clock: ManualClock
) -> None:
    clock.set(local(TODAY, 13, 29))

    assert booking.book(PATIENT, doctor_id, TODAY, AFTERNOON).number == 1


def test_queue_numbers_count_up_per_session(
    booking: BookingService, make_doctor: MakeDoctor
) -> None:
    doctor = make_doctor(WeeklySchedule.every_day(5, 5))

    numbers = [
        booking.book(patient, ident(doctor), TOMORROW, MORNING).number for patient in (1, 2, 3)
    ]
    other_session = booking.book(1, ident(doctor), TOMORROW, AFTERNOON)

    assert numbers == [1, 2, 3]
    assert other_session.number == 1


def test_queue_numbers_are_never_reused_after_a_cancellation(
    booking: BookingService, make_doctor: MakeDoctor
) -> None:
    doctor = make_doctor(WeeklySchedule.every_day(5, 5))
    first, second, third = (
        booking.book(patient, ident(doctor), TOMORROW, MORNING) for patient in (1, 2, 3)
    )

    booking.cancel(2, ident(second))
    fourth = booking.book(4, ident(doctor), TOMORROW, MORNING)
    booking.cancel(4, ident(fourth))
    again = booking.book(2, ident(doctor), TOMORROW, MORNING)

    assert (first.number, third.number, fourth.number, again.number) == (1, 3, 4, 5)


def test_a_patient_holds_one_place_per_session(
    booking: BookingService, doctor_id: int, daily_count: DailyCount, places_left: PlacesLeft
) -> None:
    booking.book(PATIENT, doctor_id, TOMORROW, MORNING)

    with pytest.raises(AlreadyBooked) as caught:
        booking.book(PATIENT, doctor_id, TOMORROW, MORNING)

    assert caught.value.code == "already_booked"
    assert len(booking.appointments_of_patient(PATIENT)) == 1
    assert daily_count(PATIENT, TOMORROW) == 1
    assert places_left(doctor_id, TOMORROW, MORNING) == 1


def test_a_patient_holding_the_last_place_is_told_so_not_that_the_session_is_full(
    booking: BookingService, make_doctor: MakeDoctor, daily_count: DailyCount
) -> None:
    doctor = make_doctor(WeeklySchedule.every_day(1, 1))
    booking.book(PATIENT, ident(doctor), TOMORROW, MORNING)

    # The service's own check answers first: a store that refused the duplicate only on insert
    # (after the place and the daily count were taken) would say "session_full" here.
    with pytest.raises(AlreadyBooked):
        booking.book(PATIENT, ident(doctor), TOMORROW, MORNING)

    assert daily_count(PATIENT, TOMORROW) == 1


def test_a_patient_at_the_daily_limit_who_books_again_is_told_they_hold_the_place(
    store: MemoryStore, clock: ManualClock, doctor_id: int, daily_count: DailyCount
) -> None:
    booking = BookingService(store.unit_of_work, clock, BookingPolicy(max_active_per_day=1))
    booking.book(PATIENT, doctor_id, TOMORROW, MORNING)

    with pytest.raises(AlreadyBooked):
        booking.book(PATIENT, doctor_id, TOMORROW, MORNING)

    assert daily_count(PATIENT, TOMORROW) == 1


def test_a_patient_may_book_the_other_session_of_the_same_doctor(
    booking: BookingService, doctor_id: int
) -> None:
    booking.book(PATIENT, doctor_id, TOMORROW, MORNING)

    assert booking.book(PATIENT, doctor_id, TOMORROW, AFTERNOON).period is AFTERNOON


def test_a_patient_may_book_again_after_cancelling(booking: BookingService, doctor_id: int) -> None:
    first = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)
    booking.cancel(PATIENT, ident(first))

    again = booking.book(PATIENT, doctor_id, TOMORROW, MORNING)

    assert again.number == 2
    assert again.status is AppointmentStatus.BOOKED


def test_a_full_session_refuses_the_next_patient(
    booking: BookingService, doctor_id: int, daily_count: DailyCount
) -> None:
    booking.book(1, doctor_id, TOMORROW, MORNING)
    booking.book(2, doctor_id, TOMORROW, MORNING)

    with pytest.raises(SessionFull) as caught:
        booking.book(3, doctor_id, TOMORROW, MORNING)

    assert caught.value.code == "session_full"
    # Nothing of the refused booking is left behind: no appointment, no daily count.
    assert booking.appointments_of_patient(3) == []
    assert daily_count(3, TOMORROW) == 0
    assert [a.patient_id for a in booking.appointments_of_doctor(doctor_id)] == [1, 2]


def test_a_patient_holds_at_most_three_appointments_a_day(
    booking: BookingService,
    make_doctor: MakeDoctor,
    daily_count: DailyCount,
    places_left: PlacesLeft,
) -> None:
    doctors = [ident(make_doctor(name=f"Dr {n}")) for n in range(4)]
    held = [booking.book(PATIENT, doctor, TOMORROW, MORNING) for doctor in doctors[:3]]

    with pytest.raises(DailyLimitReached) as caught:
        booking.book(PATIENT, doctors[3], TOMORROW, AFTERNOON)

    assert caught.value.code == "daily_limit_reached"
    assert daily_count(PATIENT, TOMORROW) == 3
    assert places_left(doctors[3], TOMORROW, AFTERNOON) == 2
    # Another day is another count; giving a place back frees one for the day.
    assert booking.book(PATIENT, doctors[3], DAY_AFTER, MORNING).number == 1
    booking.cancel(PATIENT, ident(held[1]))
    assert daily_count(PATIENT, TOMORROW) == 2
    assert booking.book(PATIENT, doctors[3], TOMORROW, AFTERNOON).number == 1
    assert daily_count(PATIENT, TOMORROW) == 3


def test_the_daily_limit_counts_both_sessions_of_one_doctor(
    booking: BookingService, make_doctor: MakeDoctor
) -> None:
    first, second = ident(make_doctor()), ident(make_doctor())
    booking.book(PATIENT, first, TOMORROW, MORNING)
    booking.book(PATIENT, first, TOMORROW, AFTERNOON)
    booking.book(PATIENT, second, TOMORROW, MORNING)

    with pytest.raises(DailyLimitReached):
        booking.book(PATIENT, second, TOMORROW, AFTERNOON)


def test_the_daily_limit_follows_the_policy(
    store: MemoryStore, clock: ManualClock, make_doctor: MakeDoctor
) -> None:
    booking = BookingService(store.unit_of_work, clock, BookingPolicy(max_active_per_day=1))
    doctor = ident(make_doctor())
    booking.book(PATIENT, doctor, TOMORROW, MORNING)

    with pytest.raises(DailyLimitReached):
        booking.book(PATIENT, doctor, TOMORROW, AFTERNOON)


def test_an_unverified_doctor_cannot_be_booked(
    booking: BookingService, make_doctor: MakeDoctor, daily_count: DailyCount
) -> None:
    doctor = make_doctor(verified=False)

    with pytest.raises(DoctorNotFound) as caught:
        booking.book(PATIENT, ident(doctor), TOMORROW, MORNING)

    # The same answer as for an id that names no doctor: an unverified doctor is not public.
    assert caught.value.code == "doctor_not_found"
    assert caught.value.message == f"no doctor {ident(doctor)}"
    assert booking.appointments_of_doctor(ident(doctor)) == []
    assert daily_count(PATIENT, TOMORROW) == 0


def test_an_unknown_doctor_cannot_be_booked(booking: BookingService) -> None:
    with pytest.raises(DoctorNotFound) as caught:
        booking.book(PATIENT, 404, TOMORROW, MORNING)

    assert caught.value.code == "doctor_not_found"


def test_a_switched_off_session_cannot_be_booked(
    booking: BookingService, make_doctor: MakeDoctor, daily_count: DailyCount
) -> None:
    doctor = make_doctor(only(thursday={"morning": 10}))

    with pytest.raises(NotOffered) as caught:
        booking.book(PATIENT, ident(doctor), TOMORROW, AFTERNOON)  # Thursday afternoon is off

    assert caught.value.code == "not_offered"
    assert booking.appointments_of_patient(PATIENT) == []
    assert daily_count(PATIENT, TOMORROW) == 0


@pytest.mark.parametrize(
    ("date", "period"),
    [
        (TODAY, MORNING),  # started at 08:00
        (TODAY - dt.timedelta(days=1), AFTERNOON),
        (LAST_BOOKABLE + dt.timedelta(days=1), MORNING),
    ],
    ids=["started", "yesterday", "beyond_window"],
)
def test_a_session_outside_the_window_cannot_be_booked(
    booking: BookingService, doctor_id: int, date: dt.date, period: Period
) -> None:
    with pytest.raises(OutsideWindow) as caught:
        booking.book(PATIENT, doctor_id, date, period)

    assert caught.value.code == "outside_window"
    assert booking.appointments_of_patient(PATIENT) == []


def test_the_last_date_of_the_window_can_be_booked(booking: BookingService, doctor_id: int) -> None:
    assert booking.book(PATIENT, doctor_id, LAST_BOOKABLE, AFTERNOON).date == LAST_BOOKABLE


def test_a_session_on_leave_cannot_be_booked(booking: BookingService, doctor_id: int) -> None:
    booking.take_leave(doctor_id, TOMORROW, MORNING)

    with pytest.raises(NotOffered):
        booking.book(PATIENT, doctor_id, TOMORROW, MORNING)


# --- listings -----------------------------------------------------------------------------------


def test_a_patients_appointments_are_listed_in_time_order(
    booking: BookingService, make_doctor: MakeDoctor
) -> None:
    first, second = ident(make_doctor()), ident(make_doctor())
    booking.book(1, second, DAY_AFTER, MORNING)
    booking.book(PATIENT, second, DAY_AFTER, MORNING)
    booking.book(PATIENT, first, TOMORROW, AFTERNOON)
    booking.book(PATIENT, second, TOMORROW, MORNING)
    booking.book(2, first, TOMORROW, MORNING)

    listed = booking.appointments_of_patient(PATIENT)
    that_day = booking.appointments_of_patient(PATIENT, TOMORROW)

    assert [(a.date, a.period, a.doctor_id) for a in listed] == [
        (TOMORROW, MORNING, second),
        (TOMORROW, AFTERNOON, first),
        (DAY_AFTER, MORNING, second),
    ]
    assert [(a.date, a.period) for a in that_day] == [(TOMORROW, MORNING), (TOMORROW, AFTERNOON)]
    assert booking.appointments_of_patient(PATIENT, TODAY) == []


def test_a_doctors_appointments_are_listed_by_session_and_queue_number(
    booking: BookingService, make_doctor: MakeDoctor
) -> None:
    doctor, other = ident(make_doctor()), ident(make_doctor())
    booking.book(3, doctor, DAY_AFTER, MORNING)
    booking.book(2, doctor, TOMORROW, AFTERNOON)
    booking.book(1, doctor, TOMORROW, AFTERNOON)
    booking.book(4, doctor, TOMORROW, MORNING)
    booking.book(5, other, TOMORROW, MORNING)

    listed = booking.appointments_of_doctor(doctor)

    assert [(a.patient_id, a.period, a.number) for a in listed] == [
        (4, MORNING, 1),
        (2, AFTERNOON, 1),
        (1, AFTERNOON, 2),
        (3, MORNING, 1),
    ]
    assert [a.patient_id for a in booking.appointments_of_doctor(doctor, TOMORROW)] == [4, 2, 1]
    assert [a.patient_id for a in booking.appointments_of_doctor(other)] == [5]


def test_an_unknown_appointment_is_not_found(booking: BookingService) -> None:
    with pytest.raises(AppointmentNotFound) as caught:
        booking.appointment(404)

    assert caught.value.code == "appointment_not_found"
