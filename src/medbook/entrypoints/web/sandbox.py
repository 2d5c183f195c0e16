"""The sandbox gateway's payment page, for demos: ``/sandbox/pay/{payment_id}``.

A real gateway shows the payer its own page and then reports the outcome to medbook, signed. In
demo mode (``medbook serve --demo``, with the sandbox gateway) this page plays that part, so the
whole order flow can be clicked through: ``GET`` answers the page, whose two buttons ``POST``
``{"status": "succeeded"|"failed", "amount_cents": …}`` here; the server then makes the
notification the sandbox gateway would send (a new event id, the JSON body signed with
``MEDBOOK_PAYMENT_SECRET``) and hands it to the same ``OrdersService.notify`` that
``POST /v1/payments/notify`` calls, with the same checks: the signature, an order waiting for that
payment, the amount. Outside demo mode the route does not exist (``create_app`` adds it only with
a secret).
"""

from __future__ import annotations

from typing import Any

import falcon

from medbook import bootstrap
from medbook.domain.shared.errors import InvalidValue
from medbook.entrypoints.http.body import MalformedBody, decode_json
from medbook.entrypoints.web import FILES, PAGE_POLICY, send_file
from medbook.ports.payments import is_gateway_id

#: The largest amount the sandbox page reports: ten million yuan, in cents.
MAX_CENTS = 10**9
#: The page sends a status and an amount: a few dozen bytes.
MAX_BODY = 1024


class SandboxCheckout:
    def __init__(self, services: bootstrap.Services, secret: bytes) -> None:
        self.services = services
        self.secret = secret

    def on_get(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        _check(payment_id)
        resp.set_header("Content-Security-Policy", PAGE_POLICY)
        send_file(req, resp, FILES["sandbox.html"])

    def on_post(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        _check(payment_id)
        raw = req.bounded_stream.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise falcon.HTTPContentTooLarge(description=f"send at most {MAX_BODY} bytes")
        asked = _asked(raw)
        body, headers = bootstrap.sandbox_notification(
            self.secret, payment_id, asked["status"] == "succeeded", asked["amount_cents"]
        )
        result = self.services.orders.notify(body, headers)
        resp.media = {"outcome": result.outcome, "order_id": result.order_id}


def _check(payment_id: str) -> None:
    if not is_gateway_id(payment_id):
        raise falcon.HTTPNotFound(description="no such payment")


def _asked(raw: bytes) -> dict[str, Any]:
    try:
        asked = decode_json(raw)
    except MalformedBody as error:
        raise falcon.HTTPBadRequest(description=str(error), code="malformed_body") from None
    if not isinstance(asked, dict):
        raise falcon.HTTPBadRequest(description="send a JSON object", code="malformed_body")
    status, cents = asked.get("status"), asked.get("amount_cents")
    if status not in ("succeeded", "failed"):
        raise InvalidValue("status", 'must be "succeeded" or "failed"')
    if type(cents) is not int or not 0 < cents <= MAX_CENTS:
        raise InvalidValue("amount_cents", f"must be a whole number from 1 to {MAX_CENTS}")
    return {"status": status, "amount_cents": cents}
