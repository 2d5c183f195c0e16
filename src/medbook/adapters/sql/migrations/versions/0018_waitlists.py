"""Waitlists: ``waitlist_entries`` (one row per patient who joined a full session's waitlist, its
id the queue's order; ``waiter_id`` is the patient while the entry is waiting or offered, NULL
after, and the unique key on the session and ``waiter_id`` keeps one active entry per patient
and session). A session's places row counts its held offers and its waiting patients, and the
check ``booked + held <= quota`` keeps an offer's place from anyone else; a patient's day counts
the waitlists they are on.

On SQLite the two tables that gain a check are copied (batch mode; their named checks carry
over). On MySQL/MariaDB the new table is utf8mb4 with binary comparison, as revision 0005 made
the others.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20, create_constraint=False)


def upgrade() -> None:
    with op.batch_alter_table("session_places", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("waiting", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_session_places_places_offered"),
            "held >= 0 AND waiting >= 0 AND booked + held <= quota",
        )
    with op.batch_alter_table("patient_day_counts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_patient_day_counts_waiting_non_negative"), "waiting >= 0"
        )
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("period", _enum("period", "morning", "afternoon"), nullable=False),
        sa.Column(
            "status",
            _enum(
                "waitlist_status",
                "waiting",
                "offered",
                "booked",
                "lapsed",
                "left",
                "cleared",
                "closed",
            ),
            nullable=False,
        ),
        sa.Column("joined_at", UTC_DATETIME, nullable=False),
        sa.Column("offered_at", UTC_DATETIME, nullable=True),
        sa.Column("expires_at", UTC_DATETIME, nullable=True),
        sa.Column("ended_at", UTC_DATETIME, nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("waiter_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(status IN ('waiting', 'offered') AND waiter_id IS NOT NULL"
            " AND waiter_id = patient_id)"
            " OR (status NOT IN ('waiting', 'offered') AND waiter_id IS NULL)",
            name=op.f("ck_waitlist_entries_waiter_matches_status"),
        ),
        sa.CheckConstraint(
            "status <> 'offered' OR expires_at IS NOT NULL",
            name=op.f("ck_waitlist_entries_offer_has_expiry"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_entries_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_waitlist_entries_doctor_id_doctors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
        sa.UniqueConstraint("doctor_id", "date", "period", "waiter_id", name="uq_waitlist_waiter"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_index(
        op.f("ix_waitlist_entries_doctor_id_date_period_status"),
        "waitlist_entries",
        ["doctor_id", "date", "period", "status"],
    )
    op.create_index(
        op.f("ix_waitlist_entries_status_expires_at"), "waitlist_entries", ["status", "expires_at"]
    )
    op.create_index(
        op.f("ix_waitlist_entries_patient_id_date"), "waitlist_entries", ["patient_id", "date"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_waitlist_entries_patient_id_date"), table_name="waitlist_entries")
    op.drop_index(op.f("ix_waitlist_entries_status_expires_at"), table_name="waitlist_entries")
    op.drop_index(
        op.f("ix_waitlist_entries_doctor_id_date_period_status"), table_name="waitlist_entries"
    )
    op.drop_table("waitlist_entries")
    with op.batch_alter_table("patient_day_counts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_patient_day_counts_waiting_non_negative"), type_="check")
        batch_op.drop_column("waiting")
    with op.batch_alter_table("session_places", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_session_places_places_offered"), type_="check")
        batch_op.drop_column("waiting")
        batch_op.drop_column("held")
