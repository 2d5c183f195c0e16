"""The sandbox gateway (the default): payments that someone reports by hand or by script.

``POST /v1/orders/{id}/payment`` answers a payment id and the amount; whoever plays the gateway
reports the payment to ``POST /v1/payments/notify`` with the JSON body
``{"event_id", "payment_id", "status": "succeeded"|"failed", "amount_cents"}`` and the header
``X-Medbook-Signature: sha256=<hex HMAC-SHA256 of the raw body keyed with the secret>``.
The signature is checked over the raw bytes, before the body is even decoded, with a
constant-time comparison. Refunds succeed at once: there is no money to move.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping

from medbook.domain.shared.errors import (
    BadNotification,
    DomainError,
    GatewayUnavailable,
    MalformedNotification,
)
from medbook.domain.shared.money import Money
from medbook.ports.payments import (
    MAX_GATEWAY_ID,
    PaymentEvent,
    PaymentRequest,
    PaymentStart,
    RefundRequest,
    RefundResult,
    is_gateway_id,
)

SIGNATURE_HEADER = "x-medbook-signature"
#: The fields of a notification, all required, none other taken.
FIELDS = frozenset({"event_id", "payment_id", "status", "amount_cents"})
#: The shortest secret the sandbox accepts: an HMAC key is only as strong as it is long.
MIN_SECRET_BYTES = 32


def _once(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose keys each appear once (a repeated key is refused: which one would
    count is a guess)."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key appears twice")
    return dict(pairs)


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Medbook-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def notification(
    secret: bytes, payment_id: str, succeeded: bool, amount_cents: int
) -> tuple[bytes, dict[str, str]]:
    """What the sandbox gateway sends to ``POST /v1/payments/notify`` when a payment ends: the
    body (a new event id each time) and its headers, signed with ``secret``."""
    body = json.dumps(
        {
            "event_id": "sandbox-" + secrets.token_hex(12),
            "payment_id": payment_id,
            "status": "succeeded" if succeeded else "failed",
            "amount_cents": amount_cents,
        }
    ).encode()
    return body, {SIGNATURE_HEADER: sign(secret, body), "content-type": "application/json"}


class SandboxGateway:
    name = "sandbox"

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the payment secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def start(self, request: PaymentRequest) -> PaymentStart:
        return PaymentStart(
            request.payment_id,
            {"amount_cents": request.amount.cents, "currency": request.amount.currency},
        )

    def verify(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        given = headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(given.encode(), sign(self._secret, body).encode()):
            raise BadNotification(f"missing or wrong {SIGNATURE_HEADER} header")
        try:
            data = json.loads(body, object_pairs_hook=_once)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            raise MalformedNotification("the body is not JSON with each key once") from None
        if not isinstance(data, dict):
            raise MalformedNotification("the body is not a JSON object")
        extra = sorted(set(data) - FIELDS)
        if extra:
            raise MalformedNotification(f"unknown field {extra[0]!r}")
        event_id, payment_id = data.get("event_id"), data.get("payment_id")
        status, cents = data.get("status"), data.get("amount_cents")
        for name, value in (("event_id", event_id), ("payment_id", payment_id)):
            if not is_gateway_id(value):
                raise MalformedNotification(
                    f"{name} must be 1 to {MAX_GATEWAY_ID} printable ASCII characters, no spaces"
                )
        if status not in ("succeeded", "failed"):
            raise MalformedNotification('status must be "succeeded" or "failed"')
        try:
            amount = Money(cents)  # type: ignore[arg-type]
        except DomainError:
            raise MalformedNotification("amount_cents must be a whole number of cents") from None
        assert isinstance(event_id, str) and isinstance(payment_id, str)
        return PaymentEvent(event_id, payment_id, status == "succeeded", amount)

    def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(request.refund_id, "succeeded")


class UnconfiguredGateway:
    """No gateway configured (no ``MEDBOOK_PAYMENT_SECRET``): orders can be placed, but no
    payment starts and every notification is refused, since none could be verified."""

    name = "sandbox"

    def start(self, request: PaymentRequest) -> PaymentStart:
        raise GatewayUnavailable("payments are not configured here (MEDBOOK_PAYMENT_SECRET)")

    def verify(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        raise BadNotification("payments are not configured here: nothing can be verified")

    def refund(self, request: RefundRequest) -> RefundResult:
        raise GatewayUnavailable("payments are not configured here (MEDBOOK_PAYMENT_SECRET)")
