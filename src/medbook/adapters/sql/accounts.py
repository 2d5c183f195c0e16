"""Accounts' tables and repositories: logins (credentials), patients and hospital admins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Integer,
    Row,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from medbook.adapters.sql.base import Repository
from medbook.adapters.sql.errors import is_duplicate_key
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.accounts.model import Admin, Credential, Patient
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import PhoneTaken
from medbook.domain.shared.people import Sex

credentials = Table(
    "credentials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("role", value_enum(Role, "role"), nullable=False),
    Column("phone", String(11), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("password_hash", String(255), nullable=False),
    UniqueConstraint("role", "phone"),  # one account per phone number per role
    UniqueConstraint("role", "user_id"),  # one login per user per role
)

patients = Table(
    "patients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(50), nullable=False),
    Column("phone", String(11), nullable=False),
    Column("created_at", UtcDateTime, nullable=True),
    Column("legal_name", String(50), nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("sex", value_enum(Sex, "sex"), nullable=True),
    Column("id_number_last4", String(4), nullable=True),
)

admins = Table(
    "admins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), nullable=False),
    Column("name", String(50), nullable=False),
    Column("phone", String(11), nullable=False),
)


def _credential(row: Row[Any]) -> Credential:
    return Credential(row.role, row.phone, row.user_id, row.password_hash, id=row.id)


class SqlCredentials(Repository):
    def add(self, credential: Credential) -> Credential:
        """Store a login; ``PhoneTaken`` when the (role, phone) key refuses it.

        A refusal by the (role, user_id) key leaves as the database's ``IntegrityError``: the
        services make one login per new user, so a second one is a bug of the caller, and
        reporting the (free) phone as taken would both mislead the user and hide the bug.
        """
        try:
            credential.id = self._insert(
                credentials,
                {
                    "role": credential.role,
                    "phone": credential.phone,
                    "user_id": credential.user_id,
                    "password_hash": credential.password_hash,
                },
            )
        except IntegrityError as error:
            # Which key refused is read from the rows, not the error text: a conflicting row is
            # committed (or ours) by the time the error comes, so READ COMMITTED sees it.
            if is_duplicate_key(error) and self.find(credential.role, credential.phone) is not None:
                raise PhoneTaken(
                    f"{credential.phone} already has a {credential.role.value} account"
                ) from None
            raise
        return credential

    def find(self, role: Role, phone: str) -> Credential | None:
        c = credentials.c
        row = self.connection.execute(
            select(credentials).where(c.role == role, c.phone == phone)
        ).first()
        return _credential(row) if row else None

    def actor(self, role: Role, user_id: int) -> Actor | None:
        row = self.connection.execute(_ACTOR, {"of_role": role, "of_user": user_id}).first()
        if row is None or (role is Role.ADMIN and row.hospital_id is None):
            return None
        return Actor(user_id, role, row.hospital_id)

    def save(self, credential: Credential) -> None:
        self.connection.execute(
            update(credentials)
            .where(credentials.c.id == credential.id)
            .values(password_hash=credential.password_hash)
        )


# Built once: who a login is, asked on every authenticated request the cache does not answer.
_ACTOR = (
    select(admins.c.hospital_id)
    .select_from(
        credentials.outerjoin(
            admins, and_(credentials.c.role == Role.ADMIN, admins.c.id == credentials.c.user_id)
        )
    )
    .where(
        credentials.c.role == bindparam("of_role"), credentials.c.user_id == bindparam("of_user")
    )
)

PATIENT_FIELDS = (
    "name",
    "phone",
    "created_at",
    "legal_name",
    "birth_date",
    "sex",
    "id_number_last4",
)


def patient_from_row(row: Row[Any]) -> Patient:
    return Patient(**{name: getattr(row, name) for name in (*PATIENT_FIELDS, "id")})


class SqlPatients(Repository):
    def add(self, patient: Patient) -> Patient:
        patient.id = self._insert(patients, {n: getattr(patient, n) for n in PATIENT_FIELDS})
        return patient

    def get(self, patient_id: int) -> Patient | None:
        row = self.connection.execute(select(patients).where(patients.c.id == patient_id)).first()
        return patient_from_row(row) if row else None

    def save(self, patient: Patient) -> None:
        self.connection.execute(
            update(patients)
            .where(patients.c.id == patient.id)
            .values({n: getattr(patient, n) for n in PATIENT_FIELDS})
        )


def _admin(row: Row[Any]) -> Admin:
    return Admin(row.hospital_id, row.name, row.phone, id=row.id)


class SqlAdmins(Repository):
    def add(self, admin: Admin) -> Admin:
        admin.id = self._insert(
            admins, {"hospital_id": admin.hospital_id, "name": admin.name, "phone": admin.phone}
        )
        return admin

    def get(self, admin_id: int) -> Admin | None:
        row = self.connection.execute(select(admins).where(admins.c.id == admin_id)).first()
        return _admin(row) if row else None

    def of_hospital(self, hospital_id: int) -> Sequence[Admin]:
        rows = self.connection.execute(
            select(admins).where(admins.c.hospital_id == hospital_id).order_by(admins.c.id)
        )
        return [_admin(row) for row in rows]
