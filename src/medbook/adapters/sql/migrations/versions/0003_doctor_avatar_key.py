"""Doctors' avatars are objects in storage: keep the key, to delete the old one on change.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("doctors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("avatar_key", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("doctors", schema=None) as batch_op:
        batch_op.drop_column("avatar_key")
