"""The payment port: how the orders context asks a gateway for a payment or a refund, and how it
reads the gateway's signed notifications.

An adapter per gateway (``adapters/payments/``): the sandbox (HMAC-SHA256, the default) and
WeChat Pay API v3. Adding Alipay or another gateway is one more adapter; the services do not change.
The services never trust a notification the adapter has not verified, and never trust its amount:
they compare it with the order's own total.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Protocol

from attrs import frozen

from medbook.domain.shared.errors import BadNotification, GatewayUnavailable
from medbook.domain.shared.money import Money

#: The longest event, payment or refund id a gateway may use.
MAX_GATEWAY_ID = 64
# Printable ASCII without spaces: MySQL's PAD SPACE collations compare "a" and "a " as equal, and
# text outside ASCII is nothing a gateway sends (and may not even encode).
_GATEWAY_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_GATEWAY_ID}}}")


def is_gateway_id(value: object) -> bool:
    """An id a gateway may give an event or a payment: 1 to 64 printable ASCII characters, no
    spaces. Adapters refuse any other (``BadNotification``) before the services see it."""
    return isinstance(value, str) and _GATEWAY_ID.fullmatch(value) is not None


__all__ = [
    "MAX_GATEWAY_ID",
    "BadNotification",
    "GatewayUnavailable",
    "PaymentEvent",
    "PaymentGateway",
    "PaymentRequest",
    "PaymentStart",
    "RefundRequest",
    "RefundResult",
    "is_gateway_id",
]


@frozen
class PaymentRequest:
    """What the gateway needs to start a payment. ``payment_id`` is ours (WeChat's
    ``out_trade_no``): asking again with the same id gives the same payment."""

    payment_id: str
    order_id: int
    amount: Money
    description: str
    expires_at: dt.datetime


@frozen
class PaymentStart:
    """What the patient's app needs to pay: the payment id, and the gateway's own parameters
    (the sandbox: the amount; WeChat Native: the ``code_url`` to show as a QR code)."""

    payment_id: str
    parameters: Mapping[str, str | int]


@frozen
class PaymentEvent:
    """A verified notification: the gateway's event id (unique per gateway), our payment id,
    whether the payment succeeded, and the amount the gateway took."""

    event_id: str
    payment_id: str
    succeeded: bool
    amount: Money


@frozen
class RefundRequest:
    """Give back ``amount`` of the payment ``payment_id`` (whose whole amount was ``total``).
    ``refund_id`` is ours (WeChat's ``out_refund_no``): asking again is not a second refund."""

    refund_id: str
    payment_id: str
    amount: Money
    total: Money
    reason: str


@frozen
class RefundResult:
    """``succeeded``: the money is back; ``processing``: the gateway accepted it and will finish
    later (ask again with the same ``refund_id`` to learn more)."""

    refund_id: str
    status: str  # "succeeded" | "processing"


class PaymentGateway(Protocol):
    #: Stored with each event id: ids are unique per gateway only.
    name: str

    def start(self, request: PaymentRequest) -> PaymentStart:
        """Ask the gateway for a payment (idempotent per ``payment_id``). May call out: the
        services call it outside any transaction. Raises ``GatewayUnavailable``."""
        ...

    def verify(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """The event a notification reports, once its signature is proven; ``headers`` have
        lower-case names. Raises ``BadNotification`` for anything else."""
        ...

    def refund(self, request: RefundRequest) -> RefundResult:
        """Ask the gateway for a refund (idempotent per ``refund_id``). Raises
        ``GatewayUnavailable``."""
        ...
