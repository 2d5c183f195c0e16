"""The schema: migrations match the tables, and the database itself refuses broken invariants."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import DBAPIError

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.booking import session_places
from medbook.adapters.sql.migrate import current_revision, downgrade, head_revision, upgrade
from medbook.adapters.sql.schema import metadata
from medbook.domain import Appointment, Period, Session, WeeklySchedule
from medbook.domain.shared.errors import AlreadyBooked
from medbook.services import DirectoryService

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)


def test_migrations_create_exactly_the_tables_the_code_uses(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert current_revision(engine) == head_revision(engine)


def test_migrations_go_down_and_up_again(engine_factory) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory()
    downgrade(engine, "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)


def _doctor(engine: Engine, quota: int = 2) -> int:
    directory = DirectoryService(lambda: SqlUnitOfWork(engine), ManualClock(NOW))
    hospital = directory.add_hospital("Ruijin Hospital")
    department = directory.add_department(hospital.id, "Paediatrics")
    doctor = directory.add_doctor(hospital.id, department.id, name="Liu Yang", phone="13900000005")
    directory.set_schedule(doctor.id, WeeklySchedule.every_day(quota, quota))
    return doctor.id


def test_the_unique_key_refuses_a_second_place_for_one_patient(engine: Engine) -> None:
    session = Session(_doctor(engine), dt.date(2026, 11, 26), Period.MORNING)
    with SqlUnitOfWork(engine) as uow:
        uow.appointments.add(Appointment.book(session, 9, 1, NOW))
        # Bypassing every check of the service: the database still says no.
        with pytest.raises(AlreadyBooked):
            uow.appointments.add(Appointment.book(session, 9, 2, NOW))
        first = uow.appointments.held_by(9, session)
        assert first is not None
        first.cancel(NOW, by=first.cancelled_by or _patient())
        uow.appointments.save(first)
        # Once cancelled, the old row no longer holds the patient's place.
        uow.appointments.add(Appointment.book(session, 9, 2, NOW))
        uow.commit()


def _patient():  # type: ignore[no-untyped-def]
    from medbook.domain import CancelledBy

    return CancelledBy.PATIENT


def test_the_check_constraint_refuses_more_places_than_the_quota(engine: Engine) -> None:
    doctor_id = _doctor(engine)
    with engine.connect() as connection, connection.begin():
        connection.execute(
            insert(session_places).values(
                doctor_id=doctor_id,
                date=dt.date(2026, 11, 26),
                period=Period.MORNING,
                quota=1,
                booked=1,
                issued=1,
            )
        )
        # MariaDB reports a failed CHECK as error 4025, SQLite as an integrity error.
        with pytest.raises(DBAPIError, match="places_held"):
            connection.execute(update(session_places).values(booked=session_places.c.booked + 1))


def test_places_take_stops_at_the_quota_and_numbers_go_on(engine: Engine) -> None:
    session = Session(_doctor(engine), dt.date(2026, 11, 26), Period.MORNING)
    with SqlUnitOfWork(engine) as uow:
        uow.places.ensure(session, 2)
        uow.places.ensure(session, 99)  # idempotent: the first quota stays
        assert uow.places.lock(session).quota == 2
        assert [uow.places.take(session), uow.places.take(session)] == [1, 2]
        assert uow.places.take(session) is None
        uow.places.release(session)
        assert uow.places.take(session) == 3
        with pytest.raises(ValueError):
            uow.places.release(session, 5)
        uow.places.resize(session, 0)
        assert uow.places.lock(session).quota == 2  # never below the places held
        uow.commit()


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    session = Session(_doctor(engine), dt.date(2026, 11, 26), Period.MORNING)
    appointment = Appointment.book(session, 9, 1, NOW)
    appointment.booked_at = dt.datetime(2026, 11, 25, 8, 0)
    with SqlUnitOfWork(engine) as uow, pytest.raises(Exception, match="naive"):
        uow.appointments.add(appointment)
