"""The orders context's ports: the catalogue of home-visit services, the places of each date
offered, orders, the payment events and refunds, and its unit of work.

The database, not the service, guarantees that no date is oversold (``ServicePlaces.take`` is a
conditional write) and that a gateway's event changes things once (``PaymentEvents.record`` is an
insert into a unique key).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Protocol

from attrs import frozen

from medbook.domain.orders.catalogue import Box, CareService, FlatMetric, Reach, ServiceCategory
from medbook.domain.orders.model import OrderStatus, ServiceOrder
from medbook.domain.shared.geo import GeoPoint
from medbook.domain.shared.money import Money
from medbook.ports.accounts import AdminRepository
from medbook.ports.directory import DirectoryReads
from medbook.ports.notifications import NotificationRepository
from medbook.ports.transaction import Transaction


class CareServiceRepository(Protocol):
    def add(self, service: CareService) -> CareService:
        """Store a new service (and a row of places for each date it is offered)."""
        ...

    def get(self, service_id: int) -> CareService | None: ...

    def reaches_in(
        self,
        box: Box,
        *,
        category: ServiceCategory | None = None,
        offered_from: dt.date,
        metric: FlatMetric | None = None,
        point: GeoPoint | None = None,
    ) -> Sequence[Reach]:
        """What decides the distance (no more) of the services whose provider is inside ``box``
        (an indexed pre-filter) and that are offered on some date from ``offered_from`` on;
        with ``metric`` and ``point``, also dropping those the flat metric says cannot reach
        the point. The exact distance is the domain's (``reaching``)."""
        ...

    def many(self, service_ids: Iterable[int]) -> dict[int, CareService]:
        """The services of those ids, with all their dates, in one query (and one for dates)."""
        ...

    def of_hospital(self, hospital_id: int) -> Sequence[CareService]: ...


@frozen
class DatePlaces:
    date: dt.date
    capacity: int
    held: int

    @property
    def remaining(self) -> int:
        return self.capacity - self.held


class ServicePlaces(Protocol):
    """A row per service and date offered: its capacity and the places orders hold."""

    def take(self, service_id: int, date: dt.date) -> bool:
        """Hold one place if one is left. One conditional write (``held < capacity``): never
        more places than the capacity, whatever races it. False when none is left."""
        ...

    def release(self, service_id: int, date: dt.date) -> None:
        """Give one place back (never below zero)."""
        ...

    def of_services(
        self, service_ids: Iterable[int], offered_from: dt.date
    ) -> dict[int, list[DatePlaces]]:
        """Each service's dates from ``offered_from`` on, with their places, by date."""
        ...


class OrderRepository(Protocol):
    def add(self, order: ServiceOrder) -> ServiceOrder: ...

    def get(self, order_id: int, *, for_update: bool = False) -> ServiceOrder | None:
        """``for_update``: hold the order's row until the transaction ends."""
        ...

    def by_payment(self, payment_id: str) -> ServiceOrder | None:
        """The order paid (or being paid) under that payment id, held until the transaction
        ends."""
        ...

    def save(self, order: ServiceOrder) -> None: ...

    def of_patient(
        self, patient_id: int, status: OrderStatus | None = None, limit: int = 100
    ) -> Sequence[ServiceOrder]:
        """Newest first."""
        ...

    def of_hospital(
        self, hospital_id: int, status: OrderStatus | None = None, limit: int = 100
    ) -> Sequence[ServiceOrder]:
        """Newest first."""
        ...

    def overdue(self, now: dt.datetime, limit: int) -> Sequence[int]:
        """Ids of orders still waiting for a payment whose deadline is past, oldest first."""
        ...

    def overdue_held(
        self, service_ids: Iterable[int], now: dt.datetime
    ) -> dict[tuple[int, dt.date], int]:
        """How many places orders past their payment deadline still hold, by service and date
        (they are free for the taking: the next order expires them)."""
        ...

    def unpaid_of_patient(self, patient_id: int, now: dt.datetime) -> int:
        """How many orders of the patient wait for a payment before their deadline."""
        ...


@frozen
class PaymentRecord:
    """A gateway's event, as received: stored once (its id is unique per gateway)."""

    gateway: str
    event_id: str
    payment_id: str
    succeeded: bool
    amount: Money
    received_at: dt.datetime
    outcome: str  # "paid", "failed", "late" (refunded), "duplicate"


class PaymentEvents(Protocol):
    def record(self, event: PaymentRecord) -> bool:
        """Store the event unless that gateway's event id is stored already (a unique key
        decides, also between racing transactions). True when it is new."""
        ...

    def get(self, gateway: str, event_id: str) -> PaymentRecord | None: ...


class RefundStatus:
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    PROCESSING = "processing"


@frozen
class Refund:
    """Money to give back for a payment: asked of the gateway after the transaction that decided
    it commits, and asked again (same ``refund_id``) until the gateway has taken it."""

    refund_id: str
    order_id: int
    payment_id: str
    amount: Money
    total: Money
    reason: str
    requested_at: dt.datetime
    status: str = RefundStatus.REQUESTED
    settled_at: dt.datetime | None = None


class RefundRepository(Protocol):
    def add(self, refund: Refund) -> bool:
        """Store a refund unless one for that payment exists (unique). True when it is new."""
        ...

    def pending(self, limit: int) -> Sequence[Refund]:
        """Refunds the gateway has not taken yet (requested), oldest first."""
        ...

    def settle(self, refund_id: str, status: str, at: dt.datetime) -> None: ...

    def of_order(self, order_id: int) -> Refund | None: ...


class OrdersUnitOfWork(DirectoryReads, Transaction, Protocol):
    """The orders context's transaction: its own repositories, the hospital's admins to notify
    and their inbox."""

    @property
    def care_services(self) -> CareServiceRepository: ...
    @property
    def service_places(self) -> ServicePlaces: ...
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def payment_events(self) -> PaymentEvents: ...
    @property
    def refunds(self) -> RefundRepository: ...
    @property
    def admins(self) -> AdminRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
