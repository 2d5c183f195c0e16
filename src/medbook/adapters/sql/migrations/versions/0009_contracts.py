"""Family-doctor contracts: one row per contract, kept after it ends. While a contract is active
``active_patient_id`` holds its patient, under a unique key on (doctor, active patient): one
active contract per pair, whatever races; an ended contract frees the key (NULL), so the two may
sign again. A check constraint keeps the status, the key and the end time in agreement.

On MySQL/MariaDB the table is utf8mb4 with binary comparison, as revision 0005 made the others.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ROLE = sa.Enum("patient", "doctor", "admin", name="role", native_enum=False, length=20)

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "ended", name="contract_status", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("signed_at", UTC_DATETIME, nullable=False),
        sa.Column("ended_at", UTC_DATETIME, nullable=True),
        sa.Column("ended_by", ROLE, nullable=True),
        sa.Column("active_patient_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(status = 'active' AND active_patient_id = patient_id AND ended_at IS NULL)"
            " OR (status = 'ended' AND active_patient_id IS NULL AND ended_at IS NOT NULL)",
            name=op.f("ck_contracts_active_matches_status"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_contracts_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_contracts_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("doctor_id", "active_patient_id", name="uq_contracts_active_pair"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contracts_doctor_id_id"), ["doctor_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contracts_patient_id_id"), ["patient_id", "id"], unique=False
        )


def downgrade() -> None:
    # Dropping the table drops its indexes (MySQL refuses to drop one a foreign key needs first).
    op.drop_table("contracts")
