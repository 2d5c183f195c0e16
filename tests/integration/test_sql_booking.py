"""Booking on the real databases, one call at a time: what the SQL repositories must remember."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, event

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.domain import AppointmentStatus, Period, Session, WeeklySchedule
from medbook.domain.shared.actors import Actor, Role
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


def test_a_booking_in_a_booked_session_is_one_transaction_of_few_statements(
    engine: Engine, clock: ManualClock
) -> None:
    """Issue 13: the booking's statements are the locks, the conditional writes and the insert,
    nothing read twice, all in one transaction (the view the API answers with included)."""
    booking, doctor_id = _one_doctor(engine, clock, quota=5)
    booking.book(PATIENT, doctor_id, TOMORROW, Period.MORNING)  # the session's row exists now
    sent: list[str] = []
    transactions = []

    def statement(conn, cursor, text, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not text.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE
            sent.append(" ".join(text.split()[:3]))

    def commit(conn) -> None:  # type: ignore[no-untyped-def]
        transactions.append("commit")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        view = booking.book_as(
            Actor(PATIENT + 1, Role.PATIENT), doctor_id, TOMORROW, Period.MORNING
        )
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)

    assert view.appointment.number == 2
    assert transactions == ["commit"]
    # the doctor with their hospital's time zone (shared lock), the hospital's policy (its no-show
    # rule, issue 16: a primary-key read), the places (locked), leave, take a place, the
    # appointment, the day counter's row and its conditional update, the view.
    assert len(sent) == 9, sent
    assert sent[1].startswith("SELECT hospital_policies."), sent
