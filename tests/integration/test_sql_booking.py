"""Booking on the real databases, one call at a time: what the SQL repositories must remember."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.domain import AppointmentStatus, Period, Session, WeeklySchedule
from medbook.services import BookingService, DirectoryService

TOMORROW = dt.date(2026, 11, 26)
PATIENT = 5


def _one_doctor(engine: Engine, clock: ManualClock, *, quota: int) -> tuple[BookingService, int]:
    def new_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    directory = DirectoryService(new_uow, clock)
    hospital = directory.add_hospital("Peking Union Medical College Hospital")
    department = directory.add_department(hospital.id, "Cardiology")
    doctor = directory.add_doctor(hospital.id, department.id, name="Liu Yang", phone="13900000005")
    directory.set_schedule(doctor.id, WeeklySchedule.every_day(quota, quota))
    directory.set_verified(doctor.id, True)
    return BookingService(new_uow, clock), doctor.id


def test_a_patient_who_cancels_can_book_the_same_session_again(
    engine: Engine, clock: ManualClock
) -> None:
    # One place, so that each cancellation must also give the place back for the next booking.
    booking, doctor_id = _one_doctor(engine, clock, quota=1)
    session = Session(doctor_id, TOMORROW, Period.MORNING)

    kept = None
    for _ in range(3):  # book → cancel → book → cancel → book
        if kept is not None:
            booking.cancel(PATIENT, kept)
            with SqlUnitOfWork(engine) as uow:
                assert uow.appointments.held_by(PATIENT, session) is None
        appointment = booking.book(PATIENT, doctor_id, TOMORROW, Period.MORNING)
        kept = appointment.id
        with SqlUnitOfWork(engine) as uow:
            held = uow.appointments.held_by(PATIENT, session)
            assert held is not None and held.id == kept

    with SqlUnitOfWork(engine) as uow:
        statuses = [a.status for a in uow.appointments.of_patient(PATIENT)]
        assert statuses == [AppointmentStatus.CANCELLED] * 2 + [AppointmentStatus.BOOKED]
        assert [a.id for a in uow.appointments.holding(session)] == [kept]
        places = uow.places.lock(session)
        assert (places.quota, places.booked) == (1, 1)
        assert uow.daily_counts.count(PATIENT, TOMORROW) == 1
