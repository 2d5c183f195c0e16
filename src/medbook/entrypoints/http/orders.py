"""Home-visit services and orders over HTTP: publishing and finding services, ordering, paying
through the gateway (and its signed notifications), cancelling and completing."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from attrs import field, frozen

from medbook.domain.orders.catalogue import MAX_CAPACITY, MAX_DATES, MAX_RADIUS_KM, ServiceCategory
from medbook.domain.orders.model import OrderStatus, Place, ServiceOrder
from medbook.domain.shared.errors import DomainError, InvalidValue, NotFound
from medbook.domain.shared.geo import MAX_LATITUDE, MAX_LONGITUDE, GeoPoint
from medbook.domain.shared.money import MAX_CENTS, Money
from medbook.domain.shared.text import ADDRESS, DESCRIPTION, MAX_URL_LENGTH, SERVICE_NAME
from medbook.entrypoints.http.api import Answer, Call, Operation, RawBody, Route
from medbook.entrypoints.http.schema import schema
from medbook.entrypoints.http.text_schema import text_schema
from medbook.services.orders import MAX_RESULTS, Offer, ServiceDraft

if TYPE_CHECKING:
    from medbook.bootstrap import Services

LAT = schema(minimum=-MAX_LATITUDE, maximum=MAX_LATITUDE)
LNG = schema(minimum=-MAX_LONGITUDE, maximum=MAX_LONGITUDE)
CENTS = schema(minimum=0, maximum=MAX_CENTS)
PRICE = schema(minimum=1, maximum=MAX_CENTS)
LONG_TEXT = schema(**text_schema(DESCRIPTION))

# --- commands ------------------------------------------------------------------------------------


@frozen
class NewService:
    name: str = field(metadata=schema(**text_schema(SERVICE_NAME)))
    price_cents: int = field(metadata=PRICE)
    capacity: int = field(metadata=schema(minimum=1, maximum=MAX_CAPACITY))
    service_radius_km: float = field(metadata=schema(exclusiveMinimum=0, maximum=MAX_RADIUS_KM))
    dates: list[dt.date] = field(metadata=schema(minItems=1, maxItems=MAX_DATES))
    category: ServiceCategory | None = None
    description: str = field(default="", metadata=LONG_TEXT)
    tips: str = field(default="", metadata=LONG_TEXT)
    precautions: str = field(default="", metadata=LONG_TEXT)
    image_url: str | None = field(default=None, metadata=schema(maxLength=MAX_URL_LENGTH))


@frozen
class NewOrder:
    service_id: int
    date: dt.date
    place: Place
    address: str = field(default="", metadata=schema(**text_schema(ADDRESS)))
    lat: float | None = field(default=None, metadata=LAT)
    lng: float | None = field(default=None, metadata=LNG)


@frozen
class SandboxNotice:
    """What the sandbox gateway reports (signed: ``X-Medbook-Signature``)."""

    event_id: str = field(metadata=schema(minLength=1, maxLength=64))
    payment_id: str = field(metadata=schema(minLength=1, maxLength=64))
    status: str = field(metadata=schema(enum=["succeeded", "failed"]))
    amount_cents: int = field(metadata=CENTS)


@frozen
class WeChatResource:
    algorithm: str
    ciphertext: str
    nonce: str
    associated_data: str = ""
    original_type: str = ""


@frozen
class WeChatNotice:
    """WeChat Pay's notification (signed: ``Wechatpay-Signature``; ``resource`` encrypted)."""

    id: str
    create_time: str
    event_type: str
    resource_type: str
    resource: WeChatResource
    summary: str = ""


# --- queries -------------------------------------------------------------------------------------


@frozen
class ServicesQuery:
    lat: float = field(metadata=LAT)
    lng: float = field(metadata=LNG)
    category: ServiceCategory | None = None
    limit: int = field(default=50, metadata=schema(minimum=1, maximum=MAX_RESULTS))


@frozen
class OrdersQuery:
    status: OrderStatus | None = None


# --- views ---------------------------------------------------------------------------------------


@frozen
class DateOut:
    date: dt.date
    capacity: int
    remaining: int


@frozen
class ServiceOut:
    id: int
    hospital_id: int
    name: str
    category: ServiceCategory | None
    description: str
    tips: str
    precautions: str
    image_url: str | None
    price_cents: int
    currency: str
    capacity: int
    service_radius_km: float
    lat: float
    lng: float
    dates: list[DateOut]
    remaining: int
    distance_km: float | None

    @classmethod
    def of(cls, offer: Offer) -> ServiceOut:
        s = offer.service
        assert s.id is not None
        return cls(
            s.id,
            s.hospital_id,
            s.name,
            s.category,
            s.description,
            s.tips,
            s.precautions,
            s.image_url,
            s.price.cents,
            s.price.currency,
            s.capacity,
            s.radius_km,
            s.location.lat,
            s.location.lng,
            [DateOut(d.date, d.capacity, d.remaining) for d in offer.dates],
            offer.remaining,
            None if offer.distance_km is None else round(offer.distance_km, 3),
        )


@frozen
class OrderOut:
    id: int
    status: OrderStatus
    patient_id: int
    service_id: int
    hospital_id: int
    date: dt.date
    place: Place
    address: str
    lat: float | None
    lng: float | None
    total_cents: int
    platform_fee_cents: int
    provider_payout_cents: int
    currency: str
    created_at: dt.datetime
    pay_by: dt.datetime
    payment_id: str | None
    paid_at: dt.datetime | None
    ended_at: dt.datetime | None

    @classmethod
    def of(cls, o: ServiceOrder) -> OrderOut:
        assert o.id is not None
        return cls(
            o.id,
            o.status,
            o.patient_id,
            o.service_id,
            o.hospital_id,
            o.date,
            o.place,
            o.address,
            o.location.lat if o.location else None,
            o.location.lng if o.location else None,
            o.total.cents,
            o.platform_fee.cents,
            o.provider_payout.cents,
            o.total.currency,
            o.created_at,
            o.pay_by,
            o.payment_id,
            o.paid_at,
            o.ended_at,
        )


@frozen
class PaymentOut:
    payment_id: str
    order_id: int
    gateway: str
    amount_cents: int
    currency: str
    parameters: dict[str, str | int]


@frozen
class NotifyOut:
    outcome: str
    order_id: int | None


@frozen
class WeChatAnswer:
    code: str
    message: str


# --- handlers ------------------------------------------------------------------------------------


def publish(s: Services, c: Call[NewService, None]) -> ServiceOut:
    b = c.body
    try:
        price = Money(b.price_cents)
    except InvalidValue as error:
        raise InvalidValue("price_cents", error.message.split(": ", 1)[-1]) from None
    draft = ServiceDraft(
        b.name,
        price,
        b.capacity,
        b.service_radius_km,
        frozenset(b.dates),
        b.category,
        b.description,
        b.tips,
        b.precautions,
        b.image_url,
    )
    return ServiceOut.of(s.orders.publish_as(c.me, c.params["hospital_id"], draft))


def hospital_services(s: Services, c: Call[None, None]) -> list[ServiceOut]:
    return [ServiceOut.of(o) for o in s.orders.services_of_hospital(c.params["hospital_id"])]


def find_services(s: Services, c: Call[None, ServicesQuery]) -> list[ServiceOut]:
    q = c.query
    found = s.orders.search(GeoPoint(q.lat, q.lng), q.category, q.limit)
    return [ServiceOut.of(o) for o in found]


def one_service(s: Services, c: Call[None, None]) -> ServiceOut:
    return ServiceOut.of(s.orders.service(c.params["service_id"]))


def place_order(s: Services, c: Call[NewOrder, None]) -> OrderOut:
    b = c.body
    if (b.lat is None) != (b.lng is None):
        raise InvalidValue("lat" if b.lat is None else "lng", "give lat and lng together")
    point = GeoPoint(b.lat, b.lng) if b.lat is not None and b.lng is not None else None
    order = s.orders.place_as(c.me, b.service_id, b.date, b.place, b.address, point)
    return OrderOut.of(order)


def my_orders(s: Services, c: Call[None, OrdersQuery]) -> list[OrderOut]:
    return [OrderOut.of(o) for o in s.orders.orders_as(c.me, c.query.status)]


def one_order(s: Services, c: Call[None, None]) -> OrderOut:
    return OrderOut.of(s.orders.order_as(c.me, c.params["order_id"]))


def pay(s: Services, c: Call[None, None]) -> PaymentOut:
    started = s.orders.start_payment_as(c.me, c.params["order_id"])
    order = started.order
    assert order.id is not None
    return PaymentOut(
        started.start.payment_id,
        order.id,
        s.orders.gateway.name,
        order.total.cents,
        order.total.currency,
        dict(started.start.parameters),
    )


def cancel_order(s: Services, c: Call[None, None]) -> OrderOut:
    return OrderOut.of(s.orders.cancel_as(c.me, c.params["order_id"]))


def complete_order(s: Services, c: Call[None, None]) -> OrderOut:
    return OrderOut.of(s.orders.complete_as(c.me, c.params["order_id"]))


def sandbox_notify(s: Services, c: Call[RawBody, None]) -> NotifyOut:
    if s.orders.gateway.name != "sandbox":
        raise NotFound("the sandbox gateway is not in use here")
    result = s.orders.notify(c.body.data, c.body.headers)
    return NotifyOut(result.outcome, result.order_id)


def wechat_notify(s: Services, c: Call[RawBody, None]) -> Answer | None:
    """Answered as WeChat expects: 204 when taken (a repeat too), else 4xx with {code, message}
    (WeChat then sends it again later)."""
    if s.orders.gateway.name != "wechat":
        raise NotFound("WeChat Pay is not in use here")
    try:
        s.orders.notify(c.body.data, c.body.headers)
    except DomainError as error:
        return Answer(400, WeChatAnswer("FAIL", f"{error.code}: {error.message}"))
    return None


# --- routes --------------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/hospitals/{hospital_id:id}/services",
        {
            "POST": Operation(
                publish,
                "An admin publishes a home-visit service of their hospital",
                body=NewService,
                status=201,
                response=ServiceOut,
                errors=(403, 404),
            ),
            "GET": Operation(
                hospital_services,
                "A hospital's services, with their dates to come and the places left",
                auth=False,
                response=list[ServiceOut],
                errors=(404,),
            ),
        },
        "orders",
    ),
    Route(
        "/v1/services",
        {
            "GET": Operation(
                find_services,
                "The services whose provider reaches a point, nearest first",
                auth=False,
                query=ServicesQuery,
                response=list[ServiceOut],
                description="Each with its distance from the point (great-circle, km), its "
                "dates to come with the places left on each, and `remaining` over all of them.",
            )
        },
        "orders",
    ),
    Route(
        "/v1/services/{service_id:id}",
        {
            "GET": Operation(
                one_service,
                "One service, with its dates to come and the places left",
                auth=False,
                response=ServiceOut,
                errors=(404,),
            )
        },
        "orders",
    ),
    Route(
        "/v1/orders",
        {
            "POST": Operation(
                place_order,
                "A patient orders a service on a date; a place is held until it is paid, "
                "cancelled or expires",
                body=NewOrder,
                status=201,
                response=OrderOut,
                errors=(403, 404, 409),
                description="409 `sold_out` when no place is left that date; "
                "`too_many_unpaid_orders` when the patient holds too many unpaid orders. "
                "The order must be paid by `pay_by` (15 minutes).",
            ),
            "GET": Operation(
                my_orders,
                "A patient's own orders, or an admin's hospital's, newest first",
                query=OrdersQuery,
                response=list[OrderOut],
                errors=(403,),
            ),
        },
        "orders",
    ),
    Route(
        "/v1/orders/{order_id:id}",
        {
            "GET": Operation(
                one_order,
                "One order (its patient, or its hospital's admin)",
                response=OrderOut,
                errors=(404,),
            )
        },
        "orders",
    ),
    Route(
        "/v1/orders/{order_id:id}/payment",
        {
            "POST": Operation(
                pay,
                "The patient starts paying the order: what their app needs for the gateway",
                status=201,
                response=PaymentOut,
                errors=(403, 404, 409, 503),
                description="Asked again, the same payment. 409 `order_not_payable` once the "
                "order is paid, cancelled or expired.",
            )
        },
        "orders",
    ),
    Route(
        "/v1/orders/{order_id:id}/cancel",
        {
            "POST": Operation(
                cancel_order,
                "The patient or the hospital's admin cancels; a paid order is refunded; "
                "the place returns",
                response=OrderOut,
                errors=(403, 404, 409),
            )
        },
        "orders",
    ),
    Route(
        "/v1/orders/{order_id:id}/complete",
        {
            "POST": Operation(
                complete_order,
                "The hospital's admin records that the service was given",
                response=OrderOut,
                errors=(403, 404, 409),
            )
        },
        "orders",
    ),
    Route(
        "/v1/payments/notify",
        {
            "POST": Operation(
                sandbox_notify,
                "The sandbox gateway reports a payment (HMAC-SHA256 signed)",
                auth=False,
                raw=SandboxNotice,
                headers=("X-Medbook-Signature",),
                response=NotifyOut,
                errors=(404,),
                description="`X-Medbook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. "
                "A bad signature, an unknown payment or an amount other than the order's is "
                "refused with 400 and changes nothing; the same event again changes nothing "
                "(`outcome: repeat`).",
            )
        },
        "payments",
    ),
    Route(
        "/v1/payments/wechat/notify",
        {
            "POST": Operation(
                wechat_notify,
                "WeChat Pay API v3 reports a payment (signed, encrypted)",
                auth=False,
                raw=WeChatNotice,
                headers=(
                    "Wechatpay-Timestamp",
                    "Wechatpay-Nonce",
                    "Wechatpay-Signature",
                    "Wechatpay-Serial",
                ),
                status=204,
                also=(400,),
                response=WeChatAnswer,
                errors=(404,),
            )
        },
        "payments",
    ),
)
