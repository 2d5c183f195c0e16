"""Chat: each party's row counts the messages stored for it (``stamp``), so that storing a
message *writes* both parties' rows rather than only locking them. One server serialised a
party's messages either way; a Galera cluster certifies writes, not locks, and only a write makes
it refuse the second of two messages stored for one user through two nodes at once (which could
otherwise commit out of id order, and a client's ``sync after=<id>`` pass one by).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_parties", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stamp", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("chat_parties", schema=None) as batch_op:
        batch_op.drop_column("stamp")
