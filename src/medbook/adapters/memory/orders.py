"""Orders in memory: services and their places by date, orders, payment events and refunds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

import attrs

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.orders.catalogue import Box, CareService, FlatMetric, Reach, ServiceCategory
from medbook.domain.orders.model import OrderStatus, ServiceOrder
from medbook.domain.shared.geo import GeoPoint
from medbook.ports.orders import DatePlaces, PaymentRecord, Refund

TABLES = ("care_services", "service_dates", "service_orders", "payment_events", "refunds")


class MemoryCareServices(MemoryTable):
    def add(self, service: CareService) -> CareService:
        stored: CareService = self._insert(service)
        dates = self._uow.staged["service_dates"]
        for date in service.dates:
            dates[(stored.id, date)] = (service.capacity, 0)
        return stored

    def get(self, service_id: int) -> CareService | None:
        return self._get(service_id)  # type: ignore[no-any-return]

    def reaches_in(
        self,
        box: Box,
        *,
        category: ServiceCategory | None = None,
        offered_from: dt.date,
        metric: FlatMetric | None = None,
        point: GeoPoint | None = None,
    ) -> Sequence[Reach]:
        # No flat pre-filter here: the exact distance (``reaching``) decides anyway.
        return [
            Reach(s.id, s.hospital_id, s.location, s.radius_km)
            for s in self._all()
            if box.holds(s.location)
            and any(d >= offered_from for d in s.dates)
            and category in (None, s.category)
        ]

    def many(self, service_ids: Iterable[int]) -> dict[int, CareService]:
        found = (self._get(i) for i in set(service_ids))
        return {s.id: s for s in found if s is not None}

    def of_hospital(self, hospital_id: int) -> Sequence[CareService]:
        return sorted((s for s in self._all() if s.hospital_id == hospital_id), key=lambda s: s.id)


class MemoryServicePlaces(MemoryTable):
    """Rows are ``(capacity, held)`` keyed by ``(service_id, date)``."""

    def take(self, service_id: int, date: dt.date) -> bool:
        row = self.rows.get((service_id, date))
        if row is None or row[1] >= row[0]:
            return False
        self.rows[(service_id, date)] = (row[0], row[1] + 1)
        return True

    def release(self, service_id: int, date: dt.date) -> None:
        capacity, held = self.rows[(service_id, date)]
        if held == 0:
            raise ValueError(f"service {service_id} holds no place on {date} to release")
        self.rows[(service_id, date)] = (capacity, held - 1)

    def of_services(
        self, service_ids: Iterable[int], offered_from: dt.date
    ) -> dict[int, list[DatePlaces]]:
        found: dict[int, list[DatePlaces]] = {i: [] for i in service_ids}
        for (service_id, date), (capacity, held) in sorted(self.rows.items()):
            if service_id in found and date >= offered_from:
                found[service_id].append(DatePlaces(date, capacity, held))
        return found


class MemoryOrders(MemoryTable):
    def add(self, order: ServiceOrder) -> ServiceOrder:
        if order.payment_id is not None and self.by_payment(order.payment_id) is not None:
            raise ValueError(f"payment id {order.payment_id} is taken")
        return self._insert(order)  # type: ignore[no-any-return]

    def get(self, order_id: int, *, for_update: bool = False) -> ServiceOrder | None:
        return self._get(order_id)  # type: ignore[no-any-return]

    def by_payment(self, payment_id: str) -> ServiceOrder | None:
        return next((o for o in self._all() if o.payment_id == payment_id), None)

    def save(self, order: ServiceOrder) -> None:
        clash = order.payment_id is not None and any(
            o.payment_id == order.payment_id and o.id != order.id for o in self._all()
        )
        if clash:
            raise ValueError(f"payment id {order.payment_id} is taken")
        self._save(order)

    def of_patient(
        self, patient_id: int, status: OrderStatus | None = None, limit: int = 100
    ) -> Sequence[ServiceOrder]:
        return self._list(lambda o: o.patient_id == patient_id, status, limit)

    def of_hospital(
        self, hospital_id: int, status: OrderStatus | None = None, limit: int = 100
    ) -> Sequence[ServiceOrder]:
        return self._list(lambda o: o.hospital_id == hospital_id, status, limit)

    def _list(
        self, owned: Callable[[ServiceOrder], bool], status: OrderStatus | None, limit: int
    ) -> list[ServiceOrder]:
        found = [o for o in self._all() if owned(o) and status in (None, o.status)]
        return sorted(found, key=lambda o: o.id, reverse=True)[:limit]

    def overdue(self, now: dt.datetime, limit: int) -> Sequence[int]:
        found = [o for o in self._all() if o.is_overdue(now)]
        return [o.id for o in sorted(found, key=lambda o: (o.pay_by, o.id))][:limit]

    def overdue_held(
        self, service_ids: Iterable[int], now: dt.datetime
    ) -> dict[tuple[int, dt.date], int]:
        wanted = set(service_ids)
        found: dict[tuple[int, dt.date], int] = {}
        for o in self._all():
            if o.service_id in wanted and o.is_overdue(now):
                found[(o.service_id, o.date)] = found.get((o.service_id, o.date), 0) + 1
        return found

    def unpaid_of_patient(self, patient_id: int, now: dt.datetime) -> int:
        return sum(
            1
            for o in self._all()
            if o.patient_id == patient_id
            and o.status is OrderStatus.PENDING_PAYMENT
            and not o.is_overdue(now)
        )


class MemoryPaymentEvents(MemoryTable):
    def get(self, gateway: str, event_id: str) -> PaymentRecord | None:
        found: PaymentRecord | None = self.rows.get((gateway, event_id))
        return found

    def record(self, event: PaymentRecord) -> bool:
        key = (event.gateway, event.event_id)
        if key in self.rows:
            return False
        self.rows[key] = event
        return True


class MemoryRefunds(MemoryTable):
    def add(self, refund: Refund) -> bool:
        if refund.refund_id in self.rows or self.of_order(refund.order_id) is not None:
            return False
        self.rows[refund.refund_id] = refund
        return True

    def pending(self, limit: int) -> Sequence[Refund]:
        found = [r for r in self.rows.values() if r.status == "requested"]
        return sorted(found, key=lambda r: r.requested_at)[:limit]

    def settle(self, refund_id: str, status: str, at: dt.datetime) -> None:
        self.rows[refund_id] = attrs.evolve(self.rows[refund_id], status=status, settled_at=at)

    def of_order(self, order_id: int) -> Refund | None:
        return next((r for r in self.rows.values() if r.order_id == order_id), None)
