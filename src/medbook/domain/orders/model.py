"""A patient's order of a home-visit service: its money, and its life as a state machine.

    pending_payment ──pay──▶ paid ──complete──▶ completed
          │                    │
          ├──cancel──▶ cancelled        paid ──refund──▶ refunded
          └──expire──▶ expired  (unpaid past its deadline)

Each transition is a method that refuses, with a stable error code, to run from another state.
A place of the service's date is held from creation until the order is cancelled, expired or
refunded (``holds_a_place``); the database keeps the count (the services' job).
"""

from __future__ import annotations

import datetime as dt
import enum

from attrs import define

from medbook.domain.orders.catalogue import CareService
from medbook.domain.orders.pricing import FeePolicy
from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import (
    AmountMismatch,
    InvalidValue,
    OrderNotCancellable,
    OrderNotCompletable,
    OrderNotPayable,
    OrderNotRefundable,
)
from medbook.domain.shared.geo import GeoPoint
from medbook.domain.shared.money import Money
from medbook.domain.shared.text import ADDRESS

#: How long an order waits for its payment before it expires.
PAYMENT_TIMEOUT = dt.timedelta(minutes=15)


class OrderStatus(enum.Enum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    EXPIRED = "expired"


class Place(enum.Enum):
    HOME = "home"
    HOSPITAL = "hospital"


#: The states in which an order holds a place of its service's date.
HOLDING = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.COMPLETED})


@define(slots=False, eq=False)
class ServiceOrder(Entity):
    patient_id: int
    service_id: int
    hospital_id: int
    date: dt.date
    place: Place
    address: str
    location: GeoPoint | None
    total: Money
    platform_fee: Money
    provider_payout: Money
    created_at: dt.datetime
    pay_by: dt.datetime
    status: OrderStatus = OrderStatus.PENDING_PAYMENT
    payment_id: str | None = None
    paid_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    id: int | None = None

    @classmethod
    def place_order(
        cls,
        service: CareService,
        patient_id: int,
        date: dt.date,
        place: Place,
        address: str,
        location: GeoPoint | None,
        now: dt.datetime,
        fees: FeePolicy,
        timeout: dt.timedelta = PAYMENT_TIMEOUT,
        today: dt.date | None = None,
    ) -> ServiceOrder:
        """A new order, waiting for its payment until ``now + timeout``. The service must be
        offered on ``date`` (not before ``today``, the provider's date, when given), and reach
        ``location`` when it is done at home."""
        assert service.id is not None
        if today is not None and date < today:
            raise InvalidValue("date", "that date has passed")
        if not service.is_offered_on(date):
            raise InvalidValue("date", "the service is not offered on that date")
        address = ADDRESS.check(address, "address")
        if place is Place.HOSPITAL and (address or location is not None):
            # The service happens at the provider's hospital: a point or an address given here
            # would be stored unchecked and read as where to go.
            field = "address" if address else "lat"
            raise InvalidValue(field, "a visit at the hospital takes no address or lat, lng")
        if place is Place.HOME:
            if location is None or not address:
                raise InvalidValue("address", "a home visit needs the address and its lat, lng")
            if not service.covers(location):
                raise InvalidValue("lat", "the provider does not reach that address")
        split = fees.split(service.price)
        return cls(
            patient_id,
            service.id,
            service.hospital_id,
            date,
            place,
            address,
            location,
            split.total,
            split.platform_fee,
            split.provider_payout,
            now,
            now + timeout,
        )

    @property
    def holds_a_place(self) -> bool:
        return self.status in HOLDING

    def is_overdue(self, now: dt.datetime) -> bool:
        return self.status is OrderStatus.PENDING_PAYMENT and now >= self.pay_by

    def start_payment(self, payment_id: str, now: dt.datetime) -> None:
        """Name the payment that will pay this order (kept when it has one already: asking
        again gives the same payment)."""
        if self.status is not OrderStatus.PENDING_PAYMENT or self.is_overdue(now):
            raise OrderNotPayable(f"order {self.id} is {self.status.value}; it cannot be paid")
        if self.payment_id is None:
            self.payment_id = payment_id

    def pay(self, payment_id: str, amount: Money, now: dt.datetime) -> None:
        """The payment succeeded: the order is paid. Refused unless it waits for a payment (not
        past its deadline), the payment is the one it started (if any), and the amount is its
        total."""
        if self.status is not OrderStatus.PENDING_PAYMENT or self.is_overdue(now):
            raise OrderNotPayable(f"order {self.id} is {self.status.value}; it cannot be paid")
        if self.payment_id is not None and payment_id != self.payment_id:
            raise OrderNotPayable(f"order {self.id} waits for another payment")
        if amount != self.total:
            raise AmountMismatch(f"the payment is {amount}, the order {self.total}")
        self.status, self.payment_id, self.paid_at = OrderStatus.PAID, payment_id, now

    def expire(self, now: dt.datetime) -> bool:
        """Unpaid past its deadline: expired, and its place returns. False when it is not."""
        if not self.is_overdue(now):
            return False
        self.status, self.ended_at = OrderStatus.EXPIRED, now
        return True

    def cancel(self, now: dt.datetime) -> None:
        if self.status is not OrderStatus.PENDING_PAYMENT:
            raise OrderNotCancellable(f"order {self.id} is {self.status.value}")
        self.status, self.ended_at = OrderStatus.CANCELLED, now

    def refund(self, now: dt.datetime) -> None:
        if self.status is not OrderStatus.PAID:
            raise OrderNotRefundable(f"order {self.id} is {self.status.value}")
        self.status, self.ended_at = OrderStatus.REFUNDED, now

    def complete(self, now: dt.datetime) -> None:
        if self.status is not OrderStatus.PAID:
            raise OrderNotCompletable(f"order {self.id} is {self.status.value}")
        self.status, self.ended_at = OrderStatus.COMPLETED, now
