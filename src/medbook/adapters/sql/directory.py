"""The directory's tables and repositories: hospitals, their departments, and doctors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from medbook.adapters.sql.base import Repository
from medbook.adapters.sql.errors import is_duplicate_key
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import ScheduleType
from medbook.domain.directory.model import Department, Doctor, Hospital, Rank
from medbook.domain.shared.errors import DepartmentExists
from medbook.domain.shared.geo import GeoPoint
from medbook.domain.shared.people import Sex

hospitals = Table(
    "hospitals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("address", String(500), nullable=False, default=""),
    Column("lat", Double, nullable=True),
    Column("lng", Double, nullable=True),
    Column("timezone", String(64), nullable=False),
)

departments = Table(
    "departments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False),
    UniqueConstraint("hospital_id", "name"),
)

doctors = Table(
    "doctors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), nullable=True),
    Column("department_id", Integer, ForeignKey("departments.id"), nullable=True),
    Column("name", String(50), nullable=False),
    Column("phone", String(11), nullable=False),
    Column("rank", value_enum(Rank, "doctor_rank"), nullable=False),
    Column("gender", value_enum(Sex, "gender"), nullable=True),
    Column("staff_number", String(8), nullable=True),
    Column("specialty", String(200), nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("avatar_url", String(1000), nullable=True),
    Column("avatar_key", String(255), nullable=True),
    Column("schedule", ScheduleType, nullable=False),
    Column("verified", Boolean, nullable=False),
    Index(None, "department_id", "verified"),
)


def hospital_from_row(row: Row[Any]) -> Hospital:
    location = GeoPoint(row.lat, row.lng) if row.lat is not None else None
    return Hospital(row.name, row.address, location, row.timezone, id=row.id)


def hospital_to_row(hospital: Hospital) -> dict[str, Any]:
    location = hospital.location
    return {
        "name": hospital.name,
        "address": hospital.address,
        "lat": location.lat if location else None,
        "lng": location.lng if location else None,
        "timezone": hospital.timezone,
    }


# Built once (with bind parameters): read on every listing and booking.
_HOSPITAL = select(hospitals).where(hospitals.c.id == bindparam("hospital"))


class SqlHospitals(Repository):
    def add(self, hospital: Hospital) -> Hospital:
        hospital.id = self._insert(hospitals, hospital_to_row(hospital))
        return hospital

    def get(self, hospital_id: int) -> Hospital | None:
        row = self.connection.execute(_HOSPITAL, {"hospital": hospital_id}).first()
        return hospital_from_row(row) if row else None

    def many(self, hospital_ids: Iterable[int]) -> dict[int, Hospital]:
        ids = sorted(set(hospital_ids))
        if not ids:
            return {}
        rows = self.connection.execute(select(hospitals).where(hospitals.c.id.in_(ids)))
        return {row.id: hospital_from_row(row) for row in rows}

    def list(self) -> Sequence[Hospital]:
        rows = self.connection.execute(select(hospitals).order_by(hospitals.c.id))
        return [hospital_from_row(row) for row in rows]


class SqlDepartments(Repository):
    def add(self, department: Department) -> Department:
        try:
            department.id = self._insert(
                departments,
                {
                    "hospital_id": department.hospital_id,
                    "name": department.name,
                    "description": department.description,
                },
            )
        except IntegrityError as error:
            # The table's one unique key besides its generated id: (hospital_id, name).
            if not is_duplicate_key(error):
                raise
            raise DepartmentExists(
                f"the hospital already has a department {department.name!r}"
            ) from None
        return department

    def get(self, department_id: int) -> Department | None:
        row = self.connection.execute(
            select(departments).where(departments.c.id == department_id)
        ).first()
        return _department(row) if row else None

    def of_hospital(self, hospital_id: int) -> Sequence[Department]:
        rows = self.connection.execute(
            select(departments)
            .where(departments.c.hospital_id == hospital_id)
            .order_by(departments.c.id)
        )
        return [_department(row) for row in rows]


def _department(row: Row[Any]) -> Department:
    return Department(row.hospital_id, row.name, row.description, id=row.id)


DOCTOR_FIELDS = (
    "hospital_id",
    "department_id",
    "name",
    "phone",
    "rank",
    "gender",
    "staff_number",
    "specialty",
    "birth_date",
    "avatar_url",
    "avatar_key",
    "schedule",
    "verified",
)


def doctor_from_row(row: Row[Any]) -> Doctor:
    return Doctor(**{name: getattr(row, name) for name in (*DOCTOR_FIELDS, "id")})


def doctor_to_row(doctor: Doctor) -> dict[str, Any]:
    return {name: getattr(doctor, name) for name in DOCTOR_FIELDS}


_DOCTOR = select(doctors).where(doctors.c.id == bindparam("doctor"))
_DOCTOR_FOR_SHARE = _DOCTOR.with_for_update(read=True)
_DOCTOR_FOR_UPDATE = _DOCTOR.with_for_update()
_DOCTOR_IN_ZONE = (
    select(doctors, hospitals.c.timezone.label("hospital_zone"))
    .select_from(doctors.outerjoin(hospitals, hospitals.c.id == doctors.c.hospital_id))
    .where(doctors.c.id == bindparam("doctor"))
)
_DOCTOR_IN_ZONE_FOR_SHARE = _DOCTOR_IN_ZONE.with_for_update(read=True)


class SqlDoctors(Repository):
    def add(self, doctor: Doctor) -> Doctor:
        doctor.id = self._insert(doctors, doctor_to_row(doctor))
        return doctor

    def get(
        self, doctor_id: int, *, for_update: bool = False, for_share: bool = False
    ) -> Doctor | None:
        query = _DOCTOR_FOR_UPDATE if for_update else _DOCTOR_FOR_SHARE if for_share else _DOCTOR
        row = self.connection.execute(query, {"doctor": doctor_id}).first()
        return doctor_from_row(row) if row else None

    def get_in_zone(
        self, doctor_id: int, *, for_share: bool = False
    ) -> tuple[Doctor, str | None] | None:
        query = _DOCTOR_IN_ZONE_FOR_SHARE if for_share else _DOCTOR_IN_ZONE
        row = self.connection.execute(query, {"doctor": doctor_id}).first()
        return (doctor_from_row(row), row.hospital_zone) if row else None

    def save(self, doctor: Doctor) -> None:
        self.connection.execute(
            update(doctors).where(doctors.c.id == doctor.id).values(doctor_to_row(doctor))
        )

    def of_hospital(self, hospital_id: int, *, verified: bool | None = None) -> Sequence[Doctor]:
        query = select(doctors).where(doctors.c.hospital_id == hospital_id)
        if verified is not None:
            query = query.where(doctors.c.verified.is_(verified))
        rows = self.connection.execute(query.order_by(doctors.c.id))
        return [doctor_from_row(row) for row in rows]

    def named(self, prefix: str, *, limit: int) -> Sequence[Doctor]:
        escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        name = func.lower(doctors.c.name)
        query = (
            select(doctors)
            .where(doctors.c.verified.is_(True))
            .where(
                or_(
                    name.like(escaped + "%", escape="\\"),
                    name.like("% " + escaped + "%", escape="\\"),
                )
            )
            .order_by(doctors.c.id)
            .limit(limit)
        )
        return [doctor_from_row(row) for row in self.connection.execute(query)]

    def of_department(self, department_id: int, *, verified_only: bool = True) -> Sequence[Doctor]:
        query = select(doctors).where(doctors.c.department_id == department_id)
        if verified_only:
            query = query.where(doctors.c.verified.is_(True))
        rows = self.connection.execute(query.order_by(doctors.c.id))
        return [doctor_from_row(row) for row in rows]
