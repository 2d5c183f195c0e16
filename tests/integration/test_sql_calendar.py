"""Calendar feeds on the real databases: the repository round-trips a feed, one feed per owner
and one owner per token hash are the database's own unique keys, racing replacements of one
owner's feed end with exactly one feed whose token works, and appointments are read from a date
on (``since``) by the database."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import DBAPIError

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.calendar import calendar_feeds
from medbook.bootstrap import build_services
from medbook.domain import Appointment, Period, Session
from medbook.domain.calendar.feeds import CalendarFeed, new_token, token_hash
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import CalendarFeedNotFound
from medbook.services import DirectoryService

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def test_a_feed_round_trips_and_is_replaced_and_deleted(engine: Engine) -> None:
    first = CalendarFeed.create(Role.DOCTOR, 7, new_token(), NOW)
    second = CalendarFeed.create(Role.DOCTOR, 7, new_token(), NOW + DAY)
    patients = CalendarFeed.create(Role.PATIENT, 7, new_token(), NOW)  # same id, other role
    with SqlUnitOfWork(engine) as uow:
        uow.calendar_feeds.replace(first)
        uow.calendar_feeds.replace(patients)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        found = uow.calendar_feeds.by_hash(first.token_hash)
        assert found is not None
        assert (found.owner_role, found.owner_id, found.token_hash, found.created_at) == (
            Role.DOCTOR,
            7,
            first.token_hash,
            NOW,
        )
        assert found.id == first.id
        uow.calendar_feeds.replace(second)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.calendar_feeds.by_hash(first.token_hash) is None
        mine = uow.calendar_feeds.of_owner(Role.DOCTOR, 7)
        assert mine is not None and mine.token_hash == second.token_hash
        assert mine.created_at == NOW + DAY
        assert uow.calendar_feeds.delete_of(Role.DOCTOR, 7) is True
        assert uow.calendar_feeds.delete_of(Role.DOCTOR, 7) is False
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.calendar_feeds.of_owner(Role.DOCTOR, 7) is None
        assert uow.calendar_feeds.of_owner(Role.PATIENT, 7) is not None


@pytest.mark.parametrize(
    "second",
    [
        {"owner_role": "doctor", "owner_id": 7, "token_hash": token_hash("b" * 43)},  # one owner
        {"owner_role": "patient", "owner_id": 8, "token_hash": token_hash("a" * 43)},  # one hash
    ],
)
def test_the_database_refuses_a_second_feed_of_an_owner_or_a_token(
    engine: Engine, second: dict[str, object]
) -> None:
    first = {"owner_role": "doctor", "owner_id": 7, "token_hash": token_hash("a" * 43)}
    with engine.connect() as connection, connection.begin():
        connection.execute(insert(calendar_feeds).values(**first, created_at=NOW))
        with pytest.raises(DBAPIError):
            connection.execute(insert(calendar_feeds).values(**second, created_at=NOW))


def test_racing_replacements_end_with_one_feed_whose_token_works(
    engine_factory: Callable[..., Engine],
) -> None:
    racers = 6
    engine = engine_factory(pool_size=racers + 2, max_overflow=0)
    services = build_services(lambda: SqlUnitOfWork(engine), ManualClock(NOW))
    doctor = Actor(3, Role.DOCTOR)
    barrier = threading.Barrier(racers)

    def create(_: int) -> str:
        barrier.wait()
        return services.calendar.create_feed_as(doctor).token

    with ThreadPoolExecutor(max_workers=racers) as pool:
        tokens = list(pool.map(create, range(racers)))

    with engine.connect() as connection:
        rows = connection.execute(select(calendar_feeds)).all()
    assert len(rows) == 1
    working = []
    for token in tokens:
        try:
            services.calendar.feed(token)
            working.append(token)
        except CalendarFeedNotFound:
            pass
    assert len(working) == 1 and token_hash(working[0]) == rows[0].token_hash


def test_appointments_are_read_from_a_date_on(engine: Engine) -> None:
    directory = DirectoryService(lambda: SqlUnitOfWork(engine), ManualClock(NOW))
    hospital = directory.add_hospital("Ruijin Hospital")
    department = directory.add_department(hospital.id or 0, "Cardiology")
    doctor = directory.add_doctor(
        hospital.id or 0, department.id or 0, name="Li Na", phone="13900000001"
    )
    day = dt.date(2026, 11, 25)
    with SqlUnitOfWork(engine) as uow:
        for offset in (-91, -90, 0, 400):
            session = Session(doctor.id or 0, day + offset * DAY, Period.MORNING)
            uow.appointments.add(Appointment.book(session, 9, 1, NOW))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        since = day - 90 * DAY
        of_patient = [a.date for a in uow.appointments.of_patient(9, since=since)]
        of_doctor = [a.date for a in uow.appointments.of_doctor(doctor.id or 0, since=since)]
        everything = uow.appointments.of_patient(9)
    assert of_patient == of_doctor == [since, day, day + 400 * DAY]
    assert len(everything) == 4
