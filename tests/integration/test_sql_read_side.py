"""Booking's read side on SQLite and MariaDB: one query per listing, whatever its length, and the
same views the in-memory store gives (the memory views are the model: plain lookups)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.engine import reader_of
from medbook.bootstrap import Services, build_services
from medbook.domain import Period, WeeklySchedule
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import AppointmentNotFound
from medbook.ports.booking import AppointmentView

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TOMORROW = dt.date(2026, 11, 26)


@contextmanager
def selects(engine: Engine) -> Iterator[list[str]]:
    """The SELECT statements sent to ``engine`` inside the block."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engines = {engine, reader_of(engine)}  # reads go to the reader's pool on MySQL
    for each in engines:
        event.listen(each, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for each in engines:
            event.remove(each, "before_cursor_execute", count)


def _world(services: Services, doctors: int) -> tuple[int, list[int]]:
    """A patient with one appointment at each of ``doctors`` doctors in two departments."""
    directory = services.directory
    hospital = directory.add_hospital("Ruijin Hospital")
    departments = [directory.add_department(hospital.id, n) for n in ("Cardiology", "Neurology")]
    patient = services.accounts.register_patient("13900000001", "Wang Fang", "a long passphrase")
    doctor_ids = []
    for n in range(doctors):
        department = departments[n % 2]
        doctor = directory.add_doctor(
            hospital.id, department.id, name=f"Dr {n}", phone=f"1380000{n:04d}"
        )
        directory.set_schedule(doctor.id, WeeklySchedule.every_day(5, 5))
        directory.set_verified(doctor.id, True)
        day = TOMORROW + dt.timedelta(days=n)  # one a day: the daily limit is 3
        services.booking.book(patient.id, doctor.id, day, Period.MORNING)
        doctor_ids.append(doctor.id)
    return patient.id, doctor_ids


@pytest.mark.parametrize("doctors", [1, 6])
def test_a_listing_is_one_query_however_long(engine: Engine, doctors: int) -> None:
    services = build_services(lambda: SqlUnitOfWork(engine), ManualClock(NOW))
    patient_id, _ = _world(services, doctors)

    with selects(engine) as seen:
        views = services.booking.appointments_as(Actor(patient_id, Role.PATIENT))

    assert len(views) == doctors
    assert len(seen) == 1, seen


def _shown(view: AppointmentView) -> tuple[object, ...]:
    """What a view shows, without the ids (each store numbers its rows its own way)."""
    a = view.appointment
    names = (view.patient_name, view.patient_phone, view.doctor_name, view.hospital)
    return (a.date, a.period, a.number, a.status, a.booked_at, *names, view.department)


def test_the_sql_views_are_the_memory_views(engine: Engine) -> None:
    clock = ManualClock(NOW)
    shown = {}
    for name, new_uow in (
        ("sql", lambda: SqlUnitOfWork(engine)),
        ("memory", MemoryStore().unit_of_work),
    ):
        services = build_services(new_uow, clock)
        patient, doctor_ids = _world(services, 6)
        me = Actor(patient, Role.PATIENT)
        doctor = Actor(doctor_ids[4], Role.DOCTOR)
        views = services.booking.appointments_as(me)
        one = services.booking.appointment_as(me, views[2].appointment.id)
        with pytest.raises(AppointmentNotFound):
            services.booking.appointment_as(doctor, views[2].appointment.id)  # not this doctor's
        with pytest.raises(AppointmentNotFound):
            services.booking.appointment_as(Actor(patient + 1000, Role.PATIENT), one.appointment.id)
        fourth_day = services.booking.appointments_as(doctor, TOMORROW + dt.timedelta(days=4))
        shown[name] = ([_shown(v) for v in views], _shown(one), [_shown(v) for v in fourth_day])

    assert shown["sql"] == shown["memory"]
    listing, one_shown, doctors_day = shown["sql"]
    assert [row[-1] for row in listing] == ["Cardiology", "Neurology"] * 3
    assert one_shown[5:] == ("Wang Fang", "13900000001", "Dr 2", "Ruijin Hospital", "Cardiology")
    assert [row[-3] for row in doctors_day] == ["Dr 4"]
