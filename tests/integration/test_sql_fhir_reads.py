"""The reads the FHIR interface added, on SQLite and MariaDB: doctors by the start of their name
(LIKE's wildcards are plain characters, letters without case, the unapproved left out), one
reading by id, and one session's state at any date; each the same as the in-memory store's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.adapters.sql import SqlUnitOfWork
from medbook.bootstrap import Services, build_services
from medbook.domain import Period, Session, WeeklySchedule
from medbook.domain.records.vitals import VitalKind, VitalSign

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
THURSDAY = dt.date(2026, 11, 26)
NAMES = ["Zhang Wei", "zhang li", "Li Zhang", "Wei_Ming", "100% Lin", "Back\\Slash", "张伟", "Ann"]
PREFIXES = [
    "zhang",
    "ZHANG",
    "li",
    "wei",
    "Wei_",
    "Wei%",
    "_",
    "%",
    "100%",
    "back\\",
    "张",
    "Z",
    "n",
]


def _world(services: Services) -> dict[str, int]:
    directory = services.directory
    hospital = directory.add_hospital("Ruijin Hospital")
    assert hospital.id is not None
    department = directory.add_department(hospital.id, "Cardiology")
    assert department.id is not None
    ids = {}
    for n, name in enumerate(NAMES):
        doctor = directory.add_doctor(
            hospital.id, department.id, name=name, phone=f"1380000{n:04d}"
        )
        assert doctor.id is not None
        directory.set_schedule(doctor.id, WeeklySchedule.every_day(2, 0))
        if name != "Ann":
            directory.set_verified(doctor.id, True)
        ids[name] = doctor.id
    return ids


def _named(services: Services, ids: dict[str, int], prefix: str) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[d.id] for d in services.directory.doctors_named(prefix) if d.id is not None]


def test_doctors_by_the_start_of_their_name_are_the_memory_stores(engine: Engine) -> None:
    sql = build_services(lambda: SqlUnitOfWork(engine), ManualClock(NOW))
    memory = build_services(MemoryStore().unit_of_work, ManualClock(NOW))
    sql_ids, memory_ids = _world(sql), _world(memory)

    for prefix in PREFIXES:
        assert _named(sql, sql_ids, prefix) == _named(memory, memory_ids, prefix), prefix
    assert _named(sql, sql_ids, "zhang") == ["Zhang Wei", "zhang li", "Li Zhang"]
    assert _named(sql, sql_ids, "_") == [] and _named(sql, sql_ids, "%") == []
    assert _named(sql, sql_ids, "Wei_") == ["Wei_Ming"]
    assert _named(sql, sql_ids, "back\\") == ["Back\\Slash"]
    assert _named(sql, sql_ids, "An") == []  # not approved
    limited = sql.directory.doctors_named("Z", limit=1)
    assert [d.name for d in limited] == ["Zhang Wei"]


def test_one_reading_and_one_session_at_any_date(engine: Engine) -> None:
    clock = ManualClock(NOW)
    services = build_services(lambda: SqlUnitOfWork(engine), clock)
    ids = _world(services)
    patient = services.accounts.register_patient("13900000001", "Wang Fang", "a long passphrase")
    assert patient.id is not None
    vital = VitalSign.measure(patient.id, VitalKind.WEIGHT, {"value": 61.5}, NOW, NOW)
    with SqlUnitOfWork(engine) as uow:
        stored = uow.vitals.add(vital)
        uow.commit()
    doctor = ids["Zhang Wei"]
    services.booking.book(patient.id, doctor, THURSDAY, Period.MORNING)
    services.booking.take_leave(doctor, THURSDAY + dt.timedelta(days=1), Period.MORNING)

    with SqlUnitOfWork(engine) as uow:
        read = uow.vitals.get(stored.id or 0)
        missing = uow.vitals.get((stored.id or 0) + 1)
    booked = services.booking.session_state(Session(doctor, THURSDAY, Period.MORNING))
    on_leave = services.booking.session_state(
        Session(doctor, THURSDAY + dt.timedelta(days=1), Period.MORNING)
    )
    off = services.booking.session_state(Session(doctor, THURSDAY, Period.AFTERNOON))
    clock.advance(dt.timedelta(days=30))
    past = services.booking.session_state(Session(doctor, THURSDAY, Period.MORNING))

    assert read is not None and (read.values, read.kind) == (vital.values, VitalKind.WEIGHT)
    assert missing is None
    assert booked is not None and (booked.places.quota, booked.places.booked) == (2, 1)
    assert booked.open and not booked.on_leave
    assert on_leave is not None and on_leave.on_leave and not on_leave.open
    assert off is None
    assert past is not None and not past.open and past.places.booked == 1
