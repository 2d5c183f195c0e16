"""WeChat Pay through the HTTP API: an order paid by a notification at
``POST /v1/payments/wechat/notify``, signed and encrypted as WeChat sends it (keys and certificates
made by the tests), answered as WeChat expects: 204 when taken, 400 ``{code, message}`` when not.

WeChat's side is played by ``tests/unit/wechat_support.py``: a platform key signs notifications
and the answers of a fake api.mch.weixin.qq.com that checks our merchant signature.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from http_support import THURSDAY, World, fast_hasher, ok, problem

from medbook.adapters.memory import ManualClock
from medbook.bootstrap import Services, in_memory

_SUPPORT = Path(__file__).parents[2] / "unit" / "wechat_support.py"
_spec = importlib.util.spec_from_file_location("wechat_support", _SUPPORT)
assert _spec is not None and _spec.loader is not None
wechat = importlib.util.module_from_spec(_spec)
sys.modules["wechat_support"] = wechat
_spec.loader.exec_module(wechat)

PRICE = 19_900
CODE_URL = "weixin://wxpay/bizpayurl?pr=medbook1"


@pytest.fixture
def fake_wechat() -> Any:
    return wechat.FakeWeChat(200, {"code_url": CODE_URL})


@pytest.fixture
def services(clock: ManualClock, fake_wechat: Any) -> Services:
    clock.set(wechat.NOW)
    gateway = wechat.gateway(clock=clock.now, transport=fake_wechat)
    return in_memory(clock, hasher=fast_hasher(), gateway=gateway)


def _paying(world: World) -> tuple[int, str]:
    """An order of a service of the Shanghai hospital, with its WeChat payment started."""
    body = {
        "name": "Home nursing visit",
        "price_cents": PRICE,
        "capacity": 2,
        "service_radius_km": 10,
        "dates": [THURSDAY.isoformat()],
    }
    path = f"/v1/hospitals/{world.shanghai}/services"
    service = ok(world.api.post(path, token=world.admin.token, json=body), 201)
    wanted = {"service_id": service["id"], "date": THURSDAY.isoformat(), "place": "hospital"}
    order = ok(world.api.post("/v1/orders", token=world.patient_a.token, json=wanted), 201)
    payment = ok(
        world.api.post(f"/v1/orders/{order['id']}/payment", token=world.patient_a.token), 201
    )
    assert payment["gateway"] == "wechat"
    assert payment["parameters"] == {"code_url": CODE_URL}
    assert payment["amount_cents"] == PRICE
    return order["id"], payment["payment_id"]


def _notify(world: World, body: bytes, headers: dict[str, str]) -> Any:
    return world.api.request(
        "POST",
        "/v1/payments/wechat/notify",
        body=body,
        content_type="application/json",
        headers=headers,
    )


def _status(world: World, order_id: int) -> str:
    return str(ok(world.api.get(f"/v1/orders/{order_id}", token=world.patient_a.token))["status"])


def test_a_payment_wechat_notifies_pays_the_order_once(world: World, fake_wechat: Any) -> None:
    order_id, payment_id = _paying(world)
    (method, url, _, sent) = fake_wechat.requests[0]
    assert (method, url.split("?")[0]) == (
        "POST",
        "https://api.mch.weixin.qq.com/v3/pay/transactions/native",
    )
    assert (sent["out_trade_no"], sent["amount"]["total"]) == (payment_id, PRICE)

    plain = wechat.transaction(out_trade_no=payment_id, amount={"total": PRICE, "currency": "CNY"})
    body = wechat.notification_body(plain, event_id="EV-1")
    headers = wechat.platform().headers(body)

    taken = _notify(world, body, headers)
    assert taken.status_code == 204 and not taken.content
    assert _status(world, order_id) == "paid"
    again = _notify(world, body, wechat.platform().headers(body))  # WeChat retries
    assert again.status_code == 204
    assert _status(world, order_id) == "paid"


def test_what_wechat_must_not_be_told_taken_is_answered_400_with_code_and_message(
    world: World,
) -> None:
    order_id, payment_id = _paying(world)
    good = wechat.transaction(out_trade_no=payment_id, amount={"total": PRICE, "currency": "CNY"})
    body = wechat.notification_body(good, event_id="EV-2")
    cases = {
        "forged": (body, wechat.impostor().headers(body)),
        "tampered": (body.replace(b"EV-2", b"EV-3"), wechat.platform().headers(body)),
        "stale": (
            body,
            wechat.platform().headers(body, timestamp=int(wechat.NOW.timestamp()) - 600),
        ),
        "wrong amount": (
            (
                b := wechat.notification_body(
                    wechat.transaction(
                        out_trade_no=payment_id, amount={"total": 1, "currency": "CNY"}
                    ),
                    event_id="EV-4",
                )
            ),
            wechat.platform().headers(b),
        ),
        "unknown payment": (
            (
                u := wechat.notification_body(
                    wechat.transaction(out_trade_no="mb999-000000000000", amount={"total": PRICE}),
                    event_id="EV-5",
                )
            ),
            wechat.platform().headers(u),
        ),
    }
    for name, (sent, headers) in cases.items():
        answer = _notify(world, sent, headers)
        assert answer.status_code == 400, name
        assert answer.headers["content-type"].startswith("application/json"), name
        assert answer.json["code"] == "FAIL" and answer.json["message"], (name, answer.json)
    assert _status(world, order_id) == "pending_payment"
    # Nothing refused used up the event: the genuine notification is taken afterwards.
    assert _notify(world, body, wechat.platform().headers(body)).status_code == 204
    assert _status(world, order_id) == "paid"


def test_the_sandbox_route_is_not_served_with_wechat(world: World) -> None:
    body = json.dumps(
        {"event_id": "e", "payment_id": "p", "status": "succeeded", "amount_cents": 1}
    )
    answer = world.api.request(
        "POST",
        "/v1/payments/notify",
        body=body.encode(),
        content_type="application/json",
        headers={"X-Medbook-Signature": "sha256=00"},
    )
    problem(answer, 404)
