"""The orders context's pure rules: money, the platform's fee, which providers reach a point, and
the order's state machine (checked against a model of its own: a place count and a ledger)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from medbook.domain.orders.catalogue import (
    MAX_RADIUS_KM,
    CareService,
    ServiceCategory,
    covering,
    ensure_dates_ahead,
    flat_metric,
    search_box,
)
from medbook.domain.orders.model import PAYMENT_TIMEOUT, OrderStatus, Place, ServiceOrder
from medbook.domain.orders.pricing import FeePolicy
from medbook.domain.shared.errors import (
    AmountMismatch,
    InvalidValue,
    OrderNotCancellable,
    OrderNotCompletable,
    OrderNotPayable,
    OrderNotRefundable,
)
from medbook.domain.shared.geo import GeoPoint, distance_km
from medbook.domain.shared.money import MAX_CENTS, Money

NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 12, 3)
RUIJIN = GeoPoint(31.2122, 121.4688)
cents = st.integers(min_value=0, max_value=MAX_CENTS)

# --- money and the fee ---------------------------------------------------------------------------


def test_money_is_whole_cents_in_range() -> None:
    assert str(Money(12_345)) == "CNY 123.45"
    assert Money(100) + Money(5) == Money(105) and Money(100) - Money(5) == Money(95)
    for bad in (-1, MAX_CENTS + 1, 1.5, True, "100"):
        with pytest.raises(InvalidValue):
            Money(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        Money(5) - Money(6)


@given(cents)
def test_the_fee_and_the_payout_make_the_total(total: int) -> None:
    split = FeePolicy().split(Money(total))
    assert split.platform_fee + split.provider_payout == split.total == Money(total)


@given(cents, st.integers(min_value=0, max_value=10_000))
def test_the_fee_is_the_exact_share_rounded_half_up(total: int, basis_points: int) -> None:
    # The oracle: decimal arithmetic, not the policy's integer formula.
    exact = Decimal(total) * Decimal(basis_points) / Decimal(10_000)
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    fee = FeePolicy(basis_points).split(Money(total)).platform_fee.cents
    assert fee == expected
    assert abs(Decimal(fee) - exact) <= Decimal("0.5")


@given(cents, cents)
def test_neither_the_fee_nor_the_payout_falls_when_the_price_rises(a: int, b: int) -> None:
    low, high = sorted((a, b))
    policy = FeePolicy()
    cheap, dear = policy.split(Money(low)), policy.split(Money(high))
    assert cheap.platform_fee <= dear.platform_fee
    assert cheap.provider_payout <= dear.provider_payout


def test_five_percent_by_default_with_the_half_cent_rounded_up() -> None:
    assert FeePolicy().split(Money(10_000)).platform_fee == Money(500)
    assert FeePolicy().split(Money(10)).platform_fee == Money(1)  # 0.5 cent → 1
    assert FeePolicy().split(Money(9)).platform_fee == Money(0)  # 0.45 cent → 0
    with pytest.raises(ValueError):
        FeePolicy(10_001)


# --- who reaches a point -------------------------------------------------------------------------


def service(
    service_id: int = 1, location: GeoPoint = RUIJIN, radius: float = 10, capacity: int = 2
) -> CareService:
    return CareService(
        hospital_id=1,
        name="Home nursing",
        category=ServiceCategory.HOME_NURSING,
        price=Money(19_900),
        capacity=capacity,
        dates=frozenset({DAY}),
        location=location,
        radius_km=radius,
        id=service_id,
    )


def test_covering_lists_the_providers_that_reach_the_point_nearest_first() -> None:
    near = service(1, GeoPoint(31.22, 121.47), radius=5)
    far_but_wide = service(2, GeoPoint(31.40, 121.47), radius=50)
    far_and_narrow = service(3, GeoPoint(31.40, 121.47), radius=5)
    found = covering([far_and_narrow, far_but_wide, near], RUIJIN)
    assert [n.service.id for n in found] == [1, 2]
    assert found[0].distance_km < found[1].distance_km
    assert math.isclose(found[1].distance_km, distance_km(RUIJIN, GeoPoint(31.40, 121.47)))


def test_a_radius_and_a_capacity_are_bounded() -> None:
    for radius in (0, -1, MAX_RADIUS_KM + 0.1, float("nan")):
        with pytest.raises(InvalidValue):
            service(radius=radius)
    for capacity in (0, 1001):
        with pytest.raises(InvalidValue):
            service(capacity=capacity)


points = st.builds(
    GeoPoint,
    st.floats(min_value=-89.9, max_value=89.9, allow_nan=False),
    st.floats(min_value=-180, max_value=180, allow_nan=False),
)


def destination(centre: GeoPoint, km: float, bearing: float) -> GeoPoint:
    """The oracle: the point ``km`` from ``centre`` along ``bearing`` (the direct geodesic on a
    sphere), computed here on its own."""
    angle = km / 6371.0088
    lat1, lng1, b = map(math.radians, (centre.lat, centre.lng, bearing))
    lat2 = math.asin(
        math.sin(lat1) * math.cos(angle) + math.cos(lat1) * math.sin(angle) * math.cos(b)
    )
    lng2 = lng1 + math.atan2(
        math.sin(b) * math.sin(angle) * math.cos(lat1),
        math.cos(angle) - math.sin(lat1) * math.sin(lat2),
    )
    lng = (math.degrees(lng2) + 540) % 360 - 180
    return GeoPoint(max(-90.0, min(90.0, math.degrees(lat2))), lng)


@settings(max_examples=300)
@given(points, st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=360))
def test_the_search_box_holds_every_point_within_the_largest_radius(
    centre: GeoPoint, fraction: float, bearing: float
) -> None:
    other = destination(centre, fraction * MAX_RADIUS_KM, bearing)
    assert search_box(centre).holds(other), (centre, other)


@settings(max_examples=500)
@given(points, st.floats(min_value=0.001, max_value=1), st.floats(min_value=0, max_value=360))
def test_the_flat_metric_never_drops_a_provider_that_reaches_the_point(
    centre: GeoPoint, fraction: float, bearing: float
) -> None:
    """A provider exactly at its radius from the point (the tightest case) passes the database's
    flat test: the flat distance never exceeds the great-circle one by more than the margin."""
    radius = fraction * MAX_RADIUS_KM
    provider = destination(centre, radius, bearing)
    box = search_box(centre)
    metric = flat_metric(box)
    if metric is None:
        return  # the box wraps or spans every longitude: no flat test is made there
    flat = (provider.lat - centre.lat) ** 2 * metric.lat_weight + (
        provider.lng - centre.lng
    ) ** 2 * metric.lng_weight
    assert flat <= radius**2 * metric.margin, (centre, provider, flat**0.5, radius)


def test_the_search_box_wraps_at_the_antimeridian_and_opens_at_the_poles() -> None:
    box = search_box(GeoPoint(0, 179.9))
    assert box.west > box.east and box.holds(GeoPoint(0, -179.9))
    assert not box.holds(GeoPoint(0, 170))
    polar = search_box(GeoPoint(89.5, 10))
    assert (polar.west, polar.east) == (-180.0, 180.0)


# --- the order -----------------------------------------------------------------------------------


def new_order(place: Place = Place.HOSPITAL, **changes: object) -> ServiceOrder:
    arguments: dict[str, object] = {
        "service": service(),
        "patient_id": 7,
        "date": DAY,
        "place": place,
        "address": "",
        "location": None,
        "now": NOW,
        "fees": FeePolicy(),
    }
    arguments.update(changes)
    return ServiceOrder.place_order(**arguments)  # type: ignore[arg-type]


def test_an_order_is_priced_with_the_fee_and_waits_for_payment() -> None:
    order = new_order()
    assert (order.total, order.platform_fee, order.provider_payout) == (
        Money(19_900),
        Money(995),
        Money(18_905),
    )
    assert order.status is OrderStatus.PENDING_PAYMENT and order.holds_a_place
    assert order.pay_by == NOW + PAYMENT_TIMEOUT


def test_a_home_visit_needs_an_address_the_provider_reaches() -> None:
    home = new_order(Place.HOME, address=" 1 Ruijin Rd ", location=GeoPoint(31.22, 121.47))
    assert home.address == "1 Ruijin Rd"
    with pytest.raises(InvalidValue) as missing:
        new_order(Place.HOME, address="", location=RUIJIN)
    assert missing.value.field == "address"
    with pytest.raises(InvalidValue) as far:
        new_order(Place.HOME, address="Beijing", location=GeoPoint(39.91, 116.41))
    assert far.value.field == "lat"
    with pytest.raises(InvalidValue) as not_offered:
        new_order(date=DAY + dt.timedelta(days=1))
    assert not_offered.value.field == "date"


def test_each_transition_refuses_the_wrong_state_with_its_own_code() -> None:
    order = new_order()
    with pytest.raises(AmountMismatch):
        order.pay("p-1", Money(1), NOW)
    assert order.status is OrderStatus.PENDING_PAYMENT  # nothing changed
    with pytest.raises(OrderNotRefundable):
        order.refund(NOW)
    with pytest.raises(OrderNotCompletable):
        order.complete(NOW)
    order.pay("p-1", order.total, NOW)
    with pytest.raises(OrderNotPayable):
        order.pay("p-2", order.total, NOW)
    with pytest.raises(OrderNotCancellable):
        order.cancel(NOW)
    assert not order.expire(NOW + PAYMENT_TIMEOUT * 2)  # a paid order never expires
    order.complete(NOW)
    assert order.status is OrderStatus.COMPLETED and order.holds_a_place


def test_an_unpaid_order_expires_at_its_deadline_and_cannot_be_paid_then() -> None:
    order = new_order()
    assert not order.expire(NOW + PAYMENT_TIMEOUT - dt.timedelta(seconds=1))
    with pytest.raises(OrderNotPayable):
        order.pay("late", order.total, NOW + PAYMENT_TIMEOUT)
    assert order.expire(NOW + PAYMENT_TIMEOUT)
    assert order.status is OrderStatus.EXPIRED and not order.holds_a_place


class OrderMachine(RuleBasedStateMachine):
    """Orders of one service with two places, under create/pay/repeat/cancel/expire/refund/
    complete; the model keeps its own count of places and its own ledger of money."""

    def __init__(self) -> None:
        super().__init__()
        self.service = service(capacity=2)
        self.orders: list[ServiceOrder] = []
        self.model: list[str] = []  # each order's state, as the model sees it
        self.paid_in = 0  # cents the provider and the platform have been paid (less refunds)
        self.now = NOW

    def places_taken(self) -> int:
        return sum(state in ("pending", "paid", "completed") for state in self.model)

    @rule()
    def create(self) -> None:
        if self.places_taken() >= self.service.capacity:
            return  # the database would refuse: sold out
        self.orders.append(new_order(now=self.now))
        self.model.append("pending")

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data(), repeat=st.booleans())
    def pay(self, data: st.DataObject, repeat: bool) -> None:
        i = data.draw(st.integers(0, len(self.orders) - 1))
        order, state = self.orders[i], self.model[i]
        payable = state == "pending" and self.now < order.pay_by
        if not payable:
            with pytest.raises(OrderNotPayable):
                order.pay("p", order.total, self.now)
            return
        order.pay("p", order.total, self.now)
        self.model[i], self.paid_in = "paid", self.paid_in + order.total.cents
        if repeat:  # the gateway says it again: refused, nothing changes
            with pytest.raises(OrderNotPayable):
                order.pay("p", order.total, self.now)

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def cancel_or_refund(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.orders) - 1))
        order, state = self.orders[i], self.model[i]
        if state == "pending":
            order.cancel(self.now)
            self.model[i] = "cancelled"
        elif state == "paid":
            order.refund(self.now)
            self.model[i], self.paid_in = "refunded", self.paid_in - order.total.cents
        else:
            with pytest.raises(OrderNotCancellable):
                order.cancel(self.now)

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.orders) - 1))
        if self.model[i] == "paid":
            self.orders[i].complete(self.now)
            self.model[i] = "completed"
        else:
            with pytest.raises(OrderNotCompletable):
                self.orders[i].complete(self.now)

    @rule(minutes=st.integers(0, 20))
    def time_passes(self, minutes: int) -> None:
        self.now += dt.timedelta(minutes=minutes)
        for i, order in enumerate(self.orders):
            overdue = self.model[i] == "pending" and self.now >= order.pay_by
            assert order.expire(self.now) is overdue
            if overdue:
                self.model[i] = "expired"

    @invariant()
    def the_orders_are_what_the_model_says(self) -> None:
        names = {
            OrderStatus.PENDING_PAYMENT: "pending",
            OrderStatus.PAID: "paid",
            OrderStatus.COMPLETED: "completed",
            OrderStatus.CANCELLED: "cancelled",
            OrderStatus.REFUNDED: "refunded",
            OrderStatus.EXPIRED: "expired",
        }
        assert [names[o.status] for o in self.orders] == self.model
        assert sum(o.holds_a_place for o in self.orders) == self.places_taken()
        assert self.places_taken() <= self.service.capacity
        kept = sum(
            o.total.cents
            for o in self.orders
            if o.status in (OrderStatus.PAID, OrderStatus.COMPLETED)
        )
        assert kept == self.paid_in


TestOrderMachine = OrderMachine.TestCase


@pytest.mark.parametrize("address", ["1 Road\u0000", "1 Road\u202e", "x" * 501, "\n"])
def test_an_address_follows_the_address_rule(address: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        new_order(Place.HOME, address=address, location=RUIJIN)
    assert refused.value.field == "address"


def test_a_service_is_offered_from_today_to_a_year_ahead() -> None:
    today = DAY
    ensure_dates_ahead([today, today + dt.timedelta(days=366)], today)
    with pytest.raises(InvalidValue, match="has passed"):
        ensure_dates_ahead([today - dt.timedelta(days=1), today], today)
    with pytest.raises(InvalidValue, match="a year ahead"):
        ensure_dates_ahead([today, dt.date(9999, 12, 31)], today)


def test_a_service_refuses_blank_names_bad_images_and_no_dates() -> None:
    base = service()
    for changes, field in (
        ({"name": " \u200b "}, "name"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
        ({"image_url": "//evil.example/x.png"}, "image_url"),
        ({"dates": frozenset()}, "dates"),
        ({"tips": "a\u0007b"}, "tips"),
    ):
        with pytest.raises(InvalidValue) as refused:
            attrs.evolve(base, **changes)
        assert refused.value.field == field
