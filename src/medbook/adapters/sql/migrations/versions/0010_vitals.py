"""The health file, first part: vital signs (values in whole tenths, exact on every engine) and
the access log of reads by anyone but the patient.

On MySQL/MariaDB the tables are utf8mb4 with binary comparison, as revision 0005 made the others.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ROLE = sa.Enum("patient", "doctor", "admin", name="role", native_enum=False, length=20)
VITAL_KIND = sa.Enum(
    "blood_pressure",
    "blood_glucose",
    "heart_rate",
    "weight",
    "temperature",
    name="vital_kind",
    native_enum=False,
    length=20,
)
GLUCOSE_CONTEXT = sa.Enum(
    "fasting", "after_meal", "random", name="glucose_context", native_enum=False, length=20
)

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("reader_role", ROLE, nullable=False),
        sa.Column("reader_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_access_log_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_log_patient_id_id"), ["patient_id", "id"], unique=False
        )
    op.create_table(
        "vital_signs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", VITAL_KIND, nullable=False),
        sa.Column("context", GLUCOSE_CONTEXT, nullable=True),
        sa.Column("value_tenths", sa.Integer(), nullable=False),
        sa.Column("second_tenths", sa.Integer(), nullable=True),
        sa.Column("measured_at", UTC_DATETIME, nullable=False),
        sa.Column("recorded_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_vital_signs_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_signs")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vital_signs_patient_id_kind_measured_at"),
            ["patient_id", "kind", "measured_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_vital_signs_patient_id_measured_at"),
            ["patient_id", "measured_at"],
            unique=False,
        )


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop one a foreign key needs first).
    op.drop_table("vital_signs")
    op.drop_table("access_log")
