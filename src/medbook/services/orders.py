"""Home-visit services and their orders: publishing a service, finding the ones that reach a
patient, ordering a place, paying through the gateway, cancelling (a refund when paid),
completing, and the expiry of unpaid orders.

Places are the database's to count: an order holds one from its creation (``take``, a
conditional write that never oversells) until it is cancelled, refunded or expires. An order
whose payment deadline has passed is expired whenever it is touched (and by
``expire_overdue``, which ``medbook expire-orders`` runs), so no background thread is needed for
the count to be right. The gateway is called outside every transaction; refunds are decided
inside one (a row in ``refunds``) and asked of the gateway after it commits, again until the
gateway has taken them (``settle_refunds``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import attrs
from attrs import Factory, define, frozen

from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.orders.catalogue import (
    MAX_RADIUS_KM,
    CareService,
    ServiceCategory,
    ensure_dates_ahead,
    flat_metric,
    reaching,
    search_box,
)
from medbook.domain.orders.model import PAYMENT_TIMEOUT, OrderStatus, Place, ServiceOrder
from medbook.domain.orders.pricing import FeePolicy
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    DomainError,
    EventIdReused,
    GatewayUnavailable,
    InvalidValue,
    OrderNotCancellable,
    OrderNotFound,
    OrderNotPayable,
    PaymentAmountMismatch,
    PaymentRefused,
    ServiceNotFound,
    SoldOut,
    TooManyUnpaidOrders,
)
from medbook.domain.shared.geo import GeoPoint
from medbook.domain.shared.money import Money
from medbook.ports.clock import Clock
from medbook.ports.orders import DatePlaces, OrdersUnitOfWork, PaymentRecord, Refund, RefundStatus
from medbook.ports.payments import (
    PaymentEvent,
    PaymentGateway,
    PaymentRequest,
    PaymentStart,
    RefundRequest,
)
from medbook.services.authorization import require_admin_of, require_role
from medbook.services.directory import hospital_of
from medbook.services.transactions import read_only, transactionally

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The most services one search answers (nearest first).
MAX_RESULTS = 100
#: The most orders one listing answers (newest first).
MAX_LISTED = 100


@frozen
class ServiceDraft:
    """What an admin publishes (the location is the hospital's)."""

    name: str
    price: Money
    capacity: int
    radius_km: float
    dates: frozenset[dt.date]
    category: ServiceCategory | None = None
    description: str = ""
    tips: str = ""
    precautions: str = ""
    image_url: str | None = None


@frozen
class Offer:
    """A service as a patient sees it: its dates to come with the places left, and how far its
    provider is from the patient's point (None when no point was given)."""

    service: CareService
    dates: Sequence[DatePlaces]
    distance_km: float | None = None

    @property
    def remaining(self) -> int:
        return sum(d.remaining for d in self.dates)


@frozen
class StartedPayment:
    """The order being paid, and what the gateway answered for the patient's app."""

    order: ServiceOrder
    start: PaymentStart


@frozen
class NotifyResult:
    """What a notification did: ``paid``, ``failed``, ``late`` (the order could not take it: the
    money goes back), ``duplicate`` (another event of a payment already taken) or ``repeat``
    (this very event again: nothing changed)."""

    outcome: str
    order_id: int | None


class _After(Exception):
    """Raised by a transaction's work after it has changed what must stay changed (an order that
    expired on access): the transaction commits, then ``error`` reaches the caller."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(str(error))
        self.error = error


def _new_payment_id(order_id: int) -> str:
    # WeChat's out_trade_no takes 6 to 32 of [0-9A-Za-z_-|*]; this is at most 25.
    return f"mb{order_id}-{secrets.token_hex(6)}"


@define
class OrderService:
    new_uow: Callable[[], OrdersUnitOfWork]
    clock: Clock
    gateway: PaymentGateway
    fees: FeePolicy = Factory(FeePolicy)
    timeout: dt.timedelta = PAYMENT_TIMEOUT
    #: How many unpaid orders a patient may hold at once (each holds a place until it expires).
    max_unpaid: int = 5

    # --- the catalogue ---------------------------------------------------------------------------

    def publish_as(self, actor: Actor, hospital_id: int, draft: ServiceDraft) -> Offer:
        require_admin_of(actor, hospital_id)

        def work(uow: OrdersUnitOfWork) -> Offer:
            hospital = hospital_of(uow, hospital_id)
            if hospital.location is None:
                raise InvalidValue(
                    "hospital", "the hospital has no location: services are found by distance"
                )
            ensure_dates_ahead(draft.dates, self.clock.now().astimezone(hospital.tz).date())
            service = uow.care_services.add(
                CareService(
                    hospital_id=hospital_id,
                    name=draft.name,
                    category=draft.category,
                    price=draft.price,
                    capacity=draft.capacity,
                    dates=draft.dates,
                    location=hospital.location,
                    radius_km=draft.radius_km,
                    description=draft.description,
                    tips=draft.tips,
                    precautions=draft.precautions,
                    image_url=draft.image_url,
                )
            )
            assert service.id is not None
            places = uow.service_places.of_services([service.id], min(draft.dates))
            return Offer(service, places[service.id])

        return transactionally(self.new_uow, work)

    def search(
        self, point: GeoPoint, category: ServiceCategory | None = None, limit: int = 50
    ) -> list[Offer]:
        """The services whose provider reaches ``point``, nearest first, with their dates to
        come and the places left on each (only services with a date to come)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
            raise InvalidValue("limit", f"must be a whole number from 1 to {MAX_RESULTS}")
        now = self.clock.now()
        # A day back in UTC covers "today" in every time zone; each hospital's own today is
        # applied below.
        earliest = (now - dt.timedelta(days=1)).date()

        def work(uow: OrdersUnitOfWork) -> list[Offer]:
            # Weigh light rows (point and radius) first; load the few services shown, a page at
            # a time (a page may lose services with no date left in their hospital's today).
            box = search_box(point, MAX_RADIUS_KM)
            reaches = uow.care_services.reaches_in(
                box,
                category=category,
                offered_from=earliest,
                metric=flat_metric(box),
                point=point,
            )
            nearest = reaching(reaches, point)
            offers: list[Offer] = []
            for start in range(0, len(nearest), limit):
                page = nearest[start : start + limit]
                loaded = uow.care_services.many(r.service_id for r, _ in page)
                found = [(loaded[r.service_id], d) for r, d in page if r.service_id in loaded]
                offers += self._offers(uow, found, now, limit - len(offers))
                if len(offers) == limit:
                    break
            return offers

        return read_only(self.new_uow, work)

    def service(self, service_id: int) -> Offer:
        now = self.clock.now()

        def work(uow: OrdersUnitOfWork) -> Offer:
            service = uow.care_services.get(service_id)
            if service is None:
                raise ServiceNotFound(f"no service {service_id}")
            return self._offers(uow, [(service, None)], now, 1, keep_empty=True)[0]

        return read_only(self.new_uow, work)

    def services_of_hospital(self, hospital_id: int) -> list[Offer]:
        now = self.clock.now()

        def work(uow: OrdersUnitOfWork) -> list[Offer]:
            hospital_of(uow, hospital_id)
            found = [(s, None) for s in uow.care_services.of_hospital(hospital_id)]
            return self._offers(uow, found, now, len(found), keep_empty=True)

        return read_only(self.new_uow, work)

    def _offers(
        self,
        uow: OrdersUnitOfWork,
        found: Sequence[tuple[CareService, float | None]],
        now: dt.datetime,
        limit: int,
        *,
        keep_empty: bool = False,
    ) -> list[Offer]:
        """Each service with its dates from its hospital's today on (at most ``limit`` of them,
        and only those with such a date unless ``keep_empty``). A place an order past its
        payment deadline still holds counts as free: the next order takes it."""
        offers: list[Offer] = []
        earliest = (now - dt.timedelta(days=1)).date()
        ids = [s.id for s, _ in found if s.id is not None]
        places = uow.service_places.of_services(ids, earliest)
        overdue = uow.orders.overdue_held(ids, now) if ids else {}
        hospitals = uow.hospitals.many(s.hospital_id for s, _ in found)
        today_of = {i: now.astimezone(h.tz).date() for i, h in hospitals.items()}
        for service, distance in found:
            assert service.id is not None
            today = today_of[service.hospital_id]
            dates = [
                attrs.evolve(d, held=d.held - overdue.get((service.id, d.date), 0))
                for d in places[service.id]
                if d.date >= today
            ]
            if dates or keep_empty:
                offers.append(Offer(service, dates, distance))
            if len(offers) == limit:
                break
        return offers

    # --- ordering --------------------------------------------------------------------------------

    def place_as(
        self,
        actor: Actor,
        service_id: int,
        date: dt.date,
        place: Place,
        address: str = "",
        point: GeoPoint | None = None,
    ) -> ServiceOrder:
        """A new order holding a place of that date, waiting for its payment."""
        require_role(actor, Role.PATIENT)

        def work(uow: OrdersUnitOfWork) -> ServiceOrder:
            now = self.clock.now()
            service = uow.care_services.get(service_id)
            if service is None:
                raise ServiceNotFound(f"no service {service_id}")
            tz = hospital_of(uow, service.hospital_id).tz
            order = ServiceOrder.place_order(
                service,
                actor.id,
                date,
                place,
                address,
                point,
                now,
                self.fees,
                self.timeout,
                today=now.astimezone(tz).date(),
            )
            if uow.orders.unpaid_of_patient(actor.id, now) >= self.max_unpaid:
                raise TooManyUnpaidOrders(
                    f"at most {self.max_unpaid} unpaid orders at once: pay or cancel one first"
                )
            # Unpaid orders past their deadline hold places until touched: when none is left,
            # expire them, then try once more.
            taken = uow.service_places.take(service_id, date) or (
                self._expire(uow, now, limit=MAX_LISTED) > 0
                and uow.service_places.take(service_id, date)
            )
            if not taken:
                raise SoldOut(f"no place left for service {service_id} on {date}")
            return uow.orders.add(order)

        return transactionally(self.new_uow, work)

    def orders_as(self, actor: Actor, status: OrderStatus | None = None) -> list[ServiceOrder]:
        """A patient's own orders, or an admin's hospital's; newest first. Overdue unpaid ones
        are expired on the way."""
        require_role(actor, Role.PATIENT, Role.ADMIN)

        def listed(uow: OrdersUnitOfWork) -> Sequence[ServiceOrder]:
            if actor.role is Role.PATIENT:
                return uow.orders.of_patient(actor.id, None, MAX_LISTED)
            assert actor.hospital_id is not None
            return uow.orders.of_hospital(actor.hospital_id, None, MAX_LISTED)

        def work(uow: OrdersUnitOfWork) -> list[ServiceOrder]:
            now = self.clock.now()
            found = listed(uow)
            overdue = [o.id for o in found if o.is_overdue(now) and o.id is not None]
            if overdue:
                for order_id in overdue:
                    self._expire_one(uow, order_id, now)
                found = listed(uow)
            return [o for o in found if status in (None, o.status)]

        return transactionally(self.new_uow, work)

    def order_as(self, actor: Actor, order_id: int) -> ServiceOrder:
        def work(uow: OrdersUnitOfWork) -> ServiceOrder:
            order = self._visible(uow, actor, order_id)
            if order.is_overdue(self.clock.now()):
                return self._expire_one(uow, order_id, self.clock.now()) or order
            return order

        return transactionally(self.new_uow, work)

    # --- paying ----------------------------------------------------------------------------------

    def start_payment_as(self, actor: Actor, order_id: int) -> StartedPayment:
        """The patient starts paying their order: the gateway's parameters for the app. Asked
        again, the same payment."""
        require_role(actor, Role.PATIENT)

        def work(uow: OrdersUnitOfWork) -> ServiceOrder:
            now = self.clock.now()
            order = self._visible(uow, actor, order_id, for_update=True)
            if order.is_overdue(now):
                self._expire_one(uow, order_id, now)
                raise _After(OrderNotPayable(f"order {order_id} expired unpaid"))
            order.start_payment(_new_payment_id(order_id), now)
            uow.orders.save(order)
            return order

        order = self._run(work)
        assert order.payment_id is not None and order.id is not None
        start = self.gateway.start(
            PaymentRequest(
                order.payment_id, order.id, order.total, f"medbook order {order.id}", order.pay_by
            )
        )
        return StartedPayment(order, start)

    def notify(self, body: bytes, headers: Mapping[str, str]) -> NotifyResult:
        """A gateway's notification: verified, then applied once (``BadNotification`` when it is
        not the gateway's, ``PaymentRefused`` when it cannot stand)."""
        event = self.gateway.verify(body, headers)
        result = transactionally(self.new_uow, lambda uow: self._apply(uow, event))
        if result.outcome == "late":
            self.settle_refunds()
        return result

    def _apply(self, uow: OrdersUnitOfWork, event: PaymentEvent) -> NotifyResult:
        now = self.clock.now()
        order = uow.orders.by_payment(event.payment_id)
        if order is None:
            raise PaymentRefused(f"no order waits for payment {event.payment_id}")
        assert order.id is not None
        if event.succeeded and event.amount != order.total:
            raise PaymentAmountMismatch(
                f"the payment is {event.amount}, the order's total {order.total}"
            )
        if not event.succeeded:
            # A failure reported for an order already paid (the payer pressed "fail" after paying)
            # changes nothing: say so, rather than that the order still waits for payment.
            outcome = "duplicate" if order.paid_at is not None else "failed"
        elif order.status is OrderStatus.PENDING_PAYMENT and not order.is_overdue(now):
            outcome = "paid"
        elif order.paid_at is not None or uow.refunds.of_order(order.id) is not None:
            outcome = "duplicate"  # another event of the payment this order already took
        else:
            outcome = "late"  # expired or cancelled before the money came: it goes back
        record = PaymentRecord(
            self.gateway.name,
            event.event_id,
            event.payment_id,
            event.succeeded,
            event.amount,
            now,
            outcome,
        )
        if not uow.payment_events.record(record):
            stored = uow.payment_events.get(record.gateway, record.event_id)
            said = (event.payment_id, event.succeeded, event.amount)
            if stored is not None and (stored.payment_id, stored.succeeded, stored.amount) != said:
                raise EventIdReused(
                    f"event {event.event_id} was received before for another payment, status "
                    "or amount"
                )
            return NotifyResult("repeat", order.id)
        if outcome == "paid":
            order.pay(event.payment_id, event.amount, now)
            uow.orders.save(order)
            self._tell_admins(uow, order, now)
        elif outcome == "late":
            if order.is_overdue(now):
                self._expire_one(uow, order.id, now)
            self._owe_refund(uow, order, event.amount, now, "the order ended before its payment")
        return NotifyResult(outcome, order.id)

    # --- ending ----------------------------------------------------------------------------------

    def cancel_as(self, actor: Actor, order_id: int) -> ServiceOrder:
        """The patient or the hospital's admin cancels: an unpaid order is cancelled, a paid one
        refunded; either way its place returns."""
        require_role(actor, Role.PATIENT, Role.ADMIN)

        def work(uow: OrdersUnitOfWork) -> ServiceOrder:
            now = self.clock.now()
            order = self._visible(uow, actor, order_id, for_update=True)
            if order.is_overdue(now):
                self._expire_one(uow, order_id, now)
                raise _After(OrderNotCancellable(f"order {order_id} expired unpaid"))
            if order.status is OrderStatus.PAID:
                assert order.payment_id is not None
                order.refund(now)
                self._owe_refund(
                    uow, order, order.total, now, f"cancelled by the {actor.role.value}"
                )
                if actor.role is Role.ADMIN:
                    self._tell_patient_refunded(uow, order, now)
            else:
                order.cancel(now)
            uow.orders.save(order)
            uow.service_places.release(order.service_id, order.date)
            return order

        order = self._run(work)
        if order.status is OrderStatus.REFUNDED:
            self.settle_refunds()
        return order

    def complete_as(self, actor: Actor, order_id: int) -> ServiceOrder:
        """The hospital's admin records that the service was given."""
        require_role(actor, Role.ADMIN)

        def work(uow: OrdersUnitOfWork) -> ServiceOrder:
            order = self._visible(uow, actor, order_id, for_update=True)
            order.complete(self.clock.now())
            uow.orders.save(order)
            return order

        return transactionally(self.new_uow, work)

    def expire_overdue(self, limit: int = 1000) -> int:
        """Expire unpaid orders past their deadline and return their places (``medbook
        expire-orders``); how many expired."""
        return transactionally(self.new_uow, lambda uow: self._expire(uow, self.clock.now(), limit))

    def settle_refunds(self, limit: int = 100) -> int:
        """Ask the gateway for every refund it has not taken yet; how many it took. A gateway
        that cannot be reached leaves them for the next time."""
        pending = read_only(self.new_uow, lambda uow: uow.refunds.pending(limit))
        settled = 0
        for refund in pending:
            try:
                result = self.gateway.refund(
                    RefundRequest(
                        refund.refund_id,
                        refund.payment_id,
                        refund.amount,
                        refund.total,
                        refund.reason,
                    )
                )
            except GatewayUnavailable as error:
                log.warning("refund %s not taken by the gateway: %s", refund.refund_id, error)
                continue

            def work(
                uow: OrdersUnitOfWork,
                refund_id: str = refund.refund_id,
                status: str = result.status,
            ) -> None:
                uow.refunds.settle(refund_id, status, self.clock.now())

            transactionally(self.new_uow, work)
            settled += 1
        return settled

    # --- helpers ---------------------------------------------------------------------------------

    def _run(self, work: Callable[[OrdersUnitOfWork], T]) -> T:
        """``transactionally``, where ``_After`` commits what was done and then raises."""
        late: list[DomainError] = []

        def wrapped(uow: OrdersUnitOfWork) -> T | None:
            try:
                return work(uow)
            except _After as after:
                late.append(after.error)
                return None

        result = transactionally(self.new_uow, wrapped)
        if late:
            raise late[-1]
        assert result is not None
        return result

    def _visible(
        self, uow: OrdersUnitOfWork, actor: Actor, order_id: int, *, for_update: bool = False
    ) -> ServiceOrder:
        """The order, when it is the patient's own or of the admin's hospital; else not found
        (an order's existence is private)."""
        order = uow.orders.get(order_id, for_update=for_update)
        mine = order is not None and (
            (actor.role is Role.PATIENT and order.patient_id == actor.id)
            or (actor.role is Role.ADMIN and order.hospital_id == actor.hospital_id)
        )
        if not mine:
            raise OrderNotFound(f"no order {order_id}")
        assert order is not None
        return order

    def _expire(self, uow: OrdersUnitOfWork, now: dt.datetime, limit: int) -> int:
        return sum(
            1 for order_id in uow.orders.overdue(now, limit) if self._expire_one(uow, order_id, now)
        )

    def _expire_one(
        self, uow: OrdersUnitOfWork, order_id: int, now: dt.datetime
    ) -> ServiceOrder | None:
        order = uow.orders.get(order_id, for_update=True)
        if order is None or not order.expire(now):
            return None
        uow.orders.save(order)
        uow.service_places.release(order.service_id, order.date)
        return order

    def _owe_refund(
        self,
        uow: OrdersUnitOfWork,
        order: ServiceOrder,
        amount: Money,
        now: dt.datetime,
        reason: str,
    ) -> None:
        assert order.id is not None and order.payment_id is not None
        uow.refunds.add(
            Refund(
                f"rf{order.id}-{secrets.token_hex(6)}",
                order.id,
                order.payment_id,
                amount,
                order.total,
                reason,
                now,
                RefundStatus.REQUESTED,
            )
        )

    def _tell_admins(self, uow: OrdersUnitOfWork, order: ServiceOrder, now: dt.datetime) -> None:
        service = uow.care_services.get(order.service_id)
        name = service.name if service else f"service {order.service_id}"
        for admin in uow.admins.of_hospital(order.hospital_id):
            assert admin.id is not None
            uow.notifications.add(
                Notification(
                    Role.ADMIN,
                    admin.id,
                    NotificationKind.ORDER_PAID,
                    "An order was paid",
                    f"{name} on {order.date.isoformat()} ({order.place.value}), {order.total}",
                    now,
                    {"order_id": order.id, "service_id": order.service_id},
                )
            )

    def _tell_patient_refunded(
        self, uow: OrdersUnitOfWork, order: ServiceOrder, now: dt.datetime
    ) -> None:
        uow.notifications.add(
            Notification(
                Role.PATIENT,
                order.patient_id,
                NotificationKind.ORDER_REFUNDED,
                "Your order was cancelled by the hospital",
                f"Order {order.id} on {order.date.isoformat()}: {order.total} is refunded",
                now,
                {"order_id": order.id},
            )
        )
