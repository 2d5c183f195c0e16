"""The appointment lifecycle: booked → cancelled | attended | no_show, and nothing else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from unit_support import NOW, TOMORROW

from medbook.domain import Appointment, AppointmentStatus, CancelledBy, Period, Session
from medbook.domain.shared.errors import InvalidTransition, InvalidValue, NotCancellable

SESSION = Session(7, TOMORROW, Period.AFTERNOON)
LATER = NOW + dt.timedelta(hours=1)


def booked(number: int = 1) -> Appointment:
    return Appointment.book(SESSION, patient_id=42, number=number, now=NOW)


def test_booking_takes_the_session_patient_and_number() -> None:
    appointment = booked(number=3)

    assert appointment.status is AppointmentStatus.BOOKED
    assert (appointment.patient_id, appointment.number, appointment.booked_at) == (42, 3, NOW)
    assert appointment.session == SESSION
    assert (appointment.doctor_id, appointment.date, appointment.period) == (
        7,
        TOMORROW,
        Period.AFTERNOON,
    )
    assert appointment.cancelled_at is None and appointment.cancelled_by is None
    assert appointment.id is None
    assert appointment.holds_place


@pytest.mark.parametrize("number", [0, -1])
def test_queue_numbers_start_at_one(number: int) -> None:
    with pytest.raises(InvalidValue) as caught:
        booked(number)

    assert caught.value.field == "number"


def test_the_booking_time_must_be_aware() -> None:
    with pytest.raises(InvalidValue) as caught:
        Appointment.book(SESSION, 42, 1, dt.datetime(2026, 11, 25, 8, 30))

    assert caught.value.field == "booked_at"


@pytest.mark.parametrize("by", list(CancelledBy))
def test_a_booked_appointment_can_be_cancelled(by: CancelledBy) -> None:
    appointment = booked()

    appointment.cancel(LATER, by)

    assert appointment.status is AppointmentStatus.CANCELLED
    assert appointment.cancelled_at == LATER
    assert appointment.cancelled_by is by
    assert not appointment.holds_place


def test_a_booked_appointment_can_be_attended() -> None:
    appointment = booked()

    appointment.attend()

    assert appointment.status is AppointmentStatus.ATTENDED
    assert appointment.holds_place


def test_a_booked_appointment_can_be_a_no_show() -> None:
    appointment = booked()

    appointment.mark_no_show()

    assert appointment.status is AppointmentStatus.NO_SHOW
    assert appointment.holds_place


FINISH: dict[AppointmentStatus, Callable[[Appointment], None]] = {
    AppointmentStatus.CANCELLED: lambda a: a.cancel(LATER, CancelledBy.PATIENT),
    AppointmentStatus.ATTENDED: Appointment.attend,
    AppointmentStatus.NO_SHOW: Appointment.mark_no_show,
}


@pytest.mark.parametrize("status", list(FINISH))
def test_only_a_booked_appointment_can_be_cancelled(status: AppointmentStatus) -> None:
    appointment = booked()
    FINISH[status](appointment)

    with pytest.raises(NotCancellable) as caught:
        appointment.cancel(LATER + dt.timedelta(hours=1), CancelledBy.DOCTOR_LEAVE)

    assert caught.value.code == "not_cancellable"
    assert appointment.status is status
    if status is AppointmentStatus.CANCELLED:  # the first cancellation is what stays on record
        assert (appointment.cancelled_at, appointment.cancelled_by) == (LATER, CancelledBy.PATIENT)
    else:
        assert appointment.cancelled_at is None


@pytest.mark.parametrize("status", list(FINISH))
@pytest.mark.parametrize(
    "finish", [Appointment.attend, Appointment.mark_no_show], ids=["attend", "no_show"]
)
def test_a_finished_appointment_cannot_be_attended_or_missed(
    status: AppointmentStatus, finish: Callable[[Appointment], None]
) -> None:
    appointment = booked()
    FINISH[status](appointment)

    with pytest.raises(InvalidTransition) as caught:
        finish(appointment)

    assert caught.value.code == "invalid_transition"
    assert appointment.status is status
