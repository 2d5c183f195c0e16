"""Accounts (credentials, patients, admins), notifications, login throttling.

Doctors may now exist before they join a hospital (they register, then choose it).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 11:44:22.464490
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "role",
            sa.Enum("patient", "doctor", "admin", name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("role", "phone", name=op.f("uq_credentials_role_phone")),
        sa.UniqueConstraint("role", "user_id", name=op.f("uq_credentials_role_user_id")),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_key"), ["key"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "recipient_role",
            sa.Enum("patient", "doctor", "admin", name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "appointment_cancelled_by_leave",
                name="notification_kind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("read_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_recipient_role_recipient_id_id"),
            ["recipient_role", "recipient_id", "id"],
            unique=False,
        )

    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=True),
        sa.Column("legal_name", sa.String(length=50), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column(
            "sex",
            sa.Enum("female", "male", name="sex", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("id_number_last4", sa.String(length=4), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    op.create_table(
        "admins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_admins_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admins")),
    )
    with op.batch_alter_table("doctors", schema=None) as batch_op:
        batch_op.alter_column("hospital_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("department_id", existing_type=sa.INTEGER(), nullable=True)


def downgrade() -> None:
    # Fails while doctors without a hospital exist: they have nowhere to go back to.
    with op.batch_alter_table("doctors", schema=None) as batch_op:
        batch_op.alter_column("department_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("hospital_id", existing_type=sa.INTEGER(), nullable=False)

    op.drop_table("admins")
    op.drop_table("patients")
    op.drop_table("notifications")
    op.drop_table("login_failures")
    op.drop_table("credentials")
