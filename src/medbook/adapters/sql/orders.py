"""The orders context's tables and repositories: home-visit services and the places of each date,
orders, the gateways' payment events and the refunds owed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    Row,
    SmallInteger,
    String,
    Table,
    Text,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from medbook.adapters.sql.base import Repository, insert_or_count
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.orders.catalogue import (
    Box,
    CareService,
    FlatMetric,
    Reach,
    ServiceCategory,
    box_strips,
    longitude_strip,
)
from medbook.domain.orders.model import OrderStatus, Place, ServiceOrder
from medbook.domain.shared.geo import GeoPoint
from medbook.domain.shared.money import Money
from medbook.ports.orders import DatePlaces, PaymentRecord, Refund, RefundStatus

care_services = Table(
    "care_services",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("category", value_enum(ServiceCategory, "service_category", 40), nullable=True),
    Column("price_cents", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("capacity", Integer, nullable=False),
    # The provider's point, copied from its hospital, and its longitude strip
    # (``longitude_strip(lng)``, kept by ``add``): the search box seeks each strip it spans on
    # the (lng_strip, lat, lng) index, reading only the box's latitudes in each. The index also
    # holds the radius and the hospital: the flat-distance test runs on index entries and
    # ``reaches_in`` reads no table row at all.
    Column("lat", Double, nullable=False),
    Column("lng", Double, nullable=False),
    Column("lng_strip", SmallInteger, nullable=False),
    Column("radius_km", Double, nullable=False),
    Column("description", Text, nullable=False),
    Column("tips", Text, nullable=False),
    Column("precautions", Text, nullable=False),
    Column("image_url", String(2000), nullable=True),
    Index(None, "lng_strip", "lat", "lng", "radius_km", "hospital_id"),
    Index(None, "hospital_id", "id"),
)

service_dates = Table(
    "service_dates",
    metadata,
    Column("service_id", Integer, ForeignKey("care_services.id"), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("capacity", Integer, nullable=False),
    Column("held", Integer, nullable=False),
    CheckConstraint("held >= 0 AND held <= capacity", name="held_within_capacity"),
)

service_orders = Table(
    "service_orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Integer, ForeignKey("patients.id"), nullable=False),
    Column("service_id", Integer, ForeignKey("care_services.id"), nullable=False),
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("place", value_enum(Place, "order_place"), nullable=False),
    Column("address", String(500), nullable=False),
    Column("lat", Double, nullable=True),
    Column("lng", Double, nullable=True),
    Column("total_cents", Integer, nullable=False),
    Column("platform_fee_cents", Integer, nullable=False),
    Column("provider_payout_cents", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", value_enum(OrderStatus, "order_status"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("pay_by", UtcDateTime, nullable=False),
    Column("payment_id", String(64), nullable=True, unique=True),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    CheckConstraint(
        "platform_fee_cents + provider_payout_cents = total_cents", name="split_adds_up"
    ),
    Index(None, "patient_id", "id"),
    Index(None, "hospital_id", "id"),
    Index(None, "status", "pay_by"),
)

payment_events = Table(
    "payment_events",
    metadata,
    Column("gateway", String(20), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("payment_id", String(64), nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("outcome", String(20), nullable=False),
    # How many times the gateway sent the event again after the first (MySQL counts them).
    Column("repeats", Integer, nullable=False, default=0),
)

refunds = Table(
    "refunds",
    metadata,
    Column("refund_id", String(64), primary_key=True),
    Column("order_id", Integer, ForeignKey("service_orders.id"), nullable=False, unique=True),
    Column("payment_id", String(64), nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("total_cents", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("settled_at", UtcDateTime, nullable=True),
    # How many times the refund was decided (more than one: a bug or a race lost; never paid twice).
    Column("requests", Integer, nullable=False, default=1),
    Index(None, "status", "requested_at"),
)


# --- services ------------------------------------------------------------------------------------


def _service_from_row(row: Row[Any], dates: Iterable[dt.date]) -> CareService:
    return CareService(
        hospital_id=row.hospital_id,
        name=row.name,
        category=row.category,
        price=Money(row.price_cents, row.currency),
        capacity=row.capacity,
        dates=frozenset(dates),
        location=GeoPoint(row.lat, row.lng),
        radius_km=row.radius_km,
        description=row.description,
        tips=row.tips,
        precautions=row.precautions,
        image_url=row.image_url,
        id=row.id,
    )


class SqlCareServices(Repository):
    def add(self, service: CareService) -> CareService:
        service.id = self._insert(
            care_services,
            {
                "hospital_id": service.hospital_id,
                "name": service.name,
                "category": service.category,
                "price_cents": service.price.cents,
                "currency": service.price.currency,
                "capacity": service.capacity,
                "lat": service.location.lat,
                "lng": service.location.lng,
                "lng_strip": longitude_strip(service.location.lng),
                "radius_km": service.radius_km,
                "description": service.description,
                "tips": service.tips,
                "precautions": service.precautions,
                "image_url": service.image_url,
            },
        )
        self.connection.execute(
            insert(service_dates),
            [
                {"service_id": service.id, "date": d, "capacity": service.capacity, "held": 0}
                for d in sorted(service.dates)
            ],
        )
        return service

    def get(self, service_id: int) -> CareService | None:
        found = self._load(select(care_services).where(care_services.c.id == service_id))
        return found[0] if found else None

    def reaches_in(
        self,
        box: Box,
        *,
        category: ServiceCategory | None = None,
        offered_from: dt.date,
        metric: FlatMetric | None = None,
        point: GeoPoint | None = None,
    ) -> Sequence[Reach]:
        c = care_services.c
        longitudes: ColumnElement[bool] = (
            c.lng.between(box.west, box.east)
            if box.west <= box.east
            else or_(c.lng >= box.west, c.lng <= box.east)  # across the antimeridian
        )
        d = service_dates.c
        query = select(c.id, c.hospital_id, c.lat, c.lng, c.radius_km).where(
            c.lng_strip.in_(box_strips(box)),  # the index: a seek per strip, then the latitudes
            c.lat.between(box.south, box.north),
            longitudes,
            exists().where(d.service_id == c.id, d.date >= offered_from),
        )
        if category is not None:
            query = query.where(c.category == category)
        if metric is not None and point is not None:
            dlat, dlng = c.lat - point.lat, c.lng - point.lng
            query = query.where(
                dlat * dlat * metric.lat_weight + dlng * dlng * metric.lng_weight
                <= c.radius_km * c.radius_km * metric.margin
            )
        return [
            Reach(row.id, row.hospital_id, GeoPoint(row.lat, row.lng), row.radius_km)
            for row in self.connection.execute(query)
        ]

    def many(self, service_ids: Iterable[int]) -> dict[int, CareService]:
        ids = sorted(set(service_ids))
        if not ids:
            return {}
        found = self._load(select(care_services).where(care_services.c.id.in_(ids)))
        return {s.id: s for s in found if s.id is not None}

    def of_hospital(self, hospital_id: int) -> Sequence[CareService]:
        c = care_services.c
        return self._load(select(care_services).where(c.hospital_id == hospital_id).order_by(c.id))

    def _load(self, query: Any) -> list[CareService]:
        rows = self.connection.execute(query).all()
        if not rows:
            return []
        d = service_dates.c
        dates_query = select(d.service_id, d.date).where(d.service_id.in_([r.id for r in rows]))
        dates: dict[int, list[dt.date]] = {}
        for service_id, date in self.connection.execute(dates_query):
            dates.setdefault(service_id, []).append(date)
        return [_service_from_row(row, dates.get(row.id, ())) for row in rows]


class SqlServicePlaces(Repository):
    def take(self, service_id: int, date: dt.date) -> bool:
        d = service_dates.c
        result = self.connection.execute(
            update(service_dates)
            .where(d.service_id == service_id, d.date == date, d.held < d.capacity)
            .values(held=d.held + 1)
        )
        return result.rowcount == 1

    def release(self, service_id: int, date: dt.date) -> None:
        d = service_dates.c
        result = self.connection.execute(
            update(service_dates)
            .where(d.service_id == service_id, d.date == date, d.held > 0)
            .values(held=d.held - 1)
        )
        if result.rowcount != 1:
            raise ValueError(f"service {service_id} holds no place on {date} to release")

    def of_services(
        self, service_ids: Iterable[int], offered_from: dt.date
    ) -> dict[int, list[DatePlaces]]:
        ids = list(service_ids)
        found: dict[int, list[DatePlaces]] = {i: [] for i in ids}
        if not ids:
            return found
        d = service_dates.c
        query = (
            select(d.service_id, d.date, d.capacity, d.held)
            .where(d.service_id.in_(ids), d.date >= offered_from)
            .order_by(d.service_id, d.date)
        )
        for row in self.connection.execute(query):
            found[row.service_id].append(DatePlaces(row.date, row.capacity, row.held))
        return found


# --- orders --------------------------------------------------------------------------------------

_ORDER_FIELDS = (
    "patient_id",
    "service_id",
    "hospital_id",
    "date",
    "place",
    "address",
    "status",
    "created_at",
    "pay_by",
    "payment_id",
    "paid_at",
    "ended_at",
)


def _order_to_row(order: ServiceOrder) -> dict[str, Any]:
    row = {name: getattr(order, name) for name in _ORDER_FIELDS}
    row["lat"] = order.location.lat if order.location else None
    row["lng"] = order.location.lng if order.location else None
    row["total_cents"] = order.total.cents
    row["platform_fee_cents"] = order.platform_fee.cents
    row["provider_payout_cents"] = order.provider_payout.cents
    row["currency"] = order.total.currency
    return row


def _order_from_row(row: Row[Any]) -> ServiceOrder:
    fields = {name: getattr(row, name) for name in _ORDER_FIELDS}
    return ServiceOrder(
        **fields,
        location=GeoPoint(row.lat, row.lng) if row.lat is not None else None,
        total=Money(row.total_cents, row.currency),
        platform_fee=Money(row.platform_fee_cents, row.currency),
        provider_payout=Money(row.provider_payout_cents, row.currency),
        id=row.id,
    )


class SqlOrders(Repository):
    def add(self, order: ServiceOrder) -> ServiceOrder:
        order.id = self._insert(service_orders, _order_to_row(order))
        return order

    def get(self, order_id: int, *, for_update: bool = False) -> ServiceOrder | None:
        query = select(service_orders).where(service_orders.c.id == order_id)
        row = self.connection.execute(query.with_for_update() if for_update else query).first()
        return _order_from_row(row) if row else None

    def by_payment(self, payment_id: str) -> ServiceOrder | None:
        query = select(service_orders).where(service_orders.c.payment_id == payment_id)
        row = self.connection.execute(query.with_for_update()).first()
        return _order_from_row(row) if row else None

    def save(self, order: ServiceOrder) -> None:
        self.connection.execute(
            update(service_orders)
            .where(service_orders.c.id == order.id)
            .values(_order_to_row(order))
        )

    def of_patient(
        self, patient_id: int, status: OrderStatus | None = None, limit: int = 100
    ) -> Sequence[ServiceOrder]:
        return self._list(service_orders.c.patient_id == patient_id, status, limit)

    def of_hospital(
        self, hospital_id: int, status: OrderStatus | None = None, limit: int = 100
    ) -> Sequence[ServiceOrder]:
        return self._list(service_orders.c.hospital_id == hospital_id, status, limit)

    def _list(self, owner: Any, status: OrderStatus | None, limit: int) -> list[ServiceOrder]:
        c = service_orders.c
        query = select(service_orders).where(owner)
        if status is not None:
            query = query.where(c.status == status)
        rows = self.connection.execute(query.order_by(c.id.desc()).limit(limit))
        return [_order_from_row(row) for row in rows]

    def overdue(self, now: dt.datetime, limit: int) -> Sequence[int]:
        c = service_orders.c
        query = (
            select(c.id)
            .where(c.status == OrderStatus.PENDING_PAYMENT, c.pay_by <= now)
            .order_by(c.pay_by, c.id)
            .limit(limit)
        )
        return list(self.connection.execute(query).scalars())

    def overdue_held(
        self, service_ids: Iterable[int], now: dt.datetime
    ) -> dict[tuple[int, dt.date], int]:
        ids = list(service_ids)
        if not ids:
            return {}
        c = service_orders.c
        query = (
            select(c.service_id, c.date, func.count())
            .where(c.status == OrderStatus.PENDING_PAYMENT, c.pay_by <= now)
            .where(c.service_id.in_(ids))
            .group_by(c.service_id, c.date)
        )
        return {(row[0], row[1]): int(row[2]) for row in self.connection.execute(query)}

    def unpaid_of_patient(self, patient_id: int, now: dt.datetime) -> int:
        c = service_orders.c
        query = select(func.count()).where(
            and_(c.patient_id == patient_id, c.status == OrderStatus.PENDING_PAYMENT),
            c.pay_by > now,
        )
        return int(self.connection.execute(query).scalar_one())


# --- payments ------------------------------------------------------------------------------------


class SqlPaymentEvents(Repository):
    def get(self, gateway: str, event_id: str) -> PaymentRecord | None:
        c = payment_events.c
        row = self.connection.execute(
            select(payment_events).where(c.gateway == gateway, c.event_id == event_id)
        ).first()
        return _event_from_row(row) if row else None

    def record(self, event: PaymentRecord) -> bool:
        return insert_or_count(
            self.connection,
            payment_events,
            {
                "gateway": event.gateway,
                "event_id": event.event_id,
                "payment_id": event.payment_id,
                "succeeded": event.succeeded,
                "amount_cents": event.amount.cents,
                "currency": event.amount.currency,
                "received_at": event.received_at,
                "outcome": event.outcome,
                "repeats": 0,
            },
            "repeats",
        )


def _event_from_row(row: Row[Any]) -> PaymentRecord:
    return PaymentRecord(
        row.gateway,
        row.event_id,
        row.payment_id,
        row.succeeded,
        Money(row.amount_cents, row.currency),
        row.received_at,
        row.outcome,
    )


def _refund_from_row(row: Row[Any]) -> Refund:
    return Refund(
        row.refund_id,
        row.order_id,
        row.payment_id,
        Money(row.amount_cents, row.currency),
        Money(row.total_cents, row.currency),
        row.reason,
        row.requested_at,
        row.status,
        row.settled_at,
    )


class SqlRefunds(Repository):
    def add(self, refund: Refund) -> bool:
        return insert_or_count(
            self.connection,
            refunds,
            {
                "refund_id": refund.refund_id,
                "order_id": refund.order_id,
                "payment_id": refund.payment_id,
                "amount_cents": refund.amount.cents,
                "total_cents": refund.total.cents,
                "currency": refund.amount.currency,
                "reason": refund.reason,
                "requested_at": refund.requested_at,
                "status": refund.status,
                "settled_at": refund.settled_at,
                "requests": 1,
            },
            "requests",
        )

    def pending(self, limit: int) -> Sequence[Refund]:
        c = refunds.c
        query = (
            select(refunds)
            .where(c.status == RefundStatus.REQUESTED)
            .order_by(c.requested_at)
            .limit(limit)
        )
        return [_refund_from_row(row) for row in self.connection.execute(query)]

    def settle(self, refund_id: str, status: str, at: dt.datetime) -> None:
        self.connection.execute(
            update(refunds)
            .where(refunds.c.refund_id == refund_id)
            .values(status=status, settled_at=at)
        )

    def of_order(self, order_id: int) -> Refund | None:
        row = self.connection.execute(select(refunds).where(refunds.c.order_id == order_id)).first()
        return _refund_from_row(row) if row else None
