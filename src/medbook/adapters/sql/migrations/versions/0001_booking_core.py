"""Booking core: directory, schedules, leave, the places ledgers and appointments.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 11:00:21.846894
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Aware datetimes are stored as UTC; microseconds kept on MySQL/MariaDB too.
UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hospitals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lng", sa.Double(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospitals")),
    )
    op.create_table(
        "patient_day_counts",
        sa.Column("patient_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.CheckConstraint("active >= 0", name=op.f("ck_patient_day_counts_active_non_negative")),
        sa.PrimaryKeyConstraint("patient_id", "date", name=op.f("pk_patient_day_counts")),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_departments_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("hospital_id", "name", name=op.f("uq_departments_hospital_id_name")),
    )
    op.create_table(
        "doctors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column(
            "rank",
            sa.Enum(
                "resident",
                "attending",
                "associate_chief",
                "chief",
                name="doctor_rank",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "gender",
            sa.Enum("female", "male", name="gender", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("staff_number", sa.String(length=8), nullable=True),
        sa.Column("specialty", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("avatar_url", sa.String(length=1000), nullable=True),
        sa.Column("schedule", sa.String(length=56), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_doctors_department_id_departments")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_doctors_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctors")),
    )
    with op.batch_alter_table("doctors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_doctors_department_id_verified"),
            ["department_id", "verified"],
            unique=False,
        )

    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column(
            "period",
            sa.Enum("morning", "afternoon", name="period", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "booked",
                "cancelled",
                "attended",
                "no_show",
                name="appointment_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("booked_at", UTC_DATETIME, nullable=False),
        sa.Column("cancelled_at", UTC_DATETIME, nullable=True),
        sa.Column(
            "cancelled_by",
            sa.Enum("patient", "doctor_leave", name="cancelled_by", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("holder_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(status = 'cancelled' AND holder_id IS NULL)"
            " OR (status <> 'cancelled' AND holder_id = patient_id)",
            name=op.f("ck_appointments_holder_matches_status"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_appointments_doctor_id_doctors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint(
            "doctor_id", "date", "period", "holder_id", name="uq_appointments_holder"
        ),
        sa.UniqueConstraint("doctor_id", "date", "period", "number", name="uq_appointments_number"),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointments_patient_id_date"), ["patient_id", "date"], unique=False
        )

    op.create_table(
        "doctor_leaves",
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column(
            "period",
            sa.Enum("morning", "afternoon", name="period", native_enum=False, length=20),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_doctor_leaves_doctor_id_doctors")
        ),
        sa.PrimaryKeyConstraint("doctor_id", "date", "period", name=op.f("pk_doctor_leaves")),
    )
    op.create_table(
        "session_places",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column(
            "period",
            sa.Enum("morning", "afternoon", name="period", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "booked >= 0 AND booked <= quota AND booked <= issued",
            name=op.f("ck_session_places_places_held"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_session_places_doctor_id_doctors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_places")),
        sa.UniqueConstraint(
            "doctor_id", "date", "period", name=op.f("uq_session_places_doctor_id_date_period")
        ),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop an index a foreign key needs).
    op.drop_table("session_places")
    op.drop_table("doctor_leaves")
    op.drop_table("appointments")
    op.drop_table("doctors")
    op.drop_table("departments")
    op.drop_table("patient_day_counts")
    op.drop_table("hospitals")
