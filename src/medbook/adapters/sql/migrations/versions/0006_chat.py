"""Consultation chat: conversations (one per patient and doctor, with each party's read
receipt) and messages (one per sender and client id, so that a resend stores nothing new).

On MySQL/MariaDB the tables are utf8mb4 with binary comparison, as revision 0005 made the others:
client ids "a" and "A" are two ids, and any Unicode text can be sent.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("patient_read_up_to", sa.Integer(), nullable=False),
        sa.Column("doctor_read_up_to", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_conversations_doctor_id_doctors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint(
            "patient_id", "doctor_id", name=op.f("uq_conversations_patient_id_doctor_id")
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversations_doctor_id"), ["doctor_id"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column(
            "sender_role",
            sa.Enum("patient", "doctor", "admin", name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("text", "image", "file", name="message_kind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_messages_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "sender_role",
            "sender_id",
            "client_id",
            name=op.f("uq_messages_sender_role_sender_id_client_id"),
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_conversation_id_id"), ["conversation_id", "id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("conversations")
