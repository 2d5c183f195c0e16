"""A hospital's own policy and a patient's no-shows on SQLite and MariaDB: what is saved reads
back, a second save replaces the first, and the no-shows counted are the hospital's only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.bootstrap import build_services
from medbook.domain import Period, WeeklySchedule
from medbook.domain.booking.attendance import HospitalPolicy, NoShowRule
from medbook.domain.booking.reminders import ReminderPolicy
from medbook.domain.shared.actors import Actor, Role

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)  # Wednesday 08:30 in Shanghai
WEDNESDAY, THURSDAY = dt.date(2026, 11, 25), dt.date(2026, 11, 26)


def test_a_policy_reads_back_and_a_second_save_replaces_it(engine: Engine) -> None:
    services = build_services(lambda: SqlUnitOfWork(engine), ManualClock(NOW))
    ruijin = services.directory.add_hospital("Ruijin Hospital").id or 0
    huashan = services.directory.add_hospital("Huashan Hospital").id or 0
    admin = Actor(1, Role.ADMIN, ruijin)
    first = HospitalPolicy(ruijin, ReminderPolicy(dt.time(19, 5), dt.timedelta(minutes=45)), None)
    second = HospitalPolicy(ruijin, None, NoShowRule(3, 90, 30))

    services.booking.set_hospital_policy_as(admin, ruijin, first.reminders, first.no_shows)
    read_first = services.booking.hospital_policy(ruijin)
    services.booking.set_hospital_policy_as(admin, ruijin, second.reminders, second.no_shows)
    with SqlUnitOfWork(engine) as uow:
        many = uow.hospital_policies.many([ruijin, huashan])

    assert read_first == first
    assert services.booking.hospital_policy(ruijin) == second
    assert services.booking.hospital_policy(huashan) == HospitalPolicy(huashan)
    assert many == {ruijin: second}


def test_no_shows_are_counted_per_hospital(engine: Engine) -> None:
    clock = ManualClock(NOW)
    services = build_services(lambda: SqlUnitOfWork(engine), clock)
    doctors = []
    for name in ("Ruijin Hospital", "Huashan Hospital"):
        hospital = services.directory.add_hospital(name).id or 0
        department = services.directory.add_department(hospital, "Cardiology").id or 0
        doctor = services.directory.add_doctor(
            hospital, department, name="Dr " + name[:3], phone=f"1390000000{len(doctors)}"
        )
        services.directory.set_schedule(doctor.id or 0, WeeklySchedule.every_day(5, 5))
        services.directory.set_verified(doctor.id or 0, True)
        doctors.append((hospital, doctor.id or 0))
    (ruijin, at_ruijin), (huashan, at_huashan) = doctors
    booked = [
        services.booking.book(7, at_ruijin, WEDNESDAY, Period.AFTERNOON),
        services.booking.book(7, at_huashan, THURSDAY, Period.MORNING),
        services.booking.book(8, at_ruijin, THURSDAY, Period.MORNING),
    ]
    clock.set(NOW + dt.timedelta(days=1, hours=2))
    for appointment in booked:
        services.booking.record_attendance(appointment.doctor_id, appointment.id or 0, False)

    with SqlUnitOfWork(engine) as uow:
        at_r = uow.appointments.no_shows(7, ruijin, WEDNESDAY)
        at_h = uow.appointments.no_shows(7, huashan, WEDNESDAY)
        later = uow.appointments.no_shows(7, ruijin, THURSDAY)

    assert (at_r, at_h, later) == ([WEDNESDAY], [THURSDAY], [])
