"""Accounts over HTTP: registering, logging in, the caller's own profile, identity checks and the
approval of doctors."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs
from attrs import field, frozen

from medbook.domain.accounts.identity import ID_NUMBER_LENGTH
from medbook.domain.accounts.model import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from medbook.domain.shared.actors import Role
from medbook.domain.shared.people import Sex
from medbook.domain.shared.text import MOBILE_PATTERN, PERSON_NAME
from medbook.entrypoints.http.api import Call, Operation, Route
from medbook.entrypoints.http.directory import DoctorProfile, doctor_profile
from medbook.entrypoints.http.schema import schema
from medbook.entrypoints.http.text_schema import text_schema

if TYPE_CHECKING:
    from medbook.bootstrap import Services

#: HTTP's own bound on the password of a login, not an account rule: it caps what hashing one
#: guess may cost.
LOGIN_PASSWORD_MAX_LENGTH = 1024

PHONE = schema(pattern=MOBILE_PATTERN.pattern)
NAME = schema(**text_schema(PERSON_NAME))
#: A resident identity number: 17 digits and a check character (a digit or X).
ID_NUMBER = schema(pattern=f"^[0-9]{{{ID_NUMBER_LENGTH - 1}}}[0-9Xx]$")

# --- commands ------------------------------------------------------------------------------------


@frozen
class Register:
    phone: str = field(metadata=PHONE)
    name: str = field(metadata=NAME)
    password: str = field(
        metadata=schema(minLength=PASSWORD_MIN_LENGTH, maxLength=PASSWORD_MAX_LENGTH)
    )


@frozen
class Login:
    phone: str = field(metadata=PHONE)
    password: str = field(metadata=schema(maxLength=LOGIN_PASSWORD_MAX_LENGTH))
    role: Role


@frozen
class VerifyIdentity:
    name: str = field(metadata=NAME)
    id_number: str = field(metadata=ID_NUMBER)


@frozen
class Approval:
    approved: bool


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


# --- handlers ------------------------------------------------------------------------------------


def register_patient(s: Services, c: Call[Register, None]) -> PatientCreated:
    p = s.accounts.register_patient(c.body.phone, c.body.name, c.body.password, client=c.client)
    assert p.id is not None
    return PatientCreated(p.id, p.phone, p.name)


def register_doctor(s: Services, c: Call[Register, None]) -> DoctorCreated:
    d = s.accounts.register_doctor(c.body.phone, c.body.name, c.body.password, client=c.client)
    assert d.id is not None
    return DoctorCreated(d.id, d.phone, d.name, d.verified)


def login(s: Services, c: Call[Login, None]) -> LoggedIn:
    r = s.accounts.login(c.body.phone, c.body.password, c.body.role, client=c.client)
    return LoggedIn(r.actor.id, r.name, r.actor.role, r.token, r.avatar_url)


def me(s: Services, c: Call[None, None]) -> Me:
    p = s.accounts.me(c.me)
    base = Me(p.actor.id, p.actor.role, p.name, p.phone)
    if p.patient is not None:
        return attrs.evolve(
            base,
            identity_verified=p.patient.identity_verified,
            birth_date=p.patient.birth_date,
            sex=p.patient.sex,
        )
    if p.doctor is not None:
        return attrs.evolve(
            base, hospital_id=p.doctor.hospital_id, doctor=doctor_profile(s, p.doctor)
        )
    return attrs.evolve(base, hospital_id=p.actor.hospital_id)


def verify_identity(s: Services, c: Call[VerifyIdentity, None]) -> IdentityVerified:
    checked = s.accounts.verify_identity(c.me, c.body.name, c.body.id_number)
    patient = checked.patient
    assert patient.birth_date is not None and patient.sex is not None  # set by the check
    return IdentityVerified(True, patient.birth_date, patient.sex, checked.age)


def approve_doctor(s: Services, c: Call[Approval, None]) -> ApprovalResult:
    d = s.accounts.approve_doctor(c.me, c.params["doctor_id"], c.body.approved)
    assert d.id is not None
    return ApprovalResult(d.id, d.verified)


# --- routes --------------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/patients",
        {
            "POST": Operation(
                register_patient,
                "Register a patient",
                auth=False,
                body=Register,
                status=201,
                response=PatientCreated,
                errors=(409, 422, 429, 503),
            )
        },
        "accounts",
    ),
    Route(
        "/v1/doctors",
        {
            "POST": Operation(
                register_doctor,
                "Register a doctor (unverified)",
                auth=False,
                body=Register,
                status=201,
                response=DoctorCreated,
                errors=(409, 422, 429, 503),
            )
        },
        "accounts",
    ),
    Route(
        "/v1/sessions",
        {
            "POST": Operation(
                login,
                "Log in: a bearer token",
                auth=False,
                body=Login,
                response=LoggedIn,
                errors=(401, 422, 429, 503),
            )
        },
        "accounts",
    ),
    Route("/v1/me", {"GET": Operation(me, "The caller's own profile", response=Me)}, "accounts"),
    Route(
        "/v1/patients/me/identity",
        {
            "POST": Operation(
                verify_identity,
                "Verify a patient's resident identity number",
                body=VerifyIdentity,
                response=IdentityVerified,
                errors=(403, 422),
            )
        },
        "accounts",
    ),
    Route(
        "/v1/doctors/{doctor_id:id}/approval",
        {
            "POST": Operation(
                approve_doctor,
                "An admin of the doctor's hospital approves them",
                body=Approval,
                response=ApprovalResult,
                errors=(403, 404, 422),
            )
        },
        "accounts",
    ),
)
