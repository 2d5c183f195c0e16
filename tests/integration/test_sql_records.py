"""The health file on the real databases: vital signs come back exactly as measured (whole
tenths, no float on the way), filtered and ordered by the database; a doctor's read and its
access log entry are one transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Engine, func, select

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.records import access_log
from medbook.bootstrap import build_services
from medbook.domain import GeoPoint
from medbook.domain.accounts.model import Patient
from medbook.domain.records.vitals import GlucoseContext, VitalKind
from medbook.domain.shared.actors import Actor, Role

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)


def test_vitals_round_trip_exactly_and_a_doctors_read_is_logged(
    engine: Engine, clock: ManualClock
) -> None:
    services = build_services(lambda: SqlUnitOfWork(engine), clock)
    hospital = services.directory.add_hospital("Ruijin Hospital", "", GeoPoint(31.2, 121.5))
    department = services.directory.add_department(hospital.id or 0, "General practice")
    made = services.directory.add_doctor(
        hospital.id or 0, department.id or 0, name="Dr Li", phone="13900000001"
    )
    services.directory.set_verified(made.id or 0, True)
    doctor = Actor(made.id or 0, Role.DOCTOR)
    with SqlUnitOfWork(engine) as uow:
        ann = Actor(uow.patients.add(Patient("Ann", "13800000001")).id or 0, Role.PATIENT)
        uow.commit()
    health = services.health
    readings = [
        (VitalKind.BLOOD_PRESSURE, {"systolic": 300, "diastolic": 199}, None),
        (VitalKind.BLOOD_GLUCOSE, {"value": 0.5}, GlucoseContext.FASTING),
        (VitalKind.HEART_RATE, {"value": 20}, None),
        (VitalKind.WEIGHT, {"value": 499.9}, None),
        (VitalKind.TEMPERATURE, {"value": 36.6}, None),
    ]
    for minutes, (kind, values, context) in enumerate(readings):
        at = NOW - dt.timedelta(minutes=10 - minutes)
        health.record_vital_as(ann, kind, values, at, context)

    stored = health.vitals_as(ann)
    assert [v.kind for v in stored] == [k for k, _, _ in reversed(readings)]
    by_kind = {v.kind: v for v in stored}
    assert by_kind[VitalKind.BLOOD_PRESSURE].values == {
        "systolic": Decimal(300),
        "diastolic": Decimal(199),
    }
    assert by_kind[VitalKind.BLOOD_GLUCOSE].values == {"value": Decimal("0.5")}
    assert by_kind[VitalKind.BLOOD_GLUCOSE].loinc == "1558-6"
    assert by_kind[VitalKind.WEIGHT].values == {"value": Decimal("499.9")}
    assert by_kind[VitalKind.TEMPERATURE].values == {"value": Decimal("36.6")}
    assert by_kind[VitalKind.TEMPERATURE].measured_at == NOW - dt.timedelta(minutes=6)
    window = health.vitals_as(
        ann, start=NOW - dt.timedelta(minutes=9), end=NOW - dt.timedelta(minutes=7)
    )
    assert [v.kind for v in window] == [VitalKind.HEART_RATE, VitalKind.BLOOD_GLUCOSE]

    services.contracts.sign_as(ann, doctor.id)
    assert len(health.vitals_as(doctor, ann.id, kind=VitalKind.WEIGHT)) == 1
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(access_log)).scalar_one() == 1
    (entry,) = health.access_log_as(ann)
    assert entry.reader_name == "Dr Li" and entry.entry.detail["count"] == 1
