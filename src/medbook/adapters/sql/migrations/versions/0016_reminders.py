"""The reminders outbox: one row per (appointment, kind) — a unique key, so each reminder is
recorded once however many workers run — with its due time and status, and the index the claim
reads (status, due time). Appointments get an index on their date, which a run's look at the
next days' appointments reads.

On MySQL/MariaDB the table is utf8mb4 with binary comparison, as revision 0005 made the others.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20, create_constraint=False)


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("reminder_kind", "evening_before", "before_start"), nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("status", _enum("reminder_status", "pending", "sent", "skipped"), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_reminders_appointment_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint(
            "appointment_id", "kind", name=op.f("uq_reminders_appointment_id_kind")
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_index(op.f("ix_reminders_status_due_at"), "reminders", ["status", "due_at"])
    op.create_index(op.f("ix_appointments_date"), "appointments", ["date"])


def downgrade() -> None:
    op.drop_index(op.f("ix_appointments_date"), table_name="appointments")
    op.drop_index(op.f("ix_reminders_status_due_at"), table_name="reminders")
    op.drop_table("reminders")
