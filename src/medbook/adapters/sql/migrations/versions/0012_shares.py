"""The health file, third part: record shares. A share keeps the SHA-256 of its code, never the
code (unique), its expiry, revocation and first opening; ``share_records`` names its records
(none when it shares them all). Deleting a record takes it out of every share first.

On MySQL/MariaDB the tables are utf8mb4 with binary comparison, as revision 0005 made the others.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_shares",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("all_records", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        sa.Column("first_opened_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_record_shares_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_shares")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_record_shares_code_hash")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("record_shares", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_shares_patient_id_id"), ["patient_id", "id"], unique=False
        )
    op.create_table(
        "share_records",
        sa.Column("share_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["medical_records.id"],
            name=op.f("fk_share_records_record_id_medical_records"),
        ),
        sa.ForeignKeyConstraint(
            ["share_id"], ["record_shares.id"], name=op.f("fk_share_records_share_id_record_shares")
        ),
        sa.PrimaryKeyConstraint("share_id", "record_id", name=op.f("pk_share_records")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("share_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_records_record_id"), ["record_id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop one a foreign key needs first).
    op.drop_table("share_records")
    op.drop_table("record_shares")
