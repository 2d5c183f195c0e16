"""Every mapper round-trips: what is stored comes back field by field, on both databases."""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from medbook.adapters.sql import SqlUnitOfWork
from medbook.domain import Appointment, Department, Doctor, Hospital
from medbook.testing import appointments, doctors, hospitals

ROUND_TRIPS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _fields(entity: object) -> dict[str, object]:
    """The entity's fields, aware instants in UTC: ``==`` across zones is never true for a
    wall-clock time that a zone's clocks show twice (PEP 495), even for the same instant."""
    fields = attrs.asdict(entity, recurse=False)  # type: ignore[arg-type]
    return {name: _utc(value) for name, value in fields.items()}


def _utc(value: object) -> object:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value


def _place(engine: Engine) -> tuple[int, int]:
    with SqlUnitOfWork(engine) as uow:
        hospital = uow.hospitals.add(Hospital("Round Trip Hospital"))
        assert hospital.id is not None
        department = uow.departments.add(Department(hospital.id, "Trips"))
        assert department.id is not None
        uow.commit()
    return hospital.id, department.id


@ROUND_TRIPS
@given(hospital=hospitals())
def test_hospitals_round_trip(engine: Engine, hospital: Hospital) -> None:
    with SqlUnitOfWork(engine) as uow:
        stored = uow.hospitals.add(hospital)
        assert stored.id is not None
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        loaded = uow.hospitals.get(stored.id)
    assert loaded is not None
    assert _fields(loaded) == _fields(hospital)


@ROUND_TRIPS
@given(data=st.data())
def test_doctors_round_trip_and_save(engine: Engine, data: st.DataObject) -> None:
    hospital_id, department_id = _place(engine)
    doctor = data.draw(doctors(hospital_id=hospital_id, department_id=department_id))
    changed = data.draw(doctors(hospital_id=hospital_id, department_id=department_id))
    with SqlUnitOfWork(engine) as uow:
        uow.doctors.add(doctor)
        uow.commit()
    assert doctor.id is not None
    with SqlUnitOfWork(engine) as uow:
        assert _fields(uow.doctors.get(doctor.id)) == _fields(doctor)
        changed.id = doctor.id
        uow.doctors.save(changed)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert _fields(uow.doctors.get(doctor.id)) == _fields(changed)


@ROUND_TRIPS
@given(data=st.data())
def test_appointments_round_trip(engine: Engine, data: st.DataObject) -> None:
    hospital_id, department_id = _place(engine)
    with SqlUnitOfWork(engine) as uow:
        doctor = uow.doctors.add(
            Doctor(hospital_id, department_id, name="Trip", phone="13800000000")
        )
        uow.commit()
    assert doctor.id is not None
    appointment: Appointment = data.draw(appointments(doctor_id=doctor.id))
    with SqlUnitOfWork(engine) as uow:
        uow.appointments.add(appointment)
        uow.commit()
    assert appointment.id is not None
    with SqlUnitOfWork(engine) as uow:
        loaded = uow.appointments.get(appointment.id)
    assert loaded is not None
    expected = _fields(appointment)
    # The store keeps instants in UTC: equal instants, whatever zone they were given in.
    assert _fields(loaded) == expected
    assert loaded.booked_at.utcoffset() is not None
