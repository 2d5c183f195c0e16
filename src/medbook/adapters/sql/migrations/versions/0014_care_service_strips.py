"""Home-visit services: a longitude strip per service, ``lng_strip = floor(lng * 2)`` (half a
degree wide), and the search box's index on (lng_strip, lat, lng) instead of (lat, lng). A B-tree
on (lat, lng) can only range on ``lat``: a box's query read every service in its latitudes across
the whole country, and MariaDB preferred a full scan at dense points. With ``lng_strip IN (the
strips the box spans)`` each strip is one seek on its latitudes. The index ends with radius_km
and hospital_id, so that the box query (id, hospital, point, radius and the flat-distance test on
them) is answered from the index alone, without a lookup of the table's row per entry.

The existing rows get their strip here (in SQL: ``lng * 2`` is exact in floating point, so it is
the strip ``medbook.domain.orders.catalogue.longitude_strip`` gives); then the column is NOT NULL
(on SQLite with a default of 0: see ``upgrade``).
The factor is written out, not imported: this revision fills the strips as they were defined
when it was written.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

#: ``floor(lng * 2)``. SQLite has ``floor`` only when built with its math functions, so there it
#: is a cast (which truncates towards zero) less one for a negative value with a fraction; MySQL's
#: and MariaDB's cast rounds, so they use ``FLOOR``.
STRIP_SQLITE = (
    "CASE WHEN CAST(lng * 2 AS INTEGER) > lng * 2"
    " THEN CAST(lng * 2 AS INTEGER) - 1 ELSE CAST(lng * 2 AS INTEGER) END"
)
STRIP_MYSQL = "FLOOR(lng * 2)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot make a column NOT NULL but by copying the table into a new one and
        # dropping the old, and migrations run in a transaction with foreign keys enforced: the
        # drop fails as soon as a date or an order refers to a service. So the column is added
        # NOT NULL with a default (SQLite's ALTER TABLE requires one), then filled. Every insert
        # gives the strip (``SqlCareServices.add``); on SQLite one that forgot would get 0.
        op.add_column(
            "care_services",
            sa.Column("lng_strip", sa.SmallInteger(), server_default="0", nullable=False),
        )
        op.execute(f"UPDATE care_services SET lng_strip = {STRIP_SQLITE}")  # noqa: S608
    else:
        op.add_column("care_services", sa.Column("lng_strip", sa.SmallInteger(), nullable=True))
        op.execute(f"UPDATE care_services SET lng_strip = {STRIP_MYSQL}")  # noqa: S608
        op.alter_column(
            "care_services", "lng_strip", existing_type=sa.SmallInteger(), nullable=False
        )
    op.drop_index(op.f("ix_care_services_lat_lng"), table_name="care_services")
    op.create_index(
        op.f("ix_care_services_lng_strip_lat_lng_radius_km_hospital_id"),
        "care_services",
        ["lng_strip", "lat", "lng", "radius_km", "hospital_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_care_services_lng_strip_lat_lng_radius_km_hospital_id"),
        table_name="care_services",
    )
    op.create_index(op.f("ix_care_services_lat_lng"), "care_services", ["lat", "lng"], unique=False)
    # SQLite (3.35 and later) drops a column in place: no copy of the table (see upgrade).
    op.execute("ALTER TABLE care_services DROP COLUMN lng_strip")
