"""A session's ledger row made from an older schedule is brought in line when someone books."""

from __future__ import annotations

import datetime as dt

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.domain import Period, Session, WeeklySchedule
from medbook.services import BookingService, DirectoryService

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TOMORROW = dt.date(2026, 11, 26)


def test_a_row_made_with_a_stale_quota_takes_the_schedule_s_quota_at_booking() -> None:
    store = MemoryStore()
    clock = ManualClock(NOW)
    directory = DirectoryService(store.unit_of_work, clock)
    booking = BookingService(store.unit_of_work, clock)
    hospital = directory.add_hospital("Ruijin Hospital")
    department = directory.add_department(hospital.id, "Cardiology")
    doctor = directory.add_doctor(hospital.id, department.id, name="Li Na", phone="13800000002")
    directory.set_verified(doctor.id, True)
    session = Session(doctor.id, TOMORROW, Period.MORNING)
    # As a leave's preparation (or a racing first booking) would leave it: a row made while the
    # schedule said 0, which set_schedule (resizing existing rows only) did not see.
    with store.unit_of_work() as uow:
        uow.places.ensure(session, 0)
        uow.commit()
    with store.unit_of_work() as uow:
        uow.doctors.save(_with_schedule(uow.doctors.get(doctor.id), WeeklySchedule.every_day(2, 2)))
        uow.commit()

    first = booking.book(7, doctor.id, TOMORROW, Period.MORNING)

    assert first.number == 1
    (offered,) = [
        o
        for o in booking.offered_sessions(doctor.id, TOMORROW, TOMORROW)
        if o.session.period is Period.MORNING
    ]
    assert (offered.quota, offered.remaining) == (2, 1)


def _with_schedule(doctor, schedule):  # type: ignore[no-untyped-def]
    doctor.schedule = schedule
    return doctor
