"""The schema, as SQLAlchemy Core tables. Alembic migrations (``migrations/``) create it."""

from __future__ import annotations

import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from medbook.adapters.sql.types import ScheduleType, UtcDateTime
from medbook.domain import AppointmentStatus, CancelledBy, Gender, Period, Rank
from medbook.domain.accounts.model import Sex
from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.actors import Role

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _enum(cls: type[enum.Enum], name: str, length: int = 20) -> Enum:
    """An enum stored as its value in a VARCHAR (portable; no native ENUM to migrate)."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


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
    Column("rank", _enum(Rank, "doctor_rank"), nullable=False),
    Column("gender", _enum(Gender, "gender"), nullable=True),
    Column("staff_number", String(8), nullable=True),
    Column("specialty", String(200), nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("avatar_url", String(1000), nullable=True),
    Column("avatar_key", String(255), nullable=True),
    Column("schedule", ScheduleType, nullable=False),
    Column("verified", Boolean, nullable=False),
    Index(None, "department_id", "verified"),
)

doctor_leaves = Table(
    "doctor_leaves",
    metadata,
    Column("doctor_id", Integer, ForeignKey("doctors.id"), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("period", _enum(Period, "period"), primary_key=True),
)

# One row per session that has ever been booked (or had leave taken). Every booking, cancellation
# and leave of a session locks its row first; ``booked`` only ever moves by a conditional update.
session_places = Table(
    "session_places",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doctor_id", Integer, ForeignKey("doctors.id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("period", _enum(Period, "period"), nullable=False),
    Column("quota", Integer, nullable=False),
    Column("booked", Integer, nullable=False, default=0),
    Column("issued", Integer, nullable=False, default=0),  # the last queue number handed out
    UniqueConstraint("doctor_id", "date", "period"),
    CheckConstraint("booked >= 0 AND booked <= quota AND booked <= issued", name="places_held"),
)

patient_day_counts = Table(
    "patient_day_counts",
    metadata,
    Column("patient_id", Integer, primary_key=True, autoincrement=False),
    Column("date", Date, primary_key=True),
    Column("active", Integer, nullable=False, default=0),
    CheckConstraint("active >= 0", name="active_non_negative"),
)

appointments = Table(
    "appointments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Integer, nullable=False),
    Column("doctor_id", Integer, ForeignKey("doctors.id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("period", _enum(Period, "period"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("status", _enum(AppointmentStatus, "appointment_status"), nullable=False),
    Column("booked_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("cancelled_by", _enum(CancelledBy, "cancelled_by"), nullable=True),
    # patient_id while the appointment holds a place, NULL once cancelled: with the unique key
    # below, the database itself refuses a second active appointment of a patient in a session
    # (NULLs never collide, on MySQL/MariaDB and SQLite alike, so cancelled rows do not count).
    Column("holder_id", Integer, nullable=True),
    UniqueConstraint("doctor_id", "date", "period", "holder_id", name="uq_appointments_holder"),
    UniqueConstraint("doctor_id", "date", "period", "number", name="uq_appointments_number"),
    Index(None, "patient_id", "date"),
    CheckConstraint(
        "(status = 'cancelled' AND holder_id IS NULL)"
        " OR (status <> 'cancelled' AND holder_id = patient_id)",
        name="holder_matches_status",
    ),
)

# --- accounts ------------------------------------------------------------------------------------

credentials = Table(
    "credentials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("role", _enum(Role, "role"), nullable=False),
    Column("phone", String(11), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("password_hash", String(255), nullable=False),
    UniqueConstraint("role", "phone"),  # one account per phone number per role
    UniqueConstraint("role", "user_id"),
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
    Column("sex", _enum(Sex, "sex"), nullable=True),
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

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recipient_role", _enum(Role, "role"), nullable=False),
    Column("recipient_id", Integer, nullable=False),
    Column("kind", _enum(NotificationKind, "notification_kind", 40), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("data", Text, nullable=False),  # JSON
    Column("created_at", UtcDateTime, nullable=False),
    Column("read_at", UtcDateTime, nullable=True),
    Index(None, "recipient_role", "recipient_id", "id"),
)

#: One GCRA bucket per key (see medbook.domain.throttling): ``tat`` in epoch milliseconds.
throttle_buckets = Table(
    "throttle_buckets",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("tat", BigInteger, nullable=False, index=True),
)
