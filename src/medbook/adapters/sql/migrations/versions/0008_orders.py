"""Home-visit services and orders: the services hospitals publish (with the provider's point,
indexed for the search box), the places of each date offered (never more held than the capacity:
a check constraint under the conditional update), orders (fee + payout = total, checked), the
gateways' payment events (one row per gateway and event id: a repeat changes nothing) and the
refunds owed (one per order).

On MySQL/MariaDB the tables are utf8mb4 with binary comparison, as revision 0005 made the others.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_events",
        sa.Column("gateway", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("gateway", "event_id", name=op.f("pk_payment_events")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "care_services",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "home_nursing",
                "rehabilitation",
                "chronic_disease_follow_up",
                "maternal_and_infant_care",
                "traditional_chinese_medicine",
                name="service_category",
                native_enum=False,
                length=40,
            ),
            nullable=True,
        ),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lng", sa.Double(), nullable=False),
        sa.Column("radius_km", sa.Double(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tips", sa.Text(), nullable=False),
        sa.Column("precautions", sa.Text(), nullable=False),
        sa.Column("image_url", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_care_services_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_services")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("care_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_services_hospital_id_id"), ["hospital_id", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_care_services_lat_lng"), ["lat", "lng"], unique=False)

    op.create_table(
        "service_dates",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "held >= 0 AND held <= capacity", name=op.f("ck_service_dates_held_within_capacity")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["care_services.id"],
            name=op.f("fk_service_dates_service_id_care_services"),
        ),
        sa.PrimaryKeyConstraint("service_id", "date", name=op.f("pk_service_dates")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "service_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column(
            "place",
            sa.Enum("home", "hospital", name="order_place", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lng", sa.Double(), nullable=True),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("platform_fee_cents", sa.Integer(), nullable=False),
        sa.Column("provider_payout_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_payment",
                "paid",
                "completed",
                "cancelled",
                "refunded",
                "expired",
                name="order_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("pay_by", UTC_DATETIME, nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=True),
        sa.Column("paid_at", UTC_DATETIME, nullable=True),
        sa.Column("ended_at", UTC_DATETIME, nullable=True),
        sa.CheckConstraint(
            "platform_fee_cents + provider_payout_cents = total_cents",
            name=op.f("ck_service_orders_split_adds_up"),
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_service_orders_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_service_orders_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["care_services.id"],
            name=op.f("fk_service_orders_service_id_care_services"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_orders")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_service_orders_payment_id")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("service_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_orders_hospital_id_id"), ["hospital_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_orders_patient_id_id"), ["patient_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_orders_status_pay_by"), ["status", "pay_by"], unique=False
        )

    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("requested_at", UTC_DATETIME, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("settled_at", UTC_DATETIME, nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["service_orders.id"], name=op.f("fk_refunds_order_id_service_orders")
        ),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("order_id", name=op.f("uq_refunds_order_id")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refunds_status_requested_at"), ["status", "requested_at"], unique=False
        )


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop one a foreign key needs first).
    for table in ("refunds", "service_orders", "service_dates", "care_services", "payment_events"):
        op.drop_table(table)
