"""The directory over HTTP: hospitals, departments, doctors' profiles and weekly schedules."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs
from attrs import field, frozen

from medbook.domain.directory.model import Department, Doctor, Rank
from medbook.domain.shared.calendar import MAX_QUOTA, WeeklySchedule
from medbook.domain.shared.geo import MAX_LATITUDE, MAX_LONGITUDE
from medbook.domain.shared.people import Sex
from medbook.domain.shared.text import DEPARTMENT_NAME, DESCRIPTION, SPECIALTY, STAFF_NUMBER
from medbook.entrypoints.http.api import Call, Operation, Route
from medbook.entrypoints.http.schema import schema
from medbook.entrypoints.http.text_schema import text_schema
from medbook.services.directory import DoctorCard, DoctorProfileChanges, HospitalNearby

if TYPE_CHECKING:
    from medbook.bootstrap import Services

QUOTA = schema(minimum=0, maximum=MAX_QUOTA)

# --- commands ------------------------------------------------------------------------------------


@frozen
class NewDepartment:
    name: str = field(metadata=schema(**text_schema(DEPARTMENT_NAME)))
    description: str = field(default="", metadata=schema(**text_schema(DESCRIPTION)))


@frozen
class ProfileEdit:
    gender: Sex | None = None
    hospital_id: int | None = None
    department_id: int | None = None
    staff_number: str | None = field(default=None, metadata=schema(**text_schema(STAFF_NUMBER)))
    rank: Rank | None = None
    specialty: str | None = field(default=None, metadata=schema(**text_schema(SPECIALTY)))
    birth_date: dt.date | None = None


@frozen
class Quotas:
    morning: int = field(metadata=QUOTA)
    afternoon: int = field(metadata=QUOTA)


@frozen
class Schedule:
    monday: Quotas
    tuesday: Quotas
    wednesday: Quotas
    thursday: Quotas
    friday: Quotas
    saturday: Quotas
    sunday: Quotas


# --- queries -------------------------------------------------------------------------------------


@frozen
class NearQuery:
    lat: float | None = field(
        default=None, metadata=schema(minimum=-MAX_LATITUDE, maximum=MAX_LATITUDE)
    )
    lng: float | None = field(
        default=None, metadata=schema(minimum=-MAX_LONGITUDE, maximum=MAX_LONGITUDE)
    )


# --- views ---------------------------------------------------------------------------------------


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
    gender: Sex | None
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
    def of(cls, card: DoctorCard) -> DoctorProfile:
        d, hospital, department = card.doctor, card.hospital, card.department
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
    gender: Sex | None
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
class HospitalDoctor:
    """A doctor as their hospital's admin sees them: what approving them vouches for."""

    id: int
    name: str
    phone: str
    department_id: int | None
    department: str | None
    staff_number: str | None
    rank: Rank
    specialty: str
    verified: bool

    @classmethod
    def of(cls, card: DoctorCard) -> HospitalDoctor:
        d = card.doctor
        assert d.id is not None
        department = card.department.name if card.department else None
        return cls(
            d.id,
            d.name,
            d.phone,
            d.department_id,
            department,
            d.staff_number,
            d.rank,
            d.specialty,
            d.verified,
        )


@frozen
class VerifiedQuery:
    verified: bool | None = None


# --- handlers ------------------------------------------------------------------------------------


def doctor_profile(s: Services, doctor: Doctor) -> DoctorProfile:
    """A doctor's profile with the names of their hospital and department (accounts' ``/v1/me``
    shows it too)."""
    return DoctorProfile.of(s.directory.card(doctor))


def hospitals(s: Services, c: Call[None, NearQuery]) -> list[HospitalOut]:
    return [HospitalOut.of(n) for n in s.directory.hospitals_near(c.query.lat, c.query.lng)]


def departments(s: Services, c: Call[None, None]) -> list[DepartmentOut]:
    return [DepartmentOut.of(d) for d in s.directory.departments(c.params["hospital_id"])]


def add_department(s: Services, c: Call[NewDepartment, None]) -> DepartmentOut:
    d = s.directory.add_department_as(
        c.me, c.params["hospital_id"], c.body.name, c.body.description
    )
    return DepartmentOut.of(d)


def department_doctors(s: Services, c: Call[None, None]) -> list[DoctorSummary]:
    return [DoctorSummary.of(d) for d in s.directory.doctors(c.params["department_id"])]


def hospital_doctors(s: Services, c: Call[None, VerifiedQuery]) -> list[HospitalDoctor]:
    cards = s.directory.hospital_doctors_as(c.me, c.params["hospital_id"], c.query.verified)
    return [HospitalDoctor.of(card) for card in cards]


def public_doctor(s: Services, c: Call[None, None]) -> PublicDoctorProfile:
    return PublicDoctorProfile.of(DoctorProfile.of(s.directory.public_card(c.params["doctor_id"])))


def edit_profile(s: Services, c: Call[ProfileEdit, None]) -> DoctorProfile:
    b = c.body
    changes = DoctorProfileChanges(
        b.gender, b.hospital_id, b.department_id, b.staff_number, b.rank, b.specialty, b.birth_date
    )
    return doctor_profile(s, s.directory.update_my_profile(c.me, changes))


def set_schedule(s: Services, c: Call[Schedule, None]) -> Schedule:
    days = attrs.asdict(c.body)  # {"monday": {"morning": 20, "afternoon": 0}, …}
    doctor = s.directory.set_my_schedule(c.me, WeeklySchedule.from_mapping(days))
    return doctor_profile(s, doctor).schedule


# --- routes --------------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/hospitals",
        {
            "GET": Operation(
                hospitals,
                "Hospitals, nearest first with lat/lng",
                auth=False,
                query=NearQuery,
                response=list[HospitalOut],
                errors=(422,),
            )
        },
        "directory",
    ),
    Route(
        "/v1/hospitals/{hospital_id:id}/departments",
        {
            "GET": Operation(
                departments,
                "A hospital's departments",
                auth=False,
                response=list[DepartmentOut],
                errors=(404,),
            ),
            "POST": Operation(
                add_department,
                "An admin of the hospital adds a department",
                body=NewDepartment,
                status=201,
                response=DepartmentOut,
                errors=(403, 404, 409, 422),
            ),
        },
        "directory",
    ),
    Route(
        "/v1/hospitals/{hospital_id:id}/doctors",
        {
            "GET": Operation(
                hospital_doctors,
                "An admin of the hospital lists its doctors, approved and awaiting approval "
                "(verified=false: only those awaiting it)",
                query=VerifiedQuery,
                response=list[HospitalDoctor],
                errors=(403, 404, 422),
            )
        },
        "directory",
    ),
    Route(
        "/v1/departments/{department_id:id}/doctors",
        {
            "GET": Operation(
                department_doctors,
                "A department's verified doctors",
                auth=False,
                response=list[DoctorSummary],
                errors=(404,),
            )
        },
        "directory",
    ),
    Route(
        "/v1/doctors/{doctor_id:id}",
        {
            "GET": Operation(
                public_doctor,
                "A verified doctor's public profile",
                auth=False,
                response=PublicDoctorProfile,
                errors=(404,),
            )
        },
        "directory",
    ),
    Route(
        "/v1/doctors/me",
        {
            "PATCH": Operation(
                edit_profile,
                "A doctor edits their profile",
                body=ProfileEdit,
                response=DoctorProfile,
                errors=(403, 422),
            )
        },
        "directory",
    ),
    Route(
        "/v1/doctors/me/schedule",
        {
            "PUT": Operation(
                set_schedule,
                "A doctor sets their weekly schedule (quota per session, 0 = off)",
                body=Schedule,
                response=Schedule,
                errors=(403, 422),
            )
        },
        "directory",
    ),
)
