"""Home-visit services and orders over HTTP: publishing and finding services, ordering, paying
through the sandbox gateway (signed notifications), expiry, cancelling, completing, and who may
touch whose order; on the in-memory store and (``sql_world``) on SQLite and MariaDB.

The services here are built with a sandbox gateway keyed with ``SECRET`` (the conftest's have no
gateway, so no payment could start).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import falcon.testing
import pytest
from http_support import (
    DAY,
    FRIDAY,
    MAX_UPLOAD_BYTES,
    SATURDAY,
    THURSDAY,
    TODAY,
    Account,
    World,
    fast_hasher,
    ok,
    problem,
)
from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.payments.sandbox import SandboxGateway, sign
from medbook.adapters.sql import SqlUnitOfWork
from medbook.bootstrap import Services, build_services, in_memory
from medbook.domain import GeoPoint
from medbook.ports.orders import Refund
from medbook.services.transactions import read_only

SECRET = b"medbook-orders-test-secret-0123456789abcdef"
#: Ruijin Hospital (the world's Shanghai hospital).
RUIJIN = (31.2122, 121.4688)
#: About 4.2 km north of Ruijin.
NEAR_RUIJIN = (31.25, 121.4688)
#: About 32 km north of Ruijin: beyond a 20 km radius.
FAR_FROM_RUIJIN = (31.5, 121.4688)
PRICE = 19900
FEE = 995  # 5 % of 199.00, half up
PAYOUT = 18905


@pytest.fixture
def services(clock: ManualClock) -> Services:
    return in_memory(
        clock,
        hasher=fast_hasher(),
        max_upload_bytes=MAX_UPLOAD_BYTES,
        gateway=SandboxGateway(SECRET),
    )


@pytest.fixture
def sql_services(engine: Engine, clock: ManualClock) -> Services:
    return build_services(
        lambda: SqlUnitOfWork(engine),
        clock,
        hasher=fast_hasher(),
        max_upload_bytes=MAX_UPLOAD_BYTES,
        gateway=SandboxGateway(SECRET),
    )


# --- helpers -------------------------------------------------------------------------------------


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance, computed here on its own (mean Earth radius)."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def service_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Home nursing visit",
        "description": "A nurse comes to your home: dressings, injections, checks.",
        "tips": "Have your medicines at hand.",
        "precautions": "Tell us about allergies.",
        "image_url": "https://example.org/images/nurse.png",
        "price_cents": PRICE,
        "capacity": 3,
        "service_radius_km": 20,
        "dates": [THURSDAY.isoformat(), FRIDAY.isoformat()],
    }
    body.update(changes)
    return body


def publish(world: World, admin: Account | None = None, **changes: Any) -> dict[str, Any]:
    admin = admin or world.admin
    hospital = world.shanghai if admin is world.admin else world.beijing
    path = f"/v1/hospitals/{hospital}/services"
    return ok(world.api.post(path, token=admin.token, json=service_body(**changes)), 201)  # type: ignore[no-any-return]


def order_body(service_id: int, date: dt.date | str = THURSDAY, **changes: Any) -> dict[str, Any]:
    day = date if isinstance(date, str) else date.isoformat()
    body: dict[str, Any] = {"service_id": service_id, "date": day, "place": "hospital"}
    body.update(changes)
    return body


def place(world: World, patient: Account, service_id: int, **changes: Any) -> falcon.testing.Result:
    return world.api.post("/v1/orders", token=patient.token, json=order_body(service_id, **changes))


def order(world: World, patient: Account, service_id: int, **changes: Any) -> dict[str, Any]:
    return ok(place(world, patient, service_id, **changes), 201)  # type: ignore[no-any-return]


def start_payment(world: World, patient: Account, order_id: int) -> dict[str, Any]:
    path = f"/v1/orders/{order_id}/payment"
    return ok(world.api.post(path, token=patient.token), 201)  # type: ignore[no-any-return]


def notify(
    world: World,
    payload: dict[str, Any] | bytes,
    *,
    secret: bytes = SECRET,
    signature: str | None = None,
    sign_it: bool = True,
    content_type: str = "application/json",
) -> falcon.testing.Result:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {}
    if sign_it:
        headers["X-Medbook-Signature"] = signature or sign(secret, raw)
    return world.api.post(
        "/v1/payments/notify", body=raw, content_type=content_type, headers=headers
    )


def event(
    payment_id: str, amount: int = PRICE, event_id: str = "ev-1", status: str = "succeeded"
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "payment_id": payment_id,
        "status": status,
        "amount_cents": amount,
    }


def get_order(world: World, who: Account, order_id: int) -> dict[str, Any]:
    return ok(world.api.get(f"/v1/orders/{order_id}", token=who.token))  # type: ignore[no-any-return]


def remaining(world: World, service_id: int, date: dt.date | None = None) -> int:
    found = ok(world.api.get(f"/v1/services/{service_id}"))
    if date is None:
        return int(found["remaining"])
    return next(int(d["remaining"]) for d in found["dates"] if d["date"] == date.isoformat())


def refund_of(world: World, order_id: int) -> Refund | None:
    return read_only(world.services.new_uow, lambda uow: uow.refunds.of_order(order_id))


def paid_order(world: World, patient: Account, service_id: int) -> tuple[int, str]:
    made = order(world, patient, service_id)
    payment = start_payment(world, patient, made["id"])
    paid = ok(notify(world, event(payment["payment_id"], event_id=f"ev-pay-{made['id']}")))
    assert paid == {"outcome": "paid", "order_id": made["id"]}
    return made["id"], payment["payment_id"]


def admin_notifications(world: World, admin: Account) -> list[dict[str, Any]]:
    return ok(world.api.get("/v1/notifications", token=admin.token))  # type: ignore[no-any-return]


# --- publishing ----------------------------------------------------------------------------------


def test_an_admin_publishes_a_service_of_their_own_hospital(world: World) -> None:
    created = publish(world)

    assert created["hospital_id"] == world.shanghai
    assert created["name"] == "Home nursing visit"
    assert created["price_cents"] == PRICE
    assert created["currency"] == "CNY"
    assert created["capacity"] == 3
    assert created["service_radius_km"] == 20
    assert (created["lat"], created["lng"]) == RUIJIN
    assert created["image_url"] == "https://example.org/images/nurse.png"
    assert created["dates"] == [
        {"date": THURSDAY.isoformat(), "capacity": 3, "remaining": 3},
        {"date": FRIDAY.isoformat(), "capacity": 3, "remaining": 3},
    ]
    assert created["remaining"] == 6
    listed = ok(world.api.get(f"/v1/hospitals/{world.shanghai}/services"))
    assert [s["id"] for s in listed] == [created["id"]]
    assert ok(world.api.get(f"/v1/hospitals/{world.beijing}/services")) == []
    assert ok(world.api.get(f"/v1/services/{created['id']}"))["remaining"] == 6


def test_only_the_hospitals_own_admin_publishes(world: World) -> None:
    path = f"/v1/hospitals/{world.shanghai}/services"
    problem(world.api.post(path, token=world.other_admin.token, json=service_body()), 403)
    problem(world.api.post(path, token=world.patient_a.token, json=service_body()), 403)
    problem(world.api.post(path, token=world.doctor.token, json=service_body()), 403)
    problem(world.api.post(path, json=service_body()), 401)
    assert ok(world.api.get(path)) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price_cents": -1}, "price_cents"),
        ({"price_cents": 1_000_000_001}, "price_cents"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 1001}, "capacity"),
        ({"service_radius_km": 0}, "service_radius_km"),
        ({"service_radius_km": 101}, "service_radius_km"),
        ({"service_radius_km": -5}, "service_radius_km"),
        ({"dates": []}, "dates"),
        ({"dates": [(TODAY - DAY).isoformat()]}, "dates"),
        ({"dates": ["2026-02-30"]}, "dates"),
        ({"dates": ["9999-12-31"]}, "dates"),  # more than a year ahead
        ({"dates": ["2026-11-26T00:00:00"]}, "dates"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
        ({"image_url": "data:text/html,<script>alert(1)</script>"}, "image_url"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "Nurse\x00visit"}, "name"),
        ({"name": "Nurse\x1b[31mvisit"}, "name"),
        ({"name": "x" * 101}, "name"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_a_bad_service_is_422_naming_the_field(
    world: World, changes: dict[str, Any], field: str
) -> None:
    path = f"/v1/hospitals/{world.shanghai}/services"
    refused = world.api.post(path, token=world.admin.token, json=service_body(**changes))
    body = problem(refused, 422)
    assert field in {e["field"].split("[")[0] for e in body["errors"]}, body["errors"]
    assert ok(world.api.get(path)) == []


def test_a_service_needs_every_required_field(world: World) -> None:
    path = f"/v1/hospitals/{world.shanghai}/services"
    body = service_body()
    del body["price_cents"]
    refused = world.api.post(path, token=world.admin.token, json=body)
    assert "price_cents" in {e["field"] for e in problem(refused, 422)["errors"]}


# --- finding -------------------------------------------------------------------------------------


def test_services_are_found_nearest_first_within_their_radius(world: World) -> None:
    huashan = world.services.directory.add_hospital(
        "Huashan Hospital", "12 Wulumuqi Middle Road, Shanghai", GeoPoint(31.2165, 121.4423)
    )
    assert huashan.id is not None
    world.services.accounts.create_admin(huashan.id, "13700000009", "Huashan Admin", "pw-huashan-1")
    huashan_admin = world.login("13700000009", "admin", "pw-huashan-1")
    ruijin_service = publish(world, capacity=2)
    small = publish(world, name="Only next door", service_radius_km=1)
    huashan_service = ok(
        world.api.post(
            f"/v1/hospitals/{huashan.id}/services",
            token=huashan_admin,
            json=service_body(name="Rehabilitation at home", capacity=4),
        ),
        201,
    )
    beijing_service = publish(world, world.other_admin, name="Beijing nursing")
    order(world, world.patient_a, ruijin_service["id"])
    point = (31.2160, 121.4450)  # next to Huashan, 2.3 km from Ruijin

    found = ok(world.api.get("/v1/services", params={"lat": "31.2160", "lng": "121.4450"}))

    assert [s["id"] for s in found] == [huashan_service["id"], ruijin_service["id"]]
    assert small["id"] not in [s["id"] for s in found]
    assert beijing_service["id"] not in [s["id"] for s in found]
    assert found[0]["distance_km"] == pytest.approx(
        haversine_km(point, (31.2165, 121.4423)), abs=6e-4
    )
    assert found[1]["distance_km"] == pytest.approx(haversine_km(point, RUIJIN), abs=6e-4)
    assert 2.0 < found[1]["distance_km"] < 2.6
    assert found[0]["remaining"] == 8
    assert found[1]["remaining"] == 3  # 2 + 2, one place held by patient A's order
    assert found[1]["dates"][0] == {"date": THURSDAY.isoformat(), "capacity": 2, "remaining": 1}

    far = ok(world.api.get("/v1/services", params={"lat": "31.5", "lng": "121.4688"}))
    assert far == []
    in_beijing = ok(world.api.get("/v1/services", params={"lat": "39.92", "lng": "116.42"}))
    assert [s["id"] for s in in_beijing] == [beijing_service["id"]]
    limited = ok(
        world.api.get("/v1/services", params={"lat": "31.2160", "lng": "121.4450", "limit": "1"})
    )
    assert [s["id"] for s in limited] == [huashan_service["id"]]


def test_past_dates_are_not_offered_and_fully_past_services_are_not_found(world: World) -> None:
    created = publish(world, dates=[TODAY.isoformat(), FRIDAY.isoformat()])
    world.clock.advance(dt.timedelta(days=1))  # Thursday: today's date is gone
    found = ok(world.api.get("/v1/services", params={"lat": "31.25", "lng": "121.4688"}))
    assert [d["date"] for d in found[0]["dates"]] == [FRIDAY.isoformat()]
    world.clock.advance(dt.timedelta(days=2))  # Saturday: none left
    assert ok(world.api.get("/v1/services", params={"lat": "31.25", "lng": "121.4688"})) == []
    assert ok(world.api.get(f"/v1/services/{created['id']}"))["remaining"] == 0


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({}, {"lat", "lng"}),
        ({"lat": "31.2"}, {"lng"}),
        ({"lng": "121.4"}, {"lat"}),
        ({"lat": "91", "lng": "121.4"}, {"lat"}),
        ({"lat": "-90.5", "lng": "121.4"}, {"lat"}),
        ({"lat": "31.2", "lng": "180.5"}, {"lng"}),
        ({"lat": "nan", "lng": "121.4"}, {"lat"}),
        ({"lat": "31.2", "lng": "inf"}, {"lng"}),
        ({"lat": "north", "lng": "121.4"}, {"lat"}),
        ({"lat": "31.2", "lng": "121.4", "limit": "ten"}, {"limit"}),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_a_search_without_a_good_point_is_422(
    world: World, params: dict[str, str], fields: set[str]
) -> None:
    problem(world.api.get("/v1/services", params=params), 422, fields=fields)


@pytest.mark.parametrize(
    ("lat", "lng"), [("90", "180"), ("-90", "-180"), ("0", "180"), ("0", "-180"), ("-0", "-0")]
)
def test_a_search_at_the_poles_and_the_antimeridian_answers(
    world: World, lat: str, lng: str
) -> None:
    publish(world)
    assert ok(world.api.get("/v1/services", params={"lat": lat, "lng": lng})) == []


# --- ordering ------------------------------------------------------------------------------------


def test_an_order_at_the_hospital_and_at_home(world: World) -> None:
    service = publish(world)

    at_hospital = order(world, world.patient_a, service["id"])
    at_home = order(
        world,
        world.patient_b,
        service["id"],
        date=FRIDAY,
        place="home",
        address="  100 Huaihai Road, Shanghai  ",
        lat=NEAR_RUIJIN[0],
        lng=NEAR_RUIJIN[1],
    )

    assert at_hospital["status"] == "pending_payment"
    assert at_hospital["patient_id"] == world.patient_a.id
    assert at_hospital["service_id"] == service["id"]
    assert at_hospital["hospital_id"] == world.shanghai
    assert at_hospital["place"] == "hospital"
    assert at_hospital["date"] == THURSDAY.isoformat()
    assert (at_hospital["lat"], at_hospital["lng"]) == (None, None)
    assert at_hospital["total_cents"] == PRICE
    assert at_hospital["platform_fee_cents"] == FEE
    assert at_hospital["provider_payout_cents"] == PAYOUT
    assert at_hospital["payment_id"] is None
    created = dt.datetime.fromisoformat(at_hospital["created_at"])
    pay_by = dt.datetime.fromisoformat(at_hospital["pay_by"])
    assert pay_by - created == dt.timedelta(minutes=15)
    assert at_home["address"] == "100 Huaihai Road, Shanghai"
    assert (at_home["lat"], at_home["lng"]) == NEAR_RUIJIN
    assert remaining(world, service["id"], THURSDAY) == 2
    assert remaining(world, service["id"], FRIDAY) == 2


@pytest.mark.parametrize(
    ("price", "fee"), [(1, 0), (10, 1), (9, 0), (19900, 995), (1_000_000_000, 50_000_000)]
)
def test_the_fee_is_five_percent_half_up(world: World, price: int, fee: int) -> None:
    service = publish(world, price_cents=price)
    made = order(world, world.patient_a, service["id"])
    assert (made["total_cents"], made["platform_fee_cents"], made["provider_payout_cents"]) == (
        price,
        fee,
        price - fee,
    )


def test_the_last_place_sold_is_409_sold_out(world: World) -> None:
    service = publish(world, capacity=1)
    order(world, world.patient_a, service["id"])

    problem(place(world, world.patient_b, service["id"]), 409, "sold_out")
    assert remaining(world, service["id"], THURSDAY) == 0
    assert order(world, world.patient_b, service["id"], date=FRIDAY)["date"] == FRIDAY.isoformat()


def test_a_home_visit_needs_an_address_the_provider_reaches(world: World) -> None:
    service = publish(world)
    outside = place(
        world,
        world.patient_a,
        service["id"],
        place="home",
        address="Jiading",
        lat=FAR_FROM_RUIJIN[0],
        lng=FAR_FROM_RUIJIN[1],
    )
    problem(outside, 422, fields={"lat"})
    no_address = place(world, world.patient_a, service["id"], place="home")
    problem(no_address, 422, fields={"address"})
    half_point = place(
        world, world.patient_a, service["id"], place="home", address="x", lat=NEAR_RUIJIN[0]
    )
    problem(half_point, 422, fields={"lng"})
    assert remaining(world, service["id"], THURSDAY) == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date": SATURDAY.isoformat()}, "date"),  # not offered
        ({"date": (TODAY - DAY).isoformat()}, "date"),
        ({"date": "9999-12-31"}, "date"),
        ({"place": "office"}, "place"),
        ({"lat": 91, "lng": 121.0}, "lat"),
        ({"lat": 31.0, "lng": -181}, "lng"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_a_bad_order_is_422(world: World, changes: dict[str, Any], field: str) -> None:
    service = publish(world)
    refused = place(world, world.patient_a, service["id"], **changes)
    assert field in {e["field"] for e in problem(refused, 422)["errors"]}


def test_an_unknown_service_is_404(world: World) -> None:
    problem(place(world, world.patient_a, 987654), 404, "service_not_found")
    problem(world.api.get("/v1/services/987654"), 404, "service_not_found")


def test_only_patients_order(world: World) -> None:
    service = publish(world)
    problem(place(world, world.doctor, service["id"]), 403)
    problem(place(world, world.admin, service["id"]), 403)
    problem(world.api.post("/v1/orders", json=order_body(service["id"])), 401)
    assert remaining(world, service["id"], THURSDAY) == 3


def test_at_most_five_unpaid_orders(world: World) -> None:
    service = publish(world, capacity=10)
    made = [order(world, world.patient_a, service["id"]) for _ in range(5)]

    problem(place(world, world.patient_a, service["id"]), 409, "too_many_unpaid_orders")
    assert remaining(world, service["id"], THURSDAY) == 5
    # Another patient is not held back; paying one frees a slot.
    order(world, world.patient_b, service["id"])
    payment = start_payment(world, world.patient_a, made[0]["id"])
    ok(notify(world, event(payment["payment_id"])))
    order(world, world.patient_a, service["id"])


# --- paying --------------------------------------------------------------------------------------


def test_paying_an_order(world: World) -> None:
    service = publish(world)
    made = order(world, world.patient_a, service["id"])

    payment = start_payment(world, world.patient_a, made["id"])
    again = start_payment(world, world.patient_a, made["id"])

    assert payment["order_id"] == made["id"]
    assert payment["gateway"] == "sandbox"
    assert payment["amount_cents"] == PRICE
    assert payment["currency"] == "CNY"
    assert payment["payment_id"]
    assert again["payment_id"] == payment["payment_id"]
    assert get_order(world, world.patient_a, made["id"])["payment_id"] == payment["payment_id"]
    assert admin_notifications(world, world.admin) == []

    paid = ok(notify(world, event(payment["payment_id"])))

    assert paid == {"outcome": "paid", "order_id": made["id"]}
    seen = get_order(world, world.patient_a, made["id"])
    assert seen["status"] == "paid"
    assert seen["paid_at"] is not None
    notices = admin_notifications(world, world.admin)
    assert [n["kind"] for n in notices] == ["order_paid"]
    assert notices[0]["data"]["order_id"] == made["id"]
    assert admin_notifications(world, world.other_admin) == []
    problem(
        world.api.post(f"/v1/orders/{made['id']}/payment", token=world.patient_a.token),
        409,
        "order_not_payable",
    )

    repeat = ok(notify(world, event(payment["payment_id"])))
    assert repeat == {"outcome": "repeat", "order_id": made["id"]}
    assert get_order(world, world.patient_a, made["id"]) == seen
    assert admin_notifications(world, world.admin) == notices
    duplicate = ok(notify(world, event(payment["payment_id"], event_id="ev-2")))
    assert duplicate == {"outcome": "duplicate", "order_id": made["id"]}
    assert get_order(world, world.patient_a, made["id"]) == seen
    assert admin_notifications(world, world.admin) == notices
    assert refund_of(world, made["id"]) is None
    assert remaining(world, service["id"], THURSDAY) == 2


def test_a_failed_payment_leaves_the_order_waiting(world: World) -> None:
    service = publish(world)
    made = order(world, world.patient_a, service["id"])
    payment = start_payment(world, world.patient_a, made["id"])

    failed = ok(notify(world, event(payment["payment_id"], status="failed")))

    assert failed == {"outcome": "failed", "order_id": made["id"]}
    assert get_order(world, world.patient_a, made["id"])["status"] == "pending_payment"
    paid = ok(notify(world, event(payment["payment_id"], event_id="ev-retry")))
    assert paid["outcome"] == "paid"


def test_a_failure_reported_after_the_payment_went_through_is_a_duplicate(world: World) -> None:
    # A payer who presses "fail" on the gateway's page after paying must not be told the order
    # still waits for payment: the order is paid, and the report changes nothing.
    service = publish(world)
    made = order(world, world.patient_a, service["id"])
    payment = start_payment(world, world.patient_a, made["id"])
    ok(notify(world, event(payment["payment_id"])))

    late = ok(notify(world, event(payment["payment_id"], event_id="ev-fail", status="failed")))

    assert late == {"outcome": "duplicate", "order_id": made["id"]}
    assert get_order(world, world.patient_a, made["id"])["status"] == "paid"


@pytest.mark.parametrize(
    "how",
    ["wrong key", "missing", "empty", "no prefix", "upper-case hex", "other body", "md5 prefix"],
)
def test_a_notify_without_the_right_signature_is_400_and_changes_nothing(
    world: World, how: str
) -> None:
    service = publish(world)
    made = order(world, world.patient_a, service["id"])
    payment = start_payment(world, world.patient_a, made["id"])
    raw = json.dumps(event(payment["payment_id"])).encode()
    good = sign(SECRET, raw)
    signature = {
        "wrong key": sign(b"another-secret-another-secret-0123456789", raw),
        "empty": "",
        "no prefix": good.removeprefix("sha256="),
        "upper-case hex": "sha256=" + good.removeprefix("sha256=").upper(),
        "other body": sign(SECRET, raw + b" "),
        "md5 prefix": "md5=" + good.removeprefix("sha256="),
    }.get(how)

    if how == "missing":
        refused = notify(world, raw, sign_it=False)
    elif how == "empty":
        refused = world.api.post(
            "/v1/payments/notify",
            body=raw,
            content_type="application/json",
            headers={"X-Medbook-Signature": ""},
        )
    else:
        refused = notify(world, raw, signature=signature)

    problem(refused, 400, "bad_signature")
    assert get_order(world, world.patient_a, made["id"])["status"] == "pending_payment"
    assert admin_notifications(world, world.admin) == []
    assert ok(notify(world, raw))["outcome"] == "paid"  # the event id was not used up


@pytest.mark.parametrize("amount", [PRICE - 1, PRICE + 1, 0, 1])
def test_a_notify_of_another_amount_is_400_and_the_order_stays_pending(
    world: World, amount: int
) -> None:
    service = publish(world)
    made = order(world, world.patient_a, service["id"])
    payment = start_payment(world, world.patient_a, made["id"])

    refused = notify(world, event(payment["payment_id"], amount=amount))

    problem(refused, 400, "payment_amount_mismatch")
    assert get_order(world, world.patient_a, made["id"])["status"] == "pending_payment"
    assert admin_notifications(world, world.admin) == []
    # The refused event changed nothing: the same event id with the right amount is taken.
    assert ok(notify(world, event(payment["payment_id"])))["outcome"] == "paid"


def test_a_notify_of_an_unknown_payment_is_400(world: World) -> None:
    service = publish(world)
    order(world, world.patient_a, service["id"])
    problem(notify(world, event("mb999999-000000000000")), 400, "payment_refused")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'"text"',
        b"{",
        b'{"event_id": "e", "payment_id": "p", "status": "succeeded"}',
        b'{"event_id": "e", "payment_id": "p", "status": "done", "amount_cents": 1}',
        b'{"event_id": "", "payment_id": "p", "status": "succeeded", "amount_cents": 1}',
        b'{"event_id": 5, "payment_id": "p", "status": "succeeded", "amount_cents": 1}',
        b'{"event_id": "e", "payment_id": "p", "status": "succeeded", "amount_cents": 1.5}',
        b'{"event_id": "e", "payment_id": "p", "status": "succeeded", "amount_cents": true}',
        b'{"event_id": "e", "payment_id": "p", "status": "succeeded", "amount_cents": -1}',
        b'{"event_id": "e", "payment_id": "p", "status": "succeeded", "amount_cents": 1e308}',
        b'{"event_id": "e", "payment_id": "p", "status": "succeeded", "amount_cents": NaN}',
        b'{"event_id": "e", "payment_id": "p", "status": "succeeded", "amount_cents": '
        + b"9" * 5000
        + b"}",
        b"\xff\xfe{}",
    ],
    ids=lambda v: repr(v)[:40],
)
def test_a_signed_body_that_is_not_a_good_event_is_400(world: World, raw: bytes) -> None:
    problem(notify(world, raw), 400)


def test_a_notify_must_be_json(world: World) -> None:
    service = publish(world)
    made = order(world, world.patient_a, service["id"])
    payment = start_payment(world, world.patient_a, made["id"])
    raw = json.dumps(event(payment["payment_id"])).encode()

    problem(notify(world, raw, content_type="text/plain"), 415)
    problem(notify(world, b"x" * (64 * 1024)), 413)
    assert get_order(world, world.patient_a, made["id"])["status"] == "pending_payment"


# --- expiry --------------------------------------------------------------------------------------


def test_an_order_unpaid_for_15_minutes_expires_and_its_place_returns(world: World) -> None:
    service = publish(world, capacity=1)
    made = order(world, world.patient_a, service["id"])
    payment = start_payment(world, world.patient_a, made["id"])
    assert remaining(world, service["id"], THURSDAY) == 0

    world.clock.advance(dt.timedelta(minutes=14, seconds=59))
    assert start_payment(world, world.patient_a, made["id"])["payment_id"] == payment["payment_id"]
    world.clock.advance(dt.timedelta(seconds=2))

    refused = world.api.post(f"/v1/orders/{made['id']}/payment", token=world.patient_a.token)
    problem(refused, 409, "order_not_payable")
    seen = get_order(world, world.patient_a, made["id"])
    assert seen["status"] == "expired"
    assert seen["ended_at"] is not None
    assert remaining(world, service["id"], THURSDAY) == 1
    problem(
        world.api.post(f"/v1/orders/{made['id']}/cancel", token=world.patient_a.token),
        409,
        "order_not_cancellable",
    )

    late = ok(notify(world, event(payment["payment_id"])))

    assert late == {"outcome": "late", "order_id": made["id"]}
    assert get_order(world, world.patient_a, made["id"])["status"] == "expired"
    refund = refund_of(world, made["id"])
    assert refund is not None
    assert refund.amount.cents == PRICE
    assert refund.payment_id == payment["payment_id"]
    assert refund.status == "succeeded"  # the sandbox takes refunds at once
    assert admin_notifications(world, world.admin) == []
    assert remaining(world, service["id"], THURSDAY) == 1
    # The place that returned can be ordered again.
    order(world, world.patient_b, service["id"])
    assert remaining(world, service["id"], THURSDAY) == 0


def test_a_late_notify_expires_an_untouched_overdue_order(world: World) -> None:
    service = publish(world, capacity=1)
    made = order(world, world.patient_a, service["id"])
    payment = start_payment(world, world.patient_a, made["id"])
    world.clock.advance(dt.timedelta(minutes=16))

    late = ok(notify(world, event(payment["payment_id"])))

    assert late["outcome"] == "late"
    assert get_order(world, world.patient_a, made["id"])["status"] == "expired"
    assert remaining(world, service["id"], THURSDAY) == 1
    refund = refund_of(world, made["id"])
    assert refund is not None and refund.amount.cents == PRICE


def test_reading_an_overdue_order_expires_it(world: World) -> None:
    service = publish(world, capacity=1)
    made = order(world, world.patient_a, service["id"])
    world.clock.advance(dt.timedelta(minutes=15))

    seen = get_order(world, world.admin, made["id"])

    assert seen["status"] == "expired"
    assert remaining(world, service["id"], THURSDAY) == 1
    listed = ok(world.api.get("/v1/orders", token=world.patient_a.token))
    assert [(o["id"], o["status"]) for o in listed] == [(made["id"], "expired")]


def test_overdue_orders_free_their_places_for_a_new_order(world: World) -> None:
    service = publish(world, capacity=1)
    made = order(world, world.patient_a, service["id"])
    world.clock.advance(dt.timedelta(minutes=15))

    order(world, world.patient_b, service["id"])

    assert get_order(world, world.patient_a, made["id"])["status"] == "expired"
    assert remaining(world, service["id"], THURSDAY) == 0


def test_expired_orders_do_not_count_as_unpaid(world: World) -> None:
    service = publish(world, capacity=10)
    for _ in range(5):
        order(world, world.patient_a, service["id"])
    world.clock.advance(dt.timedelta(minutes=20))
    order(world, world.patient_a, service["id"])
    listed = ok(world.api.get("/v1/orders", token=world.patient_a.token))
    assert sorted(o["status"] for o in listed) == ["expired"] * 5 + ["pending_payment"]


# --- cancelling and completing -------------------------------------------------------------------


def test_cancelling_an_unpaid_order_returns_its_place(world: World) -> None:
    service = publish(world, capacity=1)
    made = order(world, world.patient_a, service["id"])

    cancelled = ok(world.api.post(f"/v1/orders/{made['id']}/cancel", token=world.patient_a.token))

    assert cancelled["status"] == "cancelled"
    assert cancelled["ended_at"] is not None
    assert remaining(world, service["id"], THURSDAY) == 1
    assert refund_of(world, made["id"]) is None
    again = world.api.post(f"/v1/orders/{made['id']}/cancel", token=world.patient_a.token)
    problem(again, 409, "order_not_cancellable")
    problem(
        world.api.post(f"/v1/orders/{made['id']}/payment", token=world.patient_a.token),
        409,
        "order_not_payable",
    )
    assert remaining(world, service["id"], THURSDAY) == 1


def test_cancelling_a_paid_order_refunds_it(world: World) -> None:
    service = publish(world, capacity=1)
    order_id, payment_id = paid_order(world, world.patient_a, service["id"])
    assert remaining(world, service["id"], THURSDAY) == 0

    refunded = ok(world.api.post(f"/v1/orders/{order_id}/cancel", token=world.patient_a.token))

    assert refunded["status"] == "refunded"
    assert remaining(world, service["id"], THURSDAY) == 1
    refund = refund_of(world, order_id)
    assert refund is not None
    assert (refund.payment_id, refund.amount.cents, refund.status) == (
        payment_id,
        PRICE,
        "succeeded",
    )
    problem(
        world.api.post(f"/v1/orders/{order_id}/cancel", token=world.patient_a.token),
        409,
        "order_not_cancellable",
    )
    assert remaining(world, service["id"], THURSDAY) == 1


def test_the_hospitals_admin_cancels_a_paid_order_and_the_patient_is_told(world: World) -> None:
    service = publish(world)
    order_id, _ = paid_order(world, world.patient_a, service["id"])

    refunded = ok(world.api.post(f"/v1/orders/{order_id}/cancel", token=world.admin.token))

    assert refunded["status"] == "refunded"
    notices = ok(world.api.get("/v1/notifications", token=world.patient_a.token))
    assert [n["kind"] for n in notices] == ["order_refunded"]
    assert notices[0]["data"]["order_id"] == order_id


def test_the_hospitals_admin_completes_a_paid_order(world: World) -> None:
    service = publish(world)
    unpaid = order(world, world.patient_b, service["id"])
    order_id, _ = paid_order(world, world.patient_a, service["id"])

    problem(
        world.api.post(f"/v1/orders/{order_id}/complete", token=world.other_admin.token),
        404,
        "order_not_found",
    )
    problem(world.api.post(f"/v1/orders/{order_id}/complete", token=world.patient_a.token), 403)
    problem(
        world.api.post(f"/v1/orders/{unpaid['id']}/complete", token=world.admin.token),
        409,
        "order_not_completable",
    )
    completed = ok(world.api.post(f"/v1/orders/{order_id}/complete", token=world.admin.token))

    assert completed["status"] == "completed"
    assert completed["ended_at"] is not None
    problem(
        world.api.post(f"/v1/orders/{order_id}/cancel", token=world.patient_a.token),
        409,
        "order_not_cancellable",
    )
    assert remaining(world, service["id"], THURSDAY) == 1  # a completed order keeps its place


# --- who sees what -------------------------------------------------------------------------------


def test_orders_are_private_to_their_patient_and_hospital(world: World) -> None:
    service = publish(world)
    made = order(world, world.patient_a, service["id"])
    order_id = made["id"]

    for method, path in (
        ("GET", f"/v1/orders/{order_id}"),
        ("POST", f"/v1/orders/{order_id}/payment"),
        ("POST", f"/v1/orders/{order_id}/cancel"),
    ):
        problem(
            world.api.request(method, path, token=world.patient_b.token), 404, "order_not_found"
        )
    problem(world.api.get(f"/v1/orders/{order_id}", token=world.other_admin.token), 404)
    problem(world.api.post(f"/v1/orders/{order_id}/cancel", token=world.other_admin.token), 404)
    problem(world.api.get(f"/v1/orders/{order_id}", token=world.doctor.token), 404)
    problem(world.api.post(f"/v1/orders/{order_id}/payment", token=world.admin.token), 403)
    problem(world.api.get("/v1/orders", token=world.doctor.token), 403)
    problem(world.api.get("/v1/orders"), 401)
    problem(world.api.get("/v1/orders/987654", token=world.patient_a.token), 404, "order_not_found")

    assert get_order(world, world.patient_a, order_id)["status"] == "pending_payment"
    assert get_order(world, world.admin, order_id)["id"] == order_id
    assert [o["id"] for o in ok(world.api.get("/v1/orders", token=world.patient_a.token))] == [
        order_id
    ]
    assert ok(world.api.get("/v1/orders", token=world.patient_b.token)) == []
    assert [o["id"] for o in ok(world.api.get("/v1/orders", token=world.admin.token))] == [order_id]
    assert ok(world.api.get("/v1/orders", token=world.other_admin.token)) == []


def test_listing_orders_newest_first_and_by_status(world: World) -> None:
    service = publish(world, capacity=5)
    first = order(world, world.patient_a, service["id"])
    world.clock.advance(dt.timedelta(minutes=1))
    paid_id, _ = paid_order(world, world.patient_a, service["id"])
    world.clock.advance(dt.timedelta(minutes=1))
    third = order(world, world.patient_a, service["id"])
    ok(world.api.post(f"/v1/orders/{third['id']}/cancel", token=world.patient_a.token))

    listed = ok(world.api.get("/v1/orders", token=world.patient_a.token))
    assert [o["id"] for o in listed] == [third["id"], paid_id, first["id"]]
    only_paid = ok(
        world.api.get("/v1/orders", token=world.patient_a.token, params={"status": "paid"})
    )
    assert [o["id"] for o in only_paid] == [paid_id]
    by_admin = ok(world.api.get("/v1/orders", token=world.admin.token, params={"status": "paid"}))
    assert [o["id"] for o in by_admin] == [paid_id]
    problem(
        world.api.get("/v1/orders", token=world.patient_a.token, params={"status": "lost"}),
        422,
        fields={"status"},
    )


# --- the same on SQL -----------------------------------------------------------------------------


def _order_flow(world: World) -> None:
    service = publish(world, capacity=2)
    found = ok(world.api.get("/v1/services", params={"lat": "31.25", "lng": "121.4688"}))
    assert [s["id"] for s in found] == [service["id"]]
    assert found[0]["distance_km"] == pytest.approx(haversine_km(NEAR_RUIJIN, RUIJIN), abs=6e-4)

    a = order(
        world,
        world.patient_a,
        service["id"],
        place="home",
        address="100 Huaihai Road",
        lat=NEAR_RUIJIN[0],
        lng=NEAR_RUIJIN[1],
    )
    b = order(world, world.patient_b, service["id"])
    assert (a["total_cents"], a["platform_fee_cents"], a["provider_payout_cents"]) == (
        PRICE,
        FEE,
        PAYOUT,
    )
    problem(place(world, world.patient_a, service["id"]), 409, "sold_out")

    payment = start_payment(world, world.patient_a, a["id"])
    assert start_payment(world, world.patient_a, a["id"])["payment_id"] == payment["payment_id"]
    problem(notify(world, event(payment["payment_id"], amount=PRICE - 1)), 400)
    problem(notify(world, event(payment["payment_id"]), signature="sha256=00"), 400)
    assert ok(notify(world, event(payment["payment_id"])))["outcome"] == "paid"
    assert ok(notify(world, event(payment["payment_id"])))["outcome"] == "repeat"
    assert [n["kind"] for n in admin_notifications(world, world.admin)] == ["order_paid"]

    b_payment = start_payment(world, world.patient_b, b["id"])
    world.clock.advance(dt.timedelta(minutes=16))
    problem(
        world.api.post(f"/v1/orders/{b['id']}/payment", token=world.patient_b.token),
        409,
        "order_not_payable",
    )
    assert remaining(world, service["id"], THURSDAY) == 1
    assert ok(notify(world, event(b_payment["payment_id"], event_id="ev-b")))["outcome"] == "late"
    late_refund = refund_of(world, b["id"])
    assert late_refund is not None and late_refund.amount.cents == PRICE

    problem(world.api.get(f"/v1/orders/{a['id']}", token=world.patient_b.token), 404)
    refunded = ok(world.api.post(f"/v1/orders/{a['id']}/cancel", token=world.patient_a.token))
    assert refunded["status"] == "refunded"
    assert remaining(world, service["id"], THURSDAY) == 2
    refund = refund_of(world, a["id"])
    assert refund is not None and refund.status == "succeeded"


def test_the_order_flow_over_http(world: World) -> None:
    _order_flow(world)


def test_the_order_flow_over_http_on_sql(sql_world: World) -> None:
    _order_flow(sql_world)


# --- findings of the probe (failing until fixed in src/) ---------------------------------------


# --- what the probe found (each failed before its fix) ----------------------------------------


@pytest.mark.parametrize("limit", ["0", "101", "-5"])
def test_a_search_limit_out_of_its_documented_range_is_422(world: World, limit: str) -> None:
    """Found by the probe: the document says 1 <= limit <= 100 (as for chat messages, which
    answer 422), but ``OrderService.search`` silently clamped it and answered 200."""
    params = {"lat": "31.25", "lng": "121.4688", "limit": limit}
    problem(world.api.get("/v1/services", params=params), 422, fields={"limit"})


@pytest.mark.parametrize(
    "address",
    ["Room 1\x00", "100 Huaihai Road \u202e", "Line one\nline two", "x" * 501],
    ids=["nul", "bidi override", "newline", "501 characters"],
)
def test_a_home_address_is_checked_like_other_text(world: World, address: str) -> None:
    """The ADDRESS text rule (at most 500 characters, no control or bidi characters). Found by
    the probe (nothing applied it) and fixed in ``ServiceOrder.place_order`` meanwhile."""
    service = publish(world)
    refused = place(
        world,
        world.patient_a,
        service["id"],
        place="home",
        address=address,
        lat=NEAR_RUIJIN[0],
        lng=NEAR_RUIJIN[1],
    )
    problem(refused, 422, fields={"address"})
    assert remaining(world, service["id"], THURSDAY) == 3


def test_a_long_home_address_on_sql_is_422_not_500(sql_world: World) -> None:
    """The ``service_orders.address`` column is VARCHAR(500): MariaDB answered 500 ("Data too
    long") before the address rule was applied."""
    world = sql_world
    service = publish(world)
    refused = place(
        world,
        world.patient_a,
        service["id"],
        place="home",
        address="x" * 600,
        lat=NEAR_RUIJIN[0],
        lng=NEAR_RUIJIN[1],
    )
    problem(refused, 422, fields={"address"})


def test_a_deeply_nested_signed_notify_is_400_not_500(world: World) -> None:
    """Found by the probe: ``SandboxGateway.verify`` decoded the signed body with ``json.loads``,
    which raises ``RecursionError`` (not ``ValueError``) on deep nesting: 500 instead of 400. JSON
    bodies elsewhere go through ``body.decode_json``, which caps the depth at 32."""
    raw = b"[" * 8_000 + b"]" * 8_000  # within the tests' 16 KiB body limit
    problem(notify(world, raw), 400, "malformed_notification")


def _event_with_raw_id(payment_id: str, escaped_event_id: str) -> bytes:
    return (
        b'{"event_id": "' + escaped_event_id.encode() + b'", "payment_id": "'
        + payment_id.encode() + b'", "status": "succeeded", "amount_cents": '
        + str(PRICE).encode() + b"}"
    )  # fmt: skip


def _lone_surrogate_event(world: World) -> None:
    service = publish(world)
    made = order(world, world.patient_a, service["id"])
    payment = start_payment(world, world.patient_a, made["id"])
    raw = _event_with_raw_id(payment["payment_id"], "\\ud800")
    result = notify(world, raw)
    assert result.status_code in (200, 400), result.text
    assert ok(notify(world, event(payment["payment_id"])))["outcome"] in ("paid", "duplicate")


def test_a_signed_event_id_with_a_lone_surrogate_in_memory(world: World) -> None:
    _lone_surrogate_event(world)


def test_a_signed_event_id_with_a_lone_surrogate_is_400_on_sql(sql_world: World) -> None:
    """Found by the probe: a signed event whose id holds a lone surrogate (``"\\ud800"``, valid
    JSON) is decoded by ``json.loads`` in ``SandboxGateway.verify`` and reaches the database, whose
    driver cannot encode it: UnicodeEncodeError, 500 (SQLite and MariaDB)."""
    _lone_surrogate_event(sql_world)


def _edges_of_the_map(world: World) -> None:
    """Providers near the antimeridian and the north pole are found from across them."""
    found_ids: dict[str, int] = {}
    for name, point in (("Suva", GeoPoint(-18.0, 179.95)), ("Pole", GeoPoint(89.95, 10.0))):
        hospital = world.services.directory.add_hospital(name, f"{name} road 1", point)
        assert hospital.id is not None
        phone = world.new_phone()
        world.services.accounts.create_admin(hospital.id, phone, f"{name} Admin", "pw-edge-12345")
        token = world.login(phone, "admin", "pw-edge-12345")
        created = ok(
            world.api.post(
                f"/v1/hospitals/{hospital.id}/services",
                token=token,
                json=service_body(name=f"{name} visit", service_radius_km=100),
            ),
            201,
        )
        found_ids[name] = created["id"]

    def search(lat: str, lng: str) -> list[int]:
        return [s["id"] for s in ok(world.api.get("/v1/services", params={"lat": lat, "lng": lng}))]

    assert search("-18.0", "-179.95") == [found_ids["Suva"]]  # 10.6 km across the antimeridian
    assert search("-18.0", "180") == [found_ids["Suva"]]
    assert search("-18.0", "-180") == [found_ids["Suva"]]
    assert search("90", "180") == [found_ids["Pole"]]  # 5.6 km from the pole
    assert search("89.99", "-170") == [found_ids["Pole"]]
    assert search("-90", "0") == []
    assert search("-18.0", "178.0") == []  # 206 km west


def test_services_are_found_across_the_antimeridian_and_the_pole(world: World) -> None:
    _edges_of_the_map(world)


def test_services_are_found_across_the_antimeridian_and_the_pole_on_sql(sql_world: World) -> None:
    _edges_of_the_map(sql_world)


@pytest.mark.parametrize("event_id", ["ev-1 ", " ev-1", "ev 1", "ev-1\t", "évt-1"])
def test_an_event_id_with_spaces_or_beyond_ascii_is_refused_on_sql(
    sql_world: World, event_id: str
) -> None:
    """Found by the probe on MariaDB: ``payment_events`` is keyed in utf8mb4_bin, a PAD SPACE
    collation, so "ev-1 " was taken for "ev-1" and a success after a failure under such an id
    was answered "repeat". Gateway ids are printable ASCII without spaces; anything else is
    refused before it is stored, and the real id is still taken afterwards."""
    world = sql_world
    service = publish(world)
    made = order(world, world.patient_a, service["id"])
    payment = start_payment(world, world.patient_a, made["id"])
    failed = ok(notify(world, event(payment["payment_id"], event_id="ev-1", status="failed")))
    assert failed["outcome"] == "failed"

    refused = notify(world, event(payment["payment_id"], event_id=event_id))
    assert problem(refused, 400)["code"] == "malformed_notification"

    assert get_order(world, world.patient_a, made["id"])["status"] == "pending_payment"
    paid = ok(notify(world, event(payment["payment_id"], event_id="ev-2")))
    assert paid["outcome"] == "paid"


def test_remaining_counts_places_of_orders_past_their_deadline_as_free(world: World) -> None:
    """Found by the probe: an unpaid order past ``pay_by`` keeps counting against ``remaining`` in
    ``GET /v1/services`` and ``GET /v1/services/{id}`` until something touches it or
    ``medbook expire-orders`` runs, though a new order would take its place at once: an app
    that shows "sold out" at remaining 0 hides a place that can be ordered."""
    service = publish(world, capacity=1)
    order(world, world.patient_a, service["id"])
    world.clock.advance(dt.timedelta(minutes=16))

    assert remaining(world, service["id"], THURSDAY) == 1
    found = ok(world.api.get("/v1/services", params={"lat": "31.25", "lng": "121.4688"}))
    assert found[0]["dates"][0]["remaining"] == 1


def test_a_free_service_is_not_published(world: World) -> None:
    """Found by the second probe: a service of 0 cents went through payment (a 0-cent payment
    WeChat refuses). A service costs at least one cent."""
    path = f"/v1/hospitals/{world.shanghai}/services"
    refused = world.api.post(path, token=world.admin.token, json=service_body(price_cents=0))
    problem(refused, 422, fields={"price_cents"})


@pytest.mark.parametrize(("address", "lat", "lng"), [("far", None, None), ("", 0.0, 0.0)])
def test_a_visit_at_the_hospital_takes_no_address_or_point(
    world: World, address: str, lat: float | None, lng: float | None
) -> None:
    """Found by the second probe: a hospital order stored an address and point nobody checked."""
    service = publish(world)
    extra: dict[str, Any] = {"address": address}
    if lat is not None:
        extra |= {"lat": lat, "lng": lng}
    refused = place(world, world.patient_a, service["id"], **extra)
    problem(refused, 422, fields={"address" if address else "lat"})


def test_a_signed_notification_with_an_unknown_or_repeated_field_is_refused(world: World) -> None:
    """Found by the second probe: a signed notice with "currency": "USD" paid a CNY order, and a
    repeated key counted its last value."""
    service = publish(world)
    made = order(world, world.patient_a, service["id"])
    payment = start_payment(world, world.patient_a, made["id"])
    good = event(payment["payment_id"], event_id="ev-1")
    for raw in (
        json.dumps({**good, "currency": "USD"}).encode(),
        json.dumps(good).encode()[:-1] + b', "amount_cents": 1}',
    ):
        sent = world.api.request(
            "POST",
            "/v1/payments/notify",
            body=raw,
            content_type="application/json",
            headers={"X-Medbook-Signature": sign(SECRET, raw)},
        )
        assert problem(sent, 400)["code"] == "malformed_notification"
    assert get_order(world, world.patient_a, made["id"])["status"] == "pending_payment"


def test_an_event_id_reused_for_another_payment_is_refused_not_a_repeat(world: World) -> None:
    """Found by the second probe: the id of an event already taken, sent for another payment (or
    with another status), was answered "repeat" and the second payment was dropped silently."""
    service = publish(world)
    first = order(world, world.patient_a, service["id"])
    second = order(world, world.patient_b, service["id"])
    pay_a = start_payment(world, world.patient_a, first["id"])
    pay_b = start_payment(world, world.patient_b, second["id"])
    assert ok(notify(world, event(pay_a["payment_id"], event_id="ev-x")))["outcome"] == "paid"
    reused = notify(world, event(pay_b["payment_id"], event_id="ev-x"))
    assert problem(reused, 400)["code"] == "event_id_reused"
    restated = notify(world, event(pay_a["payment_id"], event_id="ev-x", status="failed"))
    assert problem(restated, 400)["code"] == "event_id_reused"
    assert ok(notify(world, event(pay_a["payment_id"], event_id="ev-x")))["outcome"] == "repeat"
    assert get_order(world, world.patient_b, second["id"])["status"] == "pending_payment"
