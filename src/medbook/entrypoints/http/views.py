"""The shapes of the JSON that comes in (commands, queries) and goes out (views)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from attrs import field, frozen

from medbook.domain import Appointment, Department, Doctor, Gender, Hospital, Period, Rank
from medbook.domain.accounts.model import Sex
from medbook.domain.notifications.model import Notification
from medbook.domain.shared.actors import Role
from medbook.domain.shared.text import (
    DEPARTMENT_NAME,
    DESCRIPTION,
    MOBILE_PATTERN,
    PERSON_NAME,
    SPECIALTY,
    STAFF_NUMBER,
)
from medbook.entrypoints.http.text_schema import text_schema
from medbook.services.booking import AppointmentView
from medbook.services.directory import HospitalNearby

# --- commands ------------------------------------------------------------------------------------


def _schema(**constraints: Any) -> Any:
    """A field whose JSON Schema carries these constraints (the services check them too)."""
    return field(metadata={"schema": constraints})


def _optional(**constraints: Any) -> Any:
    return field(default=None, metadata={"schema": constraints})


PHONE = {"pattern": MOBILE_PATTERN.pattern}
NAME = text_schema(PERSON_NAME)


@frozen
class Register:
    phone: str = _schema(**PHONE)
    name: str = _schema(**NAME)
    password: str = _schema(minLength=8, maxLength=128)


@frozen
class Login:
    phone: str = _schema(**PHONE)
    password: str = _schema(maxLength=1024)
    role: Role


@frozen
class VerifyIdentity:
    name: str = _schema(**NAME)
    id_number: str = _schema(pattern="^[0-9]{17}[0-9Xx]$")


@frozen
class Approval:
    approved: bool


@frozen
class NewDepartment:
    name: str = _schema(**text_schema(DEPARTMENT_NAME))
    description: str = field(default="", metadata={"schema": text_schema(DESCRIPTION)})


@frozen
class ProfileEdit:
    gender: Gender | None = None
    hospital_id: int | None = None
    department_id: int | None = None
    staff_number: str | None = _optional(**text_schema(STAFF_NUMBER))
    rank: Rank | None = None
    specialty: str | None = _optional(**text_schema(SPECIALTY))
    birth_date: dt.date | None = None


@frozen
class Quotas:
    morning: int = _schema(minimum=0, maximum=500)
    afternoon: int = _schema(minimum=0, maximum=500)


@frozen
class Schedule:
    monday: Quotas
    tuesday: Quotas
    wednesday: Quotas
    thursday: Quotas
    friday: Quotas
    saturday: Quotas
    sunday: Quotas


@frozen
class NewLeave:
    date: dt.date
    period: Period


@frozen
class NewAppointment:
    doctor_id: int
    date: dt.date
    period: Period


# --- queries -------------------------------------------------------------------------------------


@frozen
class NearQuery:
    lat: float | None = _optional(minimum=-90, maximum=90)
    lng: float | None = _optional(minimum=-180, maximum=180)


@frozen
class SessionsQuery:
    start: dt.date | None = field(default=None, metadata={"name": "from"})
    to: dt.date | None = None


@frozen
class DateQuery:
    date: dt.date | None = None


@frozen
class UnreadQuery:
    unread_only: bool = False


# --- views ---------------------------------------------------------------------------------------


@frozen
class PatientCreated:
    id: int
    phone: str
    name: str


@frozen
class DoctorCreated:
    id: int
    phone: str
    name: str
    verified: bool


@frozen
class LoggedIn:
    id: int
    name: str
    role: Role
    token: str
    avatar_url: str | None
    token_type: str = "Bearer"  # noqa: S105 - the scheme, not a secret


@frozen
class IdentityVerified:
    verified: bool
    birth_date: dt.date
    sex: Sex
    age: int


@frozen
class ApprovalResult:
    id: int
    verified: bool


@frozen
class HospitalOut:
    id: int
    name: str
    address: str
    lat: float | None
    lng: float | None
    distance_km: float | None

    @classmethod
    def of(cls, nearby: HospitalNearby) -> HospitalOut:
        h = nearby.hospital
        assert h.id is not None
        loc = h.location
        distance = round(nearby.distance_km, 3) if nearby.distance_km is not None else None
        return cls(
            h.id, h.name, h.address, loc.lat if loc else None, loc.lng if loc else None, distance
        )


@frozen
class DepartmentOut:
    id: int
    hospital_id: int
    name: str
    description: str

    @classmethod
    def of(cls, d: Department) -> DepartmentOut:
        assert d.id is not None
        return cls(d.id, d.hospital_id, d.name, d.description)


@frozen
class DoctorSummary:
    id: int
    name: str
    rank: Rank
    specialty: str
    avatar_url: str | None

    @classmethod
    def of(cls, d: Doctor) -> DoctorSummary:
        assert d.id is not None
        return cls(d.id, d.name, d.rank, d.specialty, d.avatar_url)


@frozen
class DoctorProfile:
    id: int
    name: str
    gender: Gender | None
    hospital_id: int | None
    hospital: str | None
    department_id: int | None
    department: str | None
    staff_number: str | None
    rank: Rank
    specialty: str
    birth_date: dt.date | None
    avatar_url: str | None
    verified: bool
    schedule: Schedule

    @classmethod
    def of(
        cls, d: Doctor, hospital: Hospital | None, department: Department | None
    ) -> DoctorProfile:
        assert d.id is not None
        quotas = d.schedule.to_mapping()
        schedule = Schedule(**{day: Quotas(**q) for day, q in quotas.items()})
        return cls(
            d.id,
            d.name,
            d.gender,
            d.hospital_id,
            hospital.name if hospital else None,
            d.department_id,
            department.name if department else None,
            d.staff_number,
            d.rank,
            d.specialty,
            d.birth_date,
            d.avatar_url,
            d.verified,
            schedule,
        )


@frozen
class PublicDoctorProfile:
    """What anyone may see of a verified doctor: no birth date, no staff number."""

    id: int
    name: str
    gender: Gender | None
    hospital_id: int | None
    hospital: str | None
    department_id: int | None
    department: str | None
    rank: Rank
    specialty: str
    avatar_url: str | None
    verified: bool
    schedule: Schedule

    @classmethod
    def of(cls, full: DoctorProfile) -> PublicDoctorProfile:
        names = [f.name for f in attrs.fields(cls)]
        return cls(**{name: getattr(full, name) for name in names})


@frozen
class Me:
    id: int
    role: Role
    name: str
    phone: str
    hospital_id: int | None = None
    identity_verified: bool | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    doctor: DoctorProfile | None = None


@frozen
class SessionOut:
    date: dt.date
    period: Period
    quota: int
    remaining: int


@frozen
class LeaveOut:
    date: dt.date
    period: Period
    cancelled_appointments: int


@frozen
class AppointmentOut:
    id: int
    status: str
    patient_id: int
    patient_name: str | None
    patient_phone: str | None
    doctor_id: int
    doctor_name: str
    hospital: str | None
    department: str | None
    date: dt.date
    period: Period
    number: int
    booked_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancelled_by: str | None

    @classmethod
    def of(cls, view: AppointmentView) -> AppointmentOut:
        a: Appointment = view.appointment
        assert a.id is not None
        return cls(
            a.id,
            a.status.value,
            a.patient_id,
            view.patient_name,
            view.patient_phone,
            a.doctor_id,
            view.doctor_name,
            view.hospital,
            view.department,
            a.date,
            a.period,
            a.number,
            a.booked_at,
            a.cancelled_at,
            a.cancelled_by.value if a.cancelled_by else None,
        )


@frozen
class NotificationOut:
    id: int
    kind: str
    title: str
    body: str
    data: dict[str, str | int | None]
    created_at: dt.datetime
    read: bool

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        assert n.id is not None
        return cls(n.id, n.kind.value, n.title, n.body, n.data, n.created_at, n.read)


@frozen
class Uploaded:
    url: str
    content_type: str
    size: int


@frozen
class Avatar:
    avatar_url: str | None


@frozen
class Health:
    status: str
