"""On MySQL/MariaDB: every table in utf8mb4 with binary comparison, as SQLite compares text.

Tables were created in the server's default character set and collation. With MariaDB's default
``utf8mb4_general_ci`` every character outside the Basic Multilingual Plane compares equal to every
other (a department "😁 Dept" was refused as a duplicate of "😀 Dept"), and "Cárdiology" equal to
"cardiology"; on a server whose default is latin1, Chinese names could not be stored at all.
``utf8mb4_bin`` stores any Unicode text and compares it code point by code point, so the unique
keys (a hospital's department names) mean the same on MySQL as on SQLite. SQLite is unchanged.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = (
    "hospitals",
    "departments",
    "doctors",
    "doctor_leaves",
    "session_places",
    "patient_day_counts",
    "appointments",
    "credentials",
    "patients",
    "admins",
    "notifications",
    "throttle_buckets",
)


def _convert(collation: str) -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")


def upgrade() -> None:
    _convert("utf8mb4_bin")


def downgrade() -> None:
    _convert("utf8mb4_general_ci")
