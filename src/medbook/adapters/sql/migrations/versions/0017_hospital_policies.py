"""What each hospital sets for itself: its reminder times (the evening reminder's local time,
HH:MM, and the minutes before a session of the second) and its no-show rule (limit, window and
block in days); NULL columns mean the deployment's times and no rule. One row per hospital.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hospital_policies",
        sa.Column("hospital_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reminder_evening", sa.String(length=5), nullable=True),
        sa.Column("reminder_before_minutes", sa.Integer(), nullable=True),
        sa.Column("no_show_limit", sa.Integer(), nullable=True),
        sa.Column("no_show_window_days", sa.Integer(), nullable=True),
        sa.Column("no_show_block_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_hospital_policies_hospital_id_hospitals"),
        ),
        sa.PrimaryKeyConstraint("hospital_id", name=op.f("pk_hospital_policies")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )


def downgrade() -> None:
    op.drop_table("hospital_policies")
