"""The health file, second part: medical records (one per hospital visit) and their attachments
(the storage keys of private files; deleting a record deletes their rows, then their files).

On MySQL/MariaDB the tables are utf8mb4 with binary comparison, as revision 0005 made the others.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "medical_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("hospital_name", sa.String(length=200), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_medical_records_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medical_records")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("medical_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_medical_records_patient_id_visit_date"),
            ["patient_id", "visit_date"],
            unique=False,
        )
    op.create_table(
        "record_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("added_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["medical_records.id"],
            name=op.f("fk_record_attachments_record_id_medical_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_attachments")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_record_attachments_storage_key")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("record_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_attachments_record_id_id"), ["record_id", "id"], unique=False
        )


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop one a foreign key needs first).
    op.drop_table("record_attachments")
    op.drop_table("medical_records")
