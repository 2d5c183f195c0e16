"""Booking's read side on SQL: an appointment and the names shown beside it, in one joined query.

Before, each appointment of a listing cost four lookups (patient, doctor, hospital, department),
and one appointment was found by loading all of the caller's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, select

from medbook.adapters.sql.accounts import patients
from medbook.adapters.sql.base import Repository
from medbook.adapters.sql.booking import CHRONOLOGICAL, appointment_from_row, appointments
from medbook.adapters.sql.directory import departments, doctors, hospitals
from medbook.ports.booking import AppointmentView

_JOINED = (
    appointments.join(doctors, doctors.c.id == appointments.c.doctor_id)
    .outerjoin(hospitals, hospitals.c.id == doctors.c.hospital_id)
    .outerjoin(departments, departments.c.id == doctors.c.department_id)
    .outerjoin(patients, patients.c.id == appointments.c.patient_id)
)


def _query() -> Select[Any]:
    return select(
        appointments,
        patients.c.name.label("patient_name"),
        patients.c.phone.label("patient_phone"),
        doctors.c.name.label("doctor_name"),
        hospitals.c.name.label("hospital_name"),
        departments.c.name.label("department_name"),
    ).select_from(_JOINED)


def _view(row: Row[Any]) -> AppointmentView:
    return AppointmentView(
        appointment_from_row(row),
        row.patient_name,
        row.patient_phone,
        row.doctor_name,
        row.hospital_name,
        row.department_name,
    )


_ONE = _query().where(appointments.c.id == bindparam("appointment"))  # built once: every booking


class SqlAppointmentViews(Repository):
    def one(self, appointment_id: int) -> AppointmentView | None:
        row = self.connection.execute(_ONE, {"appointment": appointment_id}).first()
        return _view(row) if row else None

    def of_patient(self, patient_id: int, date: dt.date | None = None) -> Sequence[AppointmentView]:
        return self._where(appointments.c.patient_id == patient_id, date)

    def of_doctor(self, doctor_id: int, date: dt.date | None = None) -> Sequence[AppointmentView]:
        return self._where(appointments.c.doctor_id == doctor_id, date)

    def _where(self, condition: Any, date: dt.date | None) -> list[AppointmentView]:
        query = _query().where(condition)
        if date is not None:
            query = query.where(appointments.c.date == date)
        return [_view(row) for row in self.connection.execute(query.order_by(*CHRONOLOGICAL))]
