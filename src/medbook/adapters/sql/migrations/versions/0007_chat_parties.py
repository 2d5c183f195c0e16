"""Chat parties: one row per patient and doctor in a conversation, locked while a message is
stored, so that each party's messages get their ids in commit order (``sync`` relies on it).
Filled from the conversations that exist.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ROLE = sa.Enum("patient", "doctor", "admin", name="role", native_enum=False, length=20)


def upgrade() -> None:
    op.create_table(
        "chat_parties",
        sa.Column("role", ROLE, nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("role", "user_id", name=op.f("pk_chat_parties")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.execute(
        "INSERT INTO chat_parties (role, user_id) "
        "SELECT DISTINCT 'patient', patient_id FROM conversations"
    )
    op.execute(
        "INSERT INTO chat_parties (role, user_id) "
        "SELECT DISTINCT 'doctor', doctor_id FROM conversations"
    )


def downgrade() -> None:
    op.drop_table("chat_parties")
