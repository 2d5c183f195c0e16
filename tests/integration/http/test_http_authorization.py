"""Who may call what: every route and every kind of caller → the status they get.

The table must name every route the app serves (``test_the_matrix_covers_every_route``, which reads
the app's own router), so a new route cannot be added without deciding who may call it. Each case
also checks that no patient's appointments or notifications were read or changed by anyone but
their patient (and their doctor, who may read them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from attrs import frozen
from http_support import (
    FRIDAY,
    MAX_UPLOAD_BYTES,
    MONDAY,
    OTHER_ROUTES,
    PASSWORD,
    PDF,
    PNG,
    SATURDAY,
    SCHEDULE_BODY,
    THURSDAY,
    Account,
    World,
    fast_hasher,
    file_path,
    ok,
    openapi_path,
    resident_id,
    served_by,
    validate,
)

from medbook.adapters.memory import ManualClock
from medbook.adapters.payments.sandbox import SandboxGateway, sign
from medbook.bootstrap import Services, in_memory
from medbook.domain.chat.model import MessageKind
from medbook.entrypoints.http.app import PLAIN_ROUTES
from medbook.entrypoints.http.routes import ROUTES

#: The callers, in the order of every row's expected statuses.
CALLERS = ("anonymous", "patient_a", "patient_b", "doctor", "other_admin", "admin")
#: The sandbox gateway's key in these tests (the conftest's services have no gateway).
PAYMENT_SECRET = b"authorization-matrix-payment-secret-0123456789"


@pytest.fixture
def services(clock: ManualClock) -> Services:
    return in_memory(
        clock,
        hasher=fast_hasher(),
        max_upload_bytes=MAX_UPLOAD_BYTES,
        gateway=SandboxGateway(PAYMENT_SECRET),
    )


@frozen
class Scene:
    """The world, with patient A holding an appointment with the doctor and a notification (from
    the doctor's leave), and patient B holding an appointment in the same session and an active
    family-doctor contract with the doctor."""

    world: World
    appointment_a: int
    appointment_b: int
    notification_a: int
    file_a: str  # the path of a file patient A uploaded and sent the doctor in their chat
    conversation_a: int  # patient A's conversation with the doctor, two messages in it
    avatar: str  # the path of the doctor's avatar (a public /files/ link)
    service: int  # a home-visit service of the Shanghai hospital (the admin's)
    order_a: int  # patient A's unpaid order of it, its payment started
    payment_a: str  # that payment's id
    paid_order_a: int  # patient A's paid order of it
    contract_b: int  # patient B's active family-doctor contract with the doctor
    record_a: int  # patient A's medical record
    attachment_a: int  # a PDF attached to it
    share_a: str  # the code of patient A's share of that record
    waitlist_a: int  # patient A's waitlist entry of a full session, offered a place
    notices_a: tuple[int, ...]  # patient A's notifications, newest first (the offer, the leave)

    def caller(self, name: str) -> Account | None:
        return None if name == "anonymous" else getattr(self.world, name)


@pytest.fixture
def scene(world: World) -> Scene:
    world.book(world.patient_a, FRIDAY, "morning")
    leave = {"date": FRIDAY.isoformat(), "period": "morning"}
    ok(world.api.post("/v1/doctors/me/leave", token=world.doctor.token, json=leave), 201)
    notice = ok(world.api.get("/v1/notifications", token=world.patient_a.token))[0]
    a = world.book(world.patient_a, THURSDAY, "morning")
    b = world.book(world.patient_b, THURSDAY, "morning")
    uploaded = world.api.upload("/v1/uploads", PDF, "application/pdf", token=world.patient_a.token)
    body = {"doctor_id": world.doctor.id}
    conversation = ok(
        world.api.post("/v1/conversations", token=world.patient_a.token, json=body), 201
    )
    patient_a = world.services.accounts.authenticate(world.patient_a.token)
    world.services.chat.send_as(patient_a, conversation["id"], "c-1", MessageKind.TEXT, "Hello")
    url = ok(uploaded, 201)["url"]
    world.services.chat.send_as(patient_a, conversation["id"], "c-2", MessageKind.FILE, url)
    avatar = world.api.upload(
        "/v1/doctors/me/avatar", PNG, "image/png", method="PUT", token=world.doctor.token
    )
    service = ok(
        world.api.post(
            f"/v1/hospitals/{world.shanghai}/services", token=world.admin.token, json=_SERVICE
        ),
        201,
    )
    order_body = {"service_id": service["id"], "date": THURSDAY.isoformat(), "place": "hospital"}
    order_a = ok(world.api.post("/v1/orders", token=world.patient_a.token, json=order_body), 201)
    paid = ok(world.api.post("/v1/orders", token=world.patient_a.token, json=order_body), 201)
    payments = [
        ok(world.api.post(f"/v1/orders/{o['id']}/payment", token=world.patient_a.token), 201)
        for o in (order_a, paid)
    ]
    event = _payment_event(payments[1]["payment_id"], "ev-scene")
    raw = json.dumps(event).encode()
    world.services.orders.notify(raw, {"x-medbook-signature": sign(PAYMENT_SECRET, raw)})
    contract = ok(
        world.api.post(
            "/v1/contracts", token=world.patient_b.token, json={"doctor_id": world.doctor.id}
        ),
        201,
    )
    record = {"hospital_name": "Ruijin Hospital", "visit_date": "2026-11-20", "title": "Check-up"}
    record_a = ok(world.api.post("/v1/records", token=world.patient_a.token, json=record), 201)
    attached = world.api.upload(
        f"/v1/records/{record_a['id']}/attachments",
        PDF,
        "application/pdf",
        token=world.patient_a.token,
    )
    shared = ok(
        world.api.post(
            "/v1/record-shares", token=world.patient_a.token, json={"record_ids": [record_a["id"]]}
        ),
        201,
    )
    # A third patient fills Friday afternoon (one place), patient A waits for it, and the third
    # patient's cancellation offers patient A the place (a waitlist_offer notification).
    third = world.register_patient("Qian Feng")
    friday = world.book(third, FRIDAY, "afternoon")
    waiting = {"doctor_id": world.doctor.id, "date": FRIDAY.isoformat(), "period": "afternoon"}
    waitlist_a = ok(world.api.post("/v1/waitlist", token=world.patient_a.token, json=waiting), 201)
    ok(world.api.post(f"/v1/appointments/{friday['id']}/cancel", token=third.token))
    # Saturday afternoon (one place) is full: anyone but its holder may join its waitlist.
    world.book(third, SATURDAY, "afternoon")
    notices = ok(world.api.get("/v1/notifications", token=world.patient_a.token))
    assert [n["kind"] for n in notices] == ["waitlist_offer", "appointment_cancelled_by_leave"], (
        notices
    )
    return Scene(
        world,
        a["id"],
        b["id"],
        notice["id"],
        url,
        conversation["id"],
        file_path(ok(avatar)["avatar_url"]),
        service["id"],
        order_a["id"],
        payments[0]["payment_id"],
        paid["id"],
        contract["id"],
        record_a["id"],
        ok(attached, 201)["id"],
        shared["code"],
        waitlist_a["id"],
        tuple(n["id"] for n in notices),
    )


@frozen
class Row:
    path: Callable[[Scene], str]
    expect: tuple[int, int, int, int, int, int]  # in the order of CALLERS
    body: Callable[[Scene], Any] | None = None  # JSON
    file: tuple[str, bytes] | None = None  # a raw body: (content type, bytes)
    params: Callable[[Scene], dict[str, str]] | None = None  # the query
    signed: bool = False  # the JSON body is sent signed, as the sandbox gateway signs it


def _register(s: Scene) -> dict[str, str]:
    return {"phone": s.world.new_phone(), "name": "New Account", "password": PASSWORD}


def _booking(s: Scene) -> dict[str, Any]:
    return {"doctor_id": s.world.doctor.id, "date": MONDAY.isoformat(), "period": "morning"}


def _waiting(s: Scene) -> dict[str, Any]:
    """Saturday afternoon's waitlist (the session is full, and neither patient holds its place)."""
    return {"doctor_id": s.world.doctor.id, "date": SATURDAY.isoformat(), "period": "afternoon"}


def _fhir_booking(s: Scene) -> dict[str, Any]:
    """A proposed FHIR Appointment of patient A for the doctor's Monday morning."""
    return {
        "resourceType": "Appointment",
        "status": "proposed",
        "slot": [{"reference": f"Slot/{s.world.doctor.id}-{MONDAY:%Y%m%d}-am"}],
        "participant": [
            {"actor": {"reference": f"Patient/{s.world.patient_a.id}"}, "status": "accepted"}
        ],
    }


_SERVICE = {
    "name": "Home nursing visit",
    "price_cents": 19900,
    "capacity": 5,
    "service_radius_km": 20,
    "dates": [THURSDAY.isoformat(), FRIDAY.isoformat()],
}


def _payment_event(payment_id: str, event_id: str = "ev-matrix") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "payment_id": payment_id,
        "status": "succeeded",
        "amount_cents": 19900,
    }


_WECHAT_NOTICE = {
    "id": "EV-2018022511223320873",
    "create_time": "2026-11-25T08:31:00+08:00",
    "event_type": "TRANSACTION.SUCCESS",
    "resource_type": "encrypt-resource",
    "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext": "AAAA", "nonce": "0123456789ab"},
}
_IDENTITY = {"name": "Zhao Li", "id_number": resident_id("310104", THURSDAY.replace(1990), 24)}
ALL_200 = (200, 200, 200, 200, 200, 200)
SIGNED_IN_200 = (401, 200, 200, 200, 200, 200)
DOCTOR_ONLY = (401, 403, 403, 200, 403, 403)

#: (route path as in ROUTES, method) → how to call it, and what each caller gets.
MATRIX: dict[tuple[str, str], Row] = {
    ("/v1/patients", "POST"): Row(lambda s: "/v1/patients", (201,) * 6, _register),
    ("/v1/doctors", "POST"): Row(lambda s: "/v1/doctors", (201,) * 6, _register),
    ("/v1/sessions", "POST"): Row(
        lambda s: "/v1/sessions",
        ALL_200,
        lambda s: {"phone": s.world.paediatrician.phone, "password": PASSWORD, "role": "doctor"},
    ),
    ("/v1/me", "GET"): Row(lambda s: "/v1/me", SIGNED_IN_200),
    ("/v1/patients/me/identity", "POST"): Row(
        lambda s: "/v1/patients/me/identity", (401, 200, 200, 403, 403, 403), lambda s: _IDENTITY
    ),
    ("/v1/doctors/{doctor_id:id}/approval", "POST"): Row(
        lambda s: f"/v1/doctors/{s.world.doctor.id}/approval",
        (401, 403, 403, 403, 404, 200),
        lambda s: {"approved": True},
    ),
    ("/v1/hospitals", "GET"): Row(lambda s: "/v1/hospitals", ALL_200),
    ("/v1/hospitals/{hospital_id:id}/departments", "GET"): Row(
        lambda s: f"/v1/hospitals/{s.world.shanghai}/departments", ALL_200
    ),
    ("/v1/hospitals/{hospital_id:id}/departments", "POST"): Row(
        lambda s: f"/v1/hospitals/{s.world.shanghai}/departments",
        (401, 403, 403, 403, 403, 201),
        lambda s: {"name": "Neurology", "description": "Brain and nerves"},
    ),
    ("/v1/hospitals/{hospital_id:id}/doctors", "GET"): Row(
        lambda s: f"/v1/hospitals/{s.world.shanghai}/doctors", (401, 403, 403, 403, 403, 200)
    ),
    ("/v1/departments/{department_id:id}/doctors", "GET"): Row(
        lambda s: f"/v1/departments/{s.world.cardiology}/doctors", ALL_200
    ),
    ("/v1/doctors/{doctor_id:id}", "GET"): Row(
        lambda s: f"/v1/doctors/{s.world.doctor.id}", ALL_200
    ),
    ("/v1/doctors/me", "PATCH"): Row(
        lambda s: "/v1/doctors/me", DOCTOR_ONLY, lambda s: {"specialty": "heart failure"}
    ),
    ("/v1/doctors/me/schedule", "PUT"): Row(
        lambda s: "/v1/doctors/me/schedule", DOCTOR_ONLY, lambda s: SCHEDULE_BODY
    ),
    ("/v1/doctors/me/avatar", "PUT"): Row(
        lambda s: "/v1/doctors/me/avatar", DOCTOR_ONLY, file=("image/png", PNG)
    ),
    ("/v1/uploads", "POST"): Row(
        lambda s: "/v1/uploads", (401, 201, 201, 201, 201, 201), file=("image/png", PNG)
    ),
    ("/v1/doctors/me/leave", "POST"): Row(
        lambda s: "/v1/doctors/me/leave",
        (401, 403, 403, 201, 403, 403),
        lambda s: {"date": SATURDAY.isoformat(), "period": "morning"},
    ),
    ("/v1/doctors/{doctor_id:id}/sessions", "GET"): Row(
        lambda s: f"/v1/doctors/{s.world.doctor.id}/sessions", ALL_200
    ),
    ("/v1/appointments", "POST"): Row(
        lambda s: "/v1/appointments", (401, 201, 201, 403, 403, 403), _booking
    ),
    ("/v1/appointments", "GET"): Row(lambda s: "/v1/appointments", (401, 200, 200, 200, 403, 403)),
    ("/v1/appointments/{appointment_id:id}", "GET"): Row(
        lambda s: f"/v1/appointments/{s.appointment_a}", (401, 200, 404, 200, 403, 403)
    ),
    # Before the session starts: the doctor and their hospital's admin pass the authorization and
    # are refused for the time (422 session_not_started); no one else finds the appointment.
    ("/v1/appointments/{appointment_id:id}/attendance", "POST"): Row(
        lambda s: f"/v1/appointments/{s.appointment_a}/attendance",
        (401, 403, 403, 422, 404, 422),
        body=lambda s: {"attended": False},
    ),
    ("/v1/hospitals/{hospital_id:id}/policy", "GET"): Row(
        lambda s: f"/v1/hospitals/{s.world.shanghai}/policy", ALL_200
    ),
    ("/v1/hospitals/{hospital_id:id}/policy", "PUT"): Row(
        lambda s: f"/v1/hospitals/{s.world.shanghai}/policy",
        (401, 403, 403, 403, 403, 200),
        body=lambda s: {"reminders": None, "no_shows": None},
    ),
    ("/v1/appointments/{appointment_id:id}/cancel", "POST"): Row(
        lambda s: f"/v1/appointments/{s.appointment_a}/cancel", (401, 200, 404, 403, 403, 403)
    ),
    # Waitlists are their patient's alone: another patient is told no entry exists (404);
    # doctors and admins are refused by role (403). Patient A's entry holds an open offer.
    ("/v1/waitlist", "POST"): Row(
        lambda s: "/v1/waitlist", (401, 201, 201, 403, 403, 403), _waiting
    ),
    ("/v1/waitlist", "GET"): Row(lambda s: "/v1/waitlist", (401, 200, 200, 403, 403, 403)),
    ("/v1/waitlist/{entry_id:id}", "GET"): Row(
        lambda s: f"/v1/waitlist/{s.waitlist_a}", (401, 200, 404, 403, 403, 403)
    ),
    ("/v1/waitlist/{entry_id:id}", "DELETE"): Row(
        lambda s: f"/v1/waitlist/{s.waitlist_a}", (401, 200, 404, 403, 403, 403)
    ),
    ("/v1/waitlist/{entry_id:id}/accept", "POST"): Row(
        lambda s: f"/v1/waitlist/{s.waitlist_a}/accept", (401, 201, 404, 403, 403, 403)
    ),
    ("/v1/notifications", "GET"): Row(lambda s: "/v1/notifications", SIGNED_IN_200),
    ("/v1/notifications/{notification_id:id}/read", "POST"): Row(
        lambda s: f"/v1/notifications/{s.notification_a}/read", (401, 200, 404, 404, 404, 404)
    ),
    # Patients A and B both hold an appointment with the doctor: each may start a conversation.
    ("/v1/conversations", "POST"): Row(
        lambda s: "/v1/conversations",
        (401, 200, 201, 403, 403, 403),
        lambda s: {"doctor_id": s.world.doctor.id},
    ),
    ("/v1/conversations", "GET"): Row(
        lambda s: "/v1/conversations", (401, 200, 200, 200, 403, 403)
    ),
    ("/v1/conversations/{conversation_id:id}/messages", "GET"): Row(
        lambda s: f"/v1/conversations/{s.conversation_a}/messages", (401, 200, 404, 200, 404, 404)
    ),
    # Home-visit services and orders: services are public, publishing is the hospital's admin's;
    # an order is its patient's and its hospital's admin's, and hidden from everyone else (404).
    ("/v1/hospitals/{hospital_id:id}/services", "POST"): Row(
        lambda s: f"/v1/hospitals/{s.world.shanghai}/services",
        (401, 403, 403, 403, 403, 201),
        lambda s: _SERVICE,
    ),
    ("/v1/hospitals/{hospital_id:id}/services", "GET"): Row(
        lambda s: f"/v1/hospitals/{s.world.shanghai}/services", ALL_200
    ),
    ("/v1/services", "GET"): Row(
        lambda s: "/v1/services", ALL_200, params=lambda s: {"lat": "31.25", "lng": "121.47"}
    ),
    ("/v1/services/{service_id:id}", "GET"): Row(lambda s: f"/v1/services/{s.service}", ALL_200),
    ("/v1/orders", "POST"): Row(
        lambda s: "/v1/orders",
        (401, 201, 201, 403, 403, 403),
        lambda s: {"service_id": s.service, "date": FRIDAY.isoformat(), "place": "hospital"},
    ),
    ("/v1/orders", "GET"): Row(lambda s: "/v1/orders", (401, 200, 200, 403, 200, 200)),
    ("/v1/orders/{order_id:id}", "GET"): Row(
        lambda s: f"/v1/orders/{s.order_a}", (401, 200, 404, 404, 404, 200)
    ),
    ("/v1/orders/{order_id:id}/payment", "POST"): Row(
        lambda s: f"/v1/orders/{s.order_a}/payment", (401, 201, 404, 403, 403, 403)
    ),
    ("/v1/orders/{order_id:id}/cancel", "POST"): Row(
        lambda s: f"/v1/orders/{s.order_a}/cancel", (401, 200, 404, 403, 404, 200)
    ),
    ("/v1/orders/{order_id:id}/complete", "POST"): Row(
        lambda s: f"/v1/orders/{s.paid_order_a}/complete", (401, 403, 403, 403, 404, 200)
    ),
    # The gateway's notifications carry no token: a signed one is taken from whoever sends it
    # (a token changes nothing); WeChat's route answers 404 while the sandbox is the gateway.
    ("/v1/payments/notify", "POST"): Row(
        lambda s: "/v1/payments/notify",
        ALL_200,
        lambda s: _payment_event(s.payment_a),
        signed=True,
    ),
    ("/v1/payments/wechat/notify", "POST"): Row(
        lambda s: "/v1/payments/wechat/notify", (404,) * 6, lambda s: _WECHAT_NOTICE
    ),
    # Family-doctor contracts: patients sign (the paediatrician: neither patient has signed
    # them), patients and doctors list their own; a contract is its two parties' to end, and
    # hidden from everyone else (404) but admins, whom the role check refuses first (403).
    # Patient B's contract with the doctor is ended here, so patient A's notifications stay.
    ("/v1/contracts", "POST"): Row(
        lambda s: "/v1/contracts",
        (401, 201, 201, 403, 403, 403),
        lambda s: {"doctor_id": s.world.paediatrician.id},
    ),
    ("/v1/contracts", "GET"): Row(
        lambda s: "/v1/contracts",
        (401, 200, 200, 200, 403, 403),
        params=lambda s: {"include_ended": "true"},
    ),
    ("/v1/contracts/{contract_id:id}/end", "POST"): Row(
        lambda s: f"/v1/contracts/{s.contract_b}/end", (401, 404, 200, 200, 403, 403)
    ),
    # The health file: each patient records and reads their own vital signs; a doctor reads a
    # patient's only under an active contract (the doctor has one with patient B), and that read
    # lands in patient B's access log; admins read nobody's.
    ("/v1/vitals", "POST"): Row(
        lambda s: "/v1/vitals",
        (401, 201, 201, 403, 403, 403),
        lambda s: {
            "kind": "blood_pressure",
            "values": {"systolic": 128, "diastolic": 82},
            "measured_at": "2026-11-25T07:00:00+08:00",
        },
    ),
    ("/v1/vitals", "GET"): Row(
        lambda s: "/v1/vitals",
        (401, 403, 200, 200, 403, 403),
        params=lambda s: {"patient_id": str(s.world.patient_b.id)},
    ),
    # Medical records are their patient's alone: another patient is told nothing exists (404);
    # doctors and admins are refused by role (403), whatever the record.
    ("/v1/records", "POST"): Row(
        lambda s: "/v1/records",
        (401, 201, 201, 403, 403, 403),
        lambda s: {"hospital_name": "Huashan", "visit_date": "2026-11-21", "title": "X-ray"},
    ),
    ("/v1/records", "GET"): Row(lambda s: "/v1/records", (401, 200, 200, 403, 403, 403)),
    ("/v1/records/{record_id:id}", "GET"): Row(
        lambda s: f"/v1/records/{s.record_a}", (401, 200, 404, 403, 403, 403)
    ),
    ("/v1/records/{record_id:id}", "PATCH"): Row(
        lambda s: f"/v1/records/{s.record_a}",
        (401, 200, 404, 403, 403, 403),
        lambda s: {"notes": "Follow up in a month"},
    ),
    ("/v1/records/{record_id:id}", "DELETE"): Row(
        lambda s: f"/v1/records/{s.record_a}", (401, 204, 404, 403, 403, 403)
    ),
    ("/v1/records/{record_id:id}/attachments", "POST"): Row(
        lambda s: f"/v1/records/{s.record_a}/attachments",
        (401, 201, 404, 403, 403, 403),
        file=("image/png", PNG),
    ),
    ("/v1/records/{record_id:id}/attachments/{attachment_id:id}", "GET"): Row(
        lambda s: f"/v1/records/{s.record_a}/attachments/{s.attachment_a}",
        (401, 200, 404, 403, 403, 403),
    ),
    ("/v1/records/{record_id:id}/attachments/{attachment_id:id}", "DELETE"): Row(
        lambda s: f"/v1/records/{s.record_a}/attachments/{s.attachment_a}",
        (401, 204, 404, 403, 403, 403),
    ),
    # Shares: a patient shares their own records and alone draws or revokes a share's QR code
    # (another patient: 404); verified doctors open shares, nobody else (403).
    ("/v1/record-shares", "POST"): Row(
        lambda s: "/v1/record-shares",
        (401, 201, 201, 403, 403, 403),
        lambda s: {"all": True},
    ),
    ("/v1/record-shares/{code}/qr.png", "GET"): Row(
        lambda s: f"/v1/record-shares/{s.share_a}/qr.png", (401, 200, 404, 403, 403, 403)
    ),
    ("/v1/record-shares/{code}", "DELETE"): Row(
        lambda s: f"/v1/record-shares/{s.share_a}", (401, 204, 404, 403, 403, 403)
    ),
    ("/v1/shared-records/{code}", "GET"): Row(
        lambda s: f"/v1/shared-records/{s.share_a}", (401, 403, 403, 200, 403, 403)
    ),
    ("/v1/shared-records/{code}/attachments/{attachment_id:id}", "GET"): Row(
        lambda s: f"/v1/shared-records/{s.share_a}/attachments/{s.attachment_a}",
        (401, 403, 403, 200, 403, 403),
    ),
    ("/v1/diet-recommendations", "GET"): Row(
        lambda s: "/v1/diet-recommendations",
        (401, 200, 200, 403, 403, 403),
        params=lambda s: {"height_cm": "170"},
    ),
    ("/v1/records/access-log", "GET"): Row(
        lambda s: "/v1/records/access-log", (401, 200, 200, 403, 403, 403)
    ),
    # Calendar feeds: patients and doctors keep one each (admins have no appointments); the feed
    # (here patient A's) is for whoever holds its URL, whose token is the secret: no login.
    ("/v1/me/calendar-feed", "POST"): Row(
        lambda s: "/v1/me/calendar-feed", (401, 201, 201, 201, 403, 403)
    ),
    ("/v1/me/calendar-feed", "DELETE"): Row(
        lambda s: "/v1/me/calendar-feed", (401, 204, 204, 204, 403, 403)
    ),
    ("/v1/calendar-feeds/{token}", "GET"): Row(
        lambda s: (
            s.world.services.calendar.create_feed_as(
                s.world.services.accounts.authenticate(s.world.patient_a.token)
            ).url
        ),
        ALL_200,
    ),
    ("/healthz", "GET"): Row(lambda s: "/healthz", ALL_200),
    # FHIR R4: one interaction each here; tests/integration/fhir/test_fhir_authorization.py has
    # every resource type's.
    ("/fhir/R4/metadata", "GET"): Row(lambda s: "/fhir/R4/metadata", ALL_200),
    ("/fhir/R4/{resource_type}", "GET"): Row(
        lambda s: "/fhir/R4/Appointment",
        (401, 200, 403, 200, 403, 403),
        params=lambda s: {"patient": f"Patient/{s.world.patient_a.id}"},
    ),
    ("/fhir/R4/{resource_type}", "POST"): Row(
        lambda s: "/fhir/R4/Appointment", (401, 201, 403, 403, 403, 403), body=_fhir_booking
    ),
    ("/fhir/R4/{resource_type}/{resource_id}", "GET"): Row(
        lambda s: f"/fhir/R4/Patient/{s.world.patient_b.id}", (401, 404, 200, 200, 403, 403)
    ),
    # The web client's page and files: the same for everyone (what it shows comes from the API).
    ("/", "GET"): Row(lambda s: "/", ALL_200),
    ("/web/{name:path}", "GET"): Row(lambda s: "/web/app.js", ALL_200),
    ("/readyz", "GET"): Row(lambda s: "/readyz", ALL_200),
    ("/v1/openapi.json", "GET"): Row(lambda s: "/v1/openapi.json", ALL_200),
    # By address or token, never by role: this client is on loopback, so internal
    # (test_observability.py and test_http_observability.py check the refusals).
    ("/metrics", "GET"): Row(lambda s: "/metrics", ALL_200),
    # Public files (avatars) are served to whoever has their URL, as a bucket would; uploads
    # never are (test_http_files.py): only to their uploader and whom they were shared with.
    ("/files/{key:path}", "GET"): Row(lambda s: s.avatar, ALL_200),
    ("/v1/uploads/{year}/{month}/{name}", "GET"): Row(
        lambda s: s.file_a, (401, 200, 404, 200, 404, 404)
    ),
}


def test_the_matrix_covers_every_route(world: World) -> None:
    served = served_by(world.api.client.app)
    listed = {(route.path, method) for route in ROUTES for method in route.operations}
    listed |= {(path, method) for path, method, _ in PLAIN_ROUTES} | set(OTHER_ROUTES)

    assert served == listed, "the tests' list of routes is not what the app's router holds"
    missing = served - set(MATRIX)
    stale = set(MATRIX) - served
    assert not missing, f"routes with no row in the authorization matrix: {sorted(missing)}"
    assert not stale, f"rows for routes the app does not serve: {sorted(stale)}"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("path", "method"), list(MATRIX), ids=[f"{m} {p}" for p, m in MATRIX])
def test_who_may_call_what(scene: Scene, path: str, method: str, caller: str) -> None:
    row = MATRIX[(path, method)]
    account = scene.caller(caller)
    world = scene.world

    body = row.body(scene) if row.body else None
    headers: dict[str, str] = {}
    if row.signed:
        raw = json.dumps(body).encode()
        headers["X-Medbook-Signature"] = sign(PAYMENT_SECRET, raw)
        body, file = None, ("application/json", raw)
    else:
        file = row.file
    result = world.api.request(
        method,
        row.path(scene),
        token=account.token if account else None,
        json=body,
        content_type=file[0] if file else None,
        body=file[1] if file else None,
        params=row.params(scene) if row.params else None,
        headers=headers,
    )

    expected = row.expect[CALLERS.index(caller)]
    assert result.status_code == expected, f"{caller}: {method} {path} → {result.status}"
    # Files are bytes: read leniently, so that a name or phone in one shows all the same.
    _assert_private_data_kept(scene, caller, result.content.decode("utf-8", "replace"))
    if (path, method) != ("/v1/contracts/{contract_id:id}/end", "POST") or expected != 200:
        b_contracts = ok(world.api.get("/v1/contracts", token=world.patient_b.token))
        assert scene.contract_b in [c["id"] for c in b_contracts], f"{caller} ended it"


def _assert_private_data_kept(scene: Scene, caller: str, answer: str) -> None:
    """No one but a patient (and their doctor) saw or changed that patient's appointments and
    notifications."""
    world = scene.world
    for patient in (world.patient_a, world.patient_b):
        own = caller == _name_of(world, patient)
        if not own and caller != "doctor":
            assert patient.phone not in answer, f"{caller} saw {patient.name}'s phone"
            assert patient.name not in answer, f"{caller} saw {patient.name}'s name"
    if caller != "patient_a":
        a_sees = world.api.get(
            f"/v1/appointments/{scene.appointment_a}", token=world.patient_a.token
        )
        assert ok(a_sees)["status"] == "booked"
        notices = ok(world.api.get("/v1/notifications", token=world.patient_a.token))
        # A doctor opening patient A's share tells patient A so (record_share_opened): that
        # notice is the point of the share's audit, not a change of patient A's data.
        kept = [n for n in notices if n["kind"] != "record_share_opened"]
        assert [(n["id"], n["read"]) for n in kept] == [(n, False) for n in scene.notices_a]
        entry = ok(world.api.get(f"/v1/waitlist/{scene.waitlist_a}", token=world.patient_a.token))
        assert entry["status"] == "offered", f"{caller} changed patient A's waitlist entry"
    b_sees = world.api.get(f"/v1/appointments/{scene.appointment_b}", token=world.patient_b.token)
    assert ok(b_sees)["status"] == "booked"


def _name_of(world: World, patient: Account) -> str:
    return "patient_a" if patient is world.patient_a else "patient_b"


def test_patient_b_never_sees_patient_as_appointments_or_notifications(scene: Scene) -> None:
    world = scene.world
    b = world.patient_b.token

    listed = ok(world.api.get("/v1/appointments", token=b))
    on_thursday = ok(world.api.get("/v1/appointments", token=b, params={"date": "2026-11-26"}))
    notices = ok(world.api.get("/v1/notifications", token=b))

    assert [x["id"] for x in listed] == [scene.appointment_b]
    assert [x["id"] for x in on_thursday] == [scene.appointment_b]
    assert notices == []
    for method, path in (
        ("GET", f"/v1/appointments/{scene.appointment_a}"),
        ("POST", f"/v1/appointments/{scene.appointment_a}/cancel"),
        ("POST", f"/v1/notifications/{scene.notification_a}/read"),
    ):
        assert world.api.request(method, path, token=b).status_code == 404
    a_sees = ok(
        world.api.get(f"/v1/appointments/{scene.appointment_a}", token=world.patient_a.token)
    )
    assert a_sees["status"] == "booked"


def test_every_body_in_the_matrix_fits_the_documented_request_schema(
    scene: Scene, openapi_document: dict[str, Any]
) -> None:
    for (path, method), row in MATRIX.items():
        declared = openapi_document["paths"][openapi_path(path)][method.lower()]
        if row.body is not None:
            schema = declared["requestBody"]["content"]["application/json"]["schema"]
            validate(row.body(scene), schema, openapi_document)
        elif row.file is not None:
            content_type, data = row.file
            schema = declared["requestBody"]["content"][content_type]["schema"]
            validate(data, schema, openapi_document)
        else:
            assert "requestBody" not in declared, f"{method} {path} takes a body: send one"
