"""End to end over real HTTP against ``medbook serve`` (gunicorn, two workers): one flow per
section of the contract (/work/shared/API.md), on the demo server (SQLite) and on MariaDB.
"""

from __future__ import annotations

import datetime as dt
import secrets
import struct
import zlib
from typing import Any

import pytest
from e2e_support import BEIJING, SHANGHAI, Deployment, HttpClient

PROBLEM = "application/problem+json"
#: The specimen number of GB 11643-1999: born 1949-12-31, sequence 002 (even: female).
ID_NUMBER = "11010519491231002X"


def assert_problem(reply: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert reply.status == status, reply
    assert reply.content_type == PROBLEM, reply
    body: dict[str, Any] = reply.body
    assert body["status"] == status
    assert body["title"] and isinstance(body["detail"], str)
    if code is not None:
        assert body.get("code") == code, body
    return body


def a_later_session(http: HttpClient, doctor_id: int) -> dict[str, Any]:
    """An offered session at least two days ahead (never one that could start mid-test)."""
    sessions = http.expect(200, "GET", f"/v1/doctors/{doctor_id}/sessions")
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    later = [s for s in sessions if dt.date.fromisoformat(s["date"]) >= soon and s["remaining"]]
    assert later, f"doctor {doctor_id} offers nothing bookable: {sessions}"
    return later[0]


# --- operations ----------------------------------------------------------------------------------


def test_health_readiness_and_the_openapi_document(deployment: Deployment) -> None:
    http = deployment.http
    assert http.expect(200, "GET", "/healthz") == {"status": "ok"}
    assert http.expect(200, "GET", "/readyz")["status"] == "ready"
    spec = http.expect(200, "GET", "/v1/openapi.json")
    assert spec["openapi"].startswith("3.1")
    for path in (
        "/v1/patients",
        "/v1/doctors",
        "/v1/sessions",
        "/v1/me",
        "/v1/patients/me/identity",
        "/v1/doctors/{doctor_id}/approval",
        "/v1/hospitals",
        "/v1/hospitals/{hospital_id}/departments",
        "/v1/departments/{department_id}/doctors",
        "/v1/doctors/{doctor_id}",
        "/v1/doctors/me",
        "/v1/doctors/me/schedule",
        "/v1/doctors/me/leave",
        "/v1/doctors/{doctor_id}/sessions",
        "/v1/appointments",
        "/v1/appointments/{appointment_id}/cancel",
        "/v1/notifications",
        "/v1/notifications/{notification_id}/read",
    ):
        assert path in spec["paths"], path


# --- accounts ------------------------------------------------------------------------------------


def test_a_patient_registers_logs_in_sees_themselves_and_verifies_their_identity(
    deployment: Deployment,
) -> None:
    http = deployment.http
    phone = deployment.new_phone()
    body = {"phone": phone, "name": "Zhao Min", "password": "a good passphrase"}
    created = http.expect(201, "POST", "/v1/patients", body)
    assert created == {"id": created["id"], "phone": phone, "name": "Zhao Min"}
    assert_problem(http.post("/v1/patients", body), 409, "phone_taken")

    wrong = http.post(
        "/v1/sessions", {"phone": phone, "password": "not it at all", "role": "patient"}
    )
    assert_problem(wrong, 401)
    logged_in = http.expect(
        200,
        "POST",
        "/v1/sessions",
        {"phone": phone, "password": body["password"], "role": "patient"},
    )
    assert {"id", "name", "role", "token", "avatar_url"} <= logged_in.keys()
    assert (logged_in["id"], logged_in["name"], logged_in["role"]) == (
        created["id"],
        "Zhao Min",
        "patient",
    )
    token = logged_in["token"]

    me = http.expect(200, "GET", "/v1/me", token=token)
    assert (me["id"], me["role"], me["phone"], me["name"]) == (
        created["id"],
        "patient",
        phone,
        "Zhao Min",
    )
    assert me["identity_verified"] is False

    bad = assert_problem(
        http.post(
            "/v1/patients/me/identity",
            {"name": "Zhao Min", "id_number": "110105194912310021"},
            token=token,
        ),
        422,
    )
    assert bad["errors"] and all({"field", "message"} <= e.keys() for e in bad["errors"])
    verified = http.expect(
        200,
        "POST",
        "/v1/patients/me/identity",
        {"name": "Zhao Min", "id_number": ID_NUMBER},
        token=token,
    )
    today = dt.datetime.now(dt.UTC).date()
    assert verified["verified"] is True
    assert (verified["birth_date"], verified["sex"]) == ("1949-12-31", "female")
    assert verified["age"] in {today.year - 1950, today.year - 1949}
    me = http.expect(200, "GET", "/v1/me", token=token)
    assert (me["identity_verified"], me["birth_date"], me["sex"]) == (True, "1949-12-31", "female")


def test_registration_is_validated_field_by_field(deployment: Deployment) -> None:
    http = deployment.http
    reply = http.post("/v1/patients", {"phone": "12345", "name": "X", "password": "short"})
    fields = {e["field"] for e in assert_problem(reply, 422)["errors"]}
    assert fields & {"phone", "password"}, fields
    missing = assert_problem(http.post("/v1/patients", {"phone": deployment.new_phone()}), 422)
    assert {e["field"] for e in missing["errors"]} >= {"name", "password"}
    malformed = http.call(
        "POST", "/v1/patients", data=b'{"phone": ', headers={"Content-Type": "application/json"}
    )
    assert_problem(malformed, 400)


def test_a_doctor_registers_unverified(deployment: Deployment) -> None:
    phone = deployment.new_phone()
    body = {"phone": phone, "name": "Sun Li", "password": "a good passphrase"}
    created = deployment.http.expect(201, "POST", "/v1/doctors", body)
    assert created == {"id": created["id"], "phone": phone, "name": "Sun Li", "verified": False}
    token = deployment.http.login(phone, body["password"], "doctor")
    me = deployment.http.expect(200, "GET", "/v1/me", token=token)
    assert (me["role"], me["id"]) == ("doctor", created["id"])


@pytest.mark.parametrize("token", [None, "not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"])
def test_without_a_valid_token_the_api_answers_401(
    deployment: Deployment, token: str | None
) -> None:
    reply = deployment.http.get("/v1/me", token=token)
    assert_problem(reply, 401)
    assert reply.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_the_operators_admin_logs_in_bound_to_their_hospital(deployment: Deployment) -> None:
    me = deployment.http.expect(200, "GET", "/v1/me", token=deployment.admin_token())
    assert (me["role"], me["hospital_id"]) == ("admin", deployment.hospitals[BEIJING[0]])


# --- directory -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("here", "nearest"), [((31.23, 121.47), SHANGHAI[0]), ((39.90, 116.40), BEIJING[0])]
)
def test_hospitals_come_nearest_first(
    deployment: Deployment, here: tuple[float, float], nearest: str
) -> None:
    listed = deployment.http.expect(200, "GET", f"/v1/hospitals?lat={here[0]}&lng={here[1]}")
    ours = [h for h in listed if h["name"] in (BEIJING[0], SHANGHAI[0])]
    assert ours[0]["name"] == nearest
    distances = [h["distance_km"] for h in listed if h["distance_km"] is not None]
    assert distances == sorted(distances)
    assert {"id", "name", "address", "lat", "lng"} <= listed[0].keys()
    assert_problem(deployment.http.get("/v1/hospitals?lat=north&lng=1"), 422)


def test_an_admin_adds_a_department_only_to_their_own_hospital(deployment: Deployment) -> None:
    http = deployment.http
    beijing, shanghai = deployment.hospitals[BEIJING[0]], deployment.hospitals[SHANGHAI[0]]
    body = {"name": "Dermatology", "description": "skin"}
    created = http.expect(
        201, "POST", f"/v1/hospitals/{beijing}/departments", body, token=deployment.admin_token()
    )
    listed = http.expect(200, "GET", f"/v1/hospitals/{beijing}/departments")
    assert {"id": created["id"], "name": "Dermatology", "description": "skin"}.items() <= next(
        d for d in listed if d["id"] == created["id"]
    ).items()
    other = http.post(f"/v1/hospitals/{shanghai}/departments", body, token=deployment.admin_token())
    assert_problem(other, 403)
    patient = deployment.register("patient")
    assert_problem(
        http.post(f"/v1/hospitals/{beijing}/departments", body, token=patient.token), 403
    )
    assert_problem(http.post(f"/v1/hospitals/{beijing}/departments", body), 401)


def test_a_doctor_joins_a_department_is_approved_and_publishes_a_schedule(
    deployment: Deployment,
) -> None:
    http = deployment.http
    beijing, shanghai = deployment.hospitals[BEIJING[0]], deployment.hospitals[SHANGHAI[0]]
    department = deployment.new_department("Neurology")
    doctor = deployment.register("doctor", "Qian Hao")

    elsewhere = http.call(
        "PATCH",
        "/v1/doctors/me",
        {"hospital_id": shanghai, "department_id": department},
        token=doctor.token,
    )
    assert "department_id" in {e["field"] for e in assert_problem(elsewhere, 422)["errors"]}
    profile = http.expect(
        200,
        "PATCH",
        "/v1/doctors/me",
        {
            "hospital_id": beijing,
            "department_id": department,
            "rank": "attending",
            "specialty": "headache",
            "gender": "male",
            "staff_number": "N-17",
        },
        token=doctor.token,
    )
    assert (profile["hospital_id"], profile["department_id"], profile["verified"]) == (
        beijing,
        department,
        False,
    )

    assert_problem(http.get(f"/v1/doctors/{doctor.id}"), 404)
    assert http.expect(200, "GET", f"/v1/departments/{department}/doctors") == []
    patient = deployment.register("patient")
    assert_problem(
        http.post(f"/v1/doctors/{doctor.id}/approval", {"approved": True}, token=patient.token), 403
    )
    approved = http.expect(
        200,
        "POST",
        f"/v1/doctors/{doctor.id}/approval",
        {"approved": True},
        token=deployment.admin_token(),
    )
    assert approved["verified"] is True

    schedule = {day: {"morning": 12, "afternoon": 0} for day in ("monday", "tuesday", "wednesday")}
    schedule |= {day: {"morning": 0, "afternoon": 8} for day in ("thursday", "friday")}
    schedule |= {day: {"morning": 0, "afternoon": 0} for day in ("saturday", "sunday")}
    assert (
        http.expect(200, "PUT", "/v1/doctors/me/schedule", schedule, token=doctor.token) == schedule
    )

    public = http.expect(200, "GET", f"/v1/doctors/{doctor.id}")
    assert public["name"] == "Qian Hao"
    assert (public["hospital"], public["department"]) == (BEIJING[0], "Neurology")
    assert (public["rank"], public["specialty"], public["schedule"]) == (
        "attending",
        "headache",
        schedule,
    )
    listed = http.expect(200, "GET", f"/v1/departments/{department}/doctors")
    assert [(d["id"], d["name"], d["rank"], d["specialty"]) for d in listed] == [
        (doctor.id, "Qian Hao", "attending", "headache")
    ]
    sessions = http.expect(200, "GET", f"/v1/doctors/{doctor.id}/sessions")
    assert sessions and all(
        (s["period"], s["quota"]) in {("morning", 12), ("afternoon", 8)} for s in sessions
    )
    assert_problem(http.call("PUT", "/v1/doctors/me/schedule", schedule, token=patient.token), 403)


# --- booking -------------------------------------------------------------------------------------


def test_a_patient_books_lists_and_cancels(deployment: Deployment) -> None:
    """The README's walkthrough: log in, see a doctor's sessions, book, list, cancel."""
    http = deployment.http
    doctor, _ = deployment.verified_doctor(quota=5, name="Zhou Yi")
    patient = deployment.register("patient", "Wu Lei")
    session = a_later_session(http, doctor.id)
    wanted = {"doctor_id": doctor.id, "date": session["date"], "period": session["period"]}

    booked = http.expect(201, "POST", "/v1/appointments", wanted, token=patient.token)
    assert booked["status"] == "booked"
    assert (booked["patient_name"], booked["patient_phone"], booked["doctor_name"]) == (
        "Wu Lei",
        patient.phone,
        "Zhou Yi",
    )
    assert (booked["hospital"], booked["date"], booked["period"], booked["number"]) == (
        BEIJING[0],
        session["date"],
        session["period"],
        1,
    )
    assert booked["department"]
    assert_problem(
        http.post("/v1/appointments", wanted, token=patient.token), 409, "already_booked"
    )

    after = http.expect(
        200, "GET", f"/v1/doctors/{doctor.id}/sessions?from={session['date']}&to={session['date']}"
    )
    assert (
        next(s for s in after if s["period"] == session["period"])["remaining"]
        == session["remaining"] - 1
    )

    mine = http.expect(200, "GET", "/v1/appointments", token=patient.token)
    assert [a["id"] for a in mine] == [booked["id"]]
    assert (
        http.expect(200, "GET", f"/v1/appointments?date={session['date']}", token=patient.token)
        == mine
    )
    theirs = http.expect(200, "GET", "/v1/appointments", token=doctor.token)
    assert [a["id"] for a in theirs] == [booked["id"]]

    stranger = deployment.register("patient")
    assert http.post(f"/v1/appointments/{booked['id']}/cancel", token=stranger.token).status in {
        403,
        404,
    }
    cancelled = http.expect(
        200, "POST", f"/v1/appointments/{booked['id']}/cancel", token=patient.token
    )
    assert cancelled["status"] == "cancelled"
    assert_problem(http.post(f"/v1/appointments/{booked['id']}/cancel", token=patient.token), 409)
    again = http.expect(
        200, "GET", f"/v1/doctors/{doctor.id}/sessions?from={session['date']}&to={session['date']}"
    )
    assert (
        next(s for s in again if s["period"] == session["period"])["remaining"]
        == session["remaining"]
    )


def test_a_full_session_answers_409_session_full(deployment: Deployment) -> None:
    http = deployment.http
    doctor, _ = deployment.verified_doctor(quota=1)
    session = a_later_session(http, doctor.id)
    wanted = {"doctor_id": doctor.id, "date": session["date"], "period": session["period"]}
    first, second = deployment.register("patient"), deployment.register("patient")
    assert http.expect(201, "POST", "/v1/appointments", wanted, token=first.token)["number"] == 1
    assert_problem(http.post("/v1/appointments", wanted, token=second.token), 409, "session_full")


def test_booking_outside_the_offer_is_refused(deployment: Deployment) -> None:
    http = deployment.http
    doctor, _ = deployment.verified_doctor()
    patient = deployment.register("patient")
    today = dt.datetime.now(dt.UTC).date()
    for date in (today - dt.timedelta(days=3), today + dt.timedelta(days=60)):
        wanted = {"doctor_id": doctor.id, "date": date.isoformat(), "period": "morning"}
        assert_problem(http.post("/v1/appointments", wanted, token=patient.token), 422)
    nonsense = {"doctor_id": doctor.id, "date": "tomorrow", "period": "evening"}
    fields = {
        e["field"]
        for e in assert_problem(http.post("/v1/appointments", nonsense, token=patient.token), 422)[
            "errors"
        ]
    }
    assert fields >= {"date", "period"}, fields
    assert_problem(http.post("/v1/appointments", {"doctor_id": doctor.id}), 401)


def test_the_readme_walkthrough_with_curl(demo_server: Any) -> None:
    """README, "A walk through the API with curl", call by call, on ``medbook serve --demo``."""
    http = HttpClient(demo_server.base_url)
    http.expect(
        201,
        "POST",
        "/v1/patients",
        {"phone": "13912345678", "name": "Li Lei", "password": "a long passphrase"},
    )
    token = http.login("13912345678", "a long passphrase", "patient")
    assert http.expect(200, "GET", "/v1/hospitals")
    assert http.expect(200, "GET", "/v1/hospitals/1/departments")
    assert http.expect(200, "GET", "/v1/departments/1/doctors")
    first = http.expect(200, "GET", "/v1/doctors/1/sessions")[0]
    booked = http.expect(
        201,
        "POST",
        "/v1/appointments",
        {"doctor_id": 1, "date": first["date"], "period": first["period"]},
        token=token,
    )
    assert [a["id"] for a in http.expect(200, "GET", "/v1/appointments", token=token)] == [
        booked["id"]
    ]
    cancelled = http.expect(200, "POST", f"/v1/appointments/{booked['id']}/cancel", token=token)
    assert cancelled["status"] == "cancelled"


def test_the_demo_patient_books_a_demo_doctor(demo_server: Any, demo_patient: Any) -> None:
    """``medbook serve --demo`` as a newcomer meets it: the printed patient login works at once."""
    http = HttpClient(demo_server.base_url)
    out = demo_server.stdout_path.read_text()
    assert demo_patient.phone in out and "/v1/sessions" in out
    token = http.login(demo_patient.phone, demo_patient.password, "patient")
    beijing = next(h for h in http.expect(200, "GET", "/v1/hospitals") if h["name"] == BEIJING[0])
    cardiology = next(
        d
        for d in http.expect(200, "GET", f"/v1/hospitals/{beijing['id']}/departments")
        if d["name"] == "Cardiology"
    )
    doctors = http.expect(200, "GET", f"/v1/departments/{cardiology['id']}/doctors")
    assert {d["name"] for d in doctors} == {"Zhang Wei", "Li Na"}
    doctor = next(d for d in doctors if d["name"] == "Zhang Wei")
    profile = http.expect(200, "GET", f"/v1/doctors/{doctor['id']}")
    assert (profile["hospital"], profile["department"], profile["verified"]) == (
        BEIJING[0],
        "Cardiology",
        True,
    )
    assert profile["schedule"]["monday"] == {"morning": 20, "afternoon": 15}
    session = a_later_session(http, doctor["id"])
    booked = http.expect(
        201,
        "POST",
        "/v1/appointments",
        {"doctor_id": doctor["id"], "date": session["date"], "period": session["period"]},
        token=token,
    )
    assert (booked["doctor_name"], booked["patient_phone"]) == ("Zhang Wei", demo_patient.phone)
    cancelled = http.expect(200, "POST", f"/v1/appointments/{booked['id']}/cancel", token=token)
    assert cancelled["status"] == "cancelled"


# --- notifications -------------------------------------------------------------------------------


def test_a_doctors_leave_cancels_the_booking_and_tells_the_patient(deployment: Deployment) -> None:
    http = deployment.http
    doctor, _ = deployment.verified_doctor(name="Zheng Hua")
    patient, bystander = deployment.register("patient"), deployment.register("patient")
    session = a_later_session(http, doctor.id)
    booked = http.expect(
        201,
        "POST",
        "/v1/appointments",
        {"doctor_id": doctor.id, "date": session["date"], "period": session["period"]},
        token=patient.token,
    )
    assert http.expect(200, "GET", "/v1/notifications", token=patient.token) == []

    assert_problem(
        http.post(
            "/v1/doctors/me/leave",
            {"date": session["date"], "period": session["period"]},
            token=patient.token,
        ),
        403,
    )
    leave = http.expect(
        201,
        "POST",
        "/v1/doctors/me/leave",
        {"date": session["date"], "period": session["period"]},
        token=doctor.token,
    )
    assert leave["cancelled_appointments"] == 1

    [appointment] = http.expect(200, "GET", "/v1/appointments", token=patient.token)
    assert (appointment["id"], appointment["status"]) == (booked["id"], "cancelled")
    [notice] = http.expect(200, "GET", "/v1/notifications", token=patient.token)
    assert notice["read"] is False
    assert notice["title"] and notice["body"]
    assert http.expect(200, "GET", "/v1/notifications?unread_only=true", token=patient.token) == [
        notice
    ]
    assert http.expect(200, "GET", "/v1/notifications", token=bystander.token) == []
    assert_problem(http.post(f"/v1/notifications/{notice['id']}/read", token=bystander.token), 404)

    read = http.expect(200, "POST", f"/v1/notifications/{notice['id']}/read", token=patient.token)
    assert (read["id"], read["read"]) == (notice["id"], True)
    assert http.expect(200, "GET", "/v1/notifications?unread_only=true", token=patient.token) == []
    sessions = http.expect(
        200, "GET", f"/v1/doctors/{doctor.id}/sessions?from={session['date']}&to={session['date']}"
    )
    assert session["period"] not in {s["period"] for s in sessions}


# --- robustness: what fuzzing found (tests/integration/e2e/test_schemathesis.py) ------------------

TOO_BIG = [2**63, 10**30]  # past a signed 64-bit integer, the range of every id column


@pytest.mark.parametrize("big", TOO_BIG, ids=["2^63", "10^30"])
@pytest.mark.parametrize(
    ("method", "template", "role"),
    [
        ("GET", "/v1/doctors/{}", None),
        ("GET", "/v1/doctors/{}/sessions", None),
        ("GET", "/v1/hospitals/{}/departments", None),
        ("GET", "/v1/departments/{}/doctors", None),
        ("GET", "/v1/appointments/{}", "patient"),
        ("POST", "/v1/appointments/{}/cancel", "patient"),
        ("POST", "/v1/notifications/{}/read", "patient"),
    ],
)
def test_an_id_too_big_for_any_row_is_not_found_not_a_server_error(
    deployment: Deployment, method: str, template: str, role: str | None, big: int
) -> None:
    token = deployment.register(role).token if role else None
    assert_problem(deployment.http.call(method, template.format(big), token=token), 404)


@pytest.mark.parametrize("big", TOO_BIG, ids=["2^63", "10^30"])
def test_an_id_too_big_in_a_body_is_refused_not_a_server_error(
    deployment: Deployment, big: int
) -> None:
    http = deployment.http
    patient = deployment.register("patient")
    day = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)).isoformat()
    booking = http.post(
        "/v1/appointments",
        {"doctor_id": big, "date": day, "period": "morning"},
        token=patient.token,
    )
    assert booking.status in {404, 422}, booking
    assert_problem(booking, booking.status)
    doctor = deployment.register("doctor")
    moving = http.call(
        "PATCH", "/v1/doctors/me", {"hospital_id": big, "department_id": big}, token=doctor.token
    )
    assert_problem(moving, 422)


@pytest.mark.parametrize("start", ["9999-12-31", "9999-12-20"])
def test_sessions_from_the_end_of_the_calendar_are_refused_not_a_server_error(
    deployment: Deployment, start: str
) -> None:
    doctor, _ = deployment.verified_doctor()
    reply = deployment.http.get(f"/v1/doctors/{doctor.id}/sessions?from={start}")
    if reply.status != 200:
        assert_problem(reply, 422)


def test_a_department_name_taken_in_the_hospital_is_a_409(deployment: Deployment) -> None:
    http = deployment.http
    path = f"/v1/hospitals/{deployment.hospitals[BEIJING[0]]}/departments"
    body = {"name": f"Ophthalmology {secrets.token_hex(3)}", "description": ""}
    http.expect(201, "POST", path, body, token=deployment.admin_token())
    problem = assert_problem(http.post(path, body, token=deployment.admin_token()), 409)
    assert problem.get("code"), problem


def test_an_unapproved_doctor_is_as_private_in_sessions_as_in_the_profile(
    deployment: Deployment,
) -> None:
    """``GET /v1/doctors/{id}`` hides an unapproved doctor (404: existence is private), so their
    sessions must not tell them apart from a doctor who does not exist."""
    http = deployment.http
    department = deployment.new_department()
    doctor = deployment.register("doctor")
    http.expect(
        200,
        "PATCH",
        "/v1/doctors/me",
        {"hospital_id": deployment.hospitals[BEIJING[0]], "department_id": department},
        token=doctor.token,
    )
    assert_problem(http.get(f"/v1/doctors/{doctor.id}"), 404)
    unapproved = http.get(f"/v1/doctors/{doctor.id}/sessions")
    missing = http.get(f"/v1/doctors/{10**9}/sessions")
    assert missing.status == 404, missing
    assert unapproved.status == 404 or (unapproved.status, unapproved.body) == (200, []), unapproved


# --- files -------------------------------------------------------------------------------------


def tiny_png() -> bytes:
    """A valid 1x1 greyscale PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


def test_a_doctor_sets_an_avatar_that_is_served_and_shown(deployment: Deployment) -> None:
    http = deployment.http
    doctor, _ = deployment.verified_doctor()
    png = tiny_png()
    headers = {"Content-Type": "image/png"}
    patient = deployment.register("patient")
    refused = http.call(
        "PUT", "/v1/doctors/me/avatar", data=png, headers=headers, token=patient.token
    )
    assert_problem(refused, 403)
    assert_problem(http.call("PUT", "/v1/doctors/me/avatar", data=png, headers=headers), 401)
    wrong_type = http.call(
        "PUT",
        "/v1/doctors/me/avatar",
        data=b"%PDF-1.4 not an image",
        headers={"Content-Type": "application/pdf"},
        token=doctor.token,
    )
    assert_problem(wrong_type, 415)

    avatar = http.expect(
        200, "PUT", "/v1/doctors/me/avatar", data=png, headers=headers, token=doctor.token
    )
    url = avatar["avatar_url"]
    assert url
    served = http.get(url) if url.startswith("/") else None
    if served is not None:
        assert (served.status, served.content_type, served.raw) == (200, "image/png", png)
    assert http.expect(200, "GET", f"/v1/doctors/{doctor.id}")["avatar_url"] == url
    login = http.expect(
        200,
        "POST",
        "/v1/sessions",
        {"phone": doctor.phone, "password": doctor.password, "role": "doctor"},
    )
    assert login["avatar_url"] == url


def test_the_readme_order_walkthrough_runs_in_a_shell(demo_server: Any) -> None:
    """README, "Ordering a home visit and paying in the sandbox", run by bash as written (curl and
    openssl), with the secret ``medbook serve --demo`` printed: paid, a repeat, refunded."""
    import re
    import subprocess
    from pathlib import Path

    readme = (Path(__file__).parents[3] / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.S) if "payments/notify" in b]
    printed = demo_server.stdout_path.read_text()
    secret = re.search(r"export MEDBOOK_PAYMENT_SECRET=(\S+)", printed)
    assert secret, printed
    http = HttpClient(demo_server.base_url)
    phone = f"139{secrets.randbelow(10**8):08d}"
    http.expect(
        201,
        "POST",
        "/v1/patients",
        {"phone": phone, "name": "Han Mei", "password": "a long passphrase"},
    )
    token = http.login(phone, "a long passphrase", "patient")
    prelude = (
        f"set -eu\napi={demo_server.base_url}\njson='content-type: application/json'\n"
        f"auth='Authorization: Bearer {token}'\n"
    )
    run = subprocess.run(
        ["bash", "-c", prelude + block],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "MEDBOOK_PAYMENT_SECRET": secret[1]},
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert '"outcome": "paid"' in run.stdout and '"outcome": "repeat"' in run.stdout, run.stdout
    assert (
        run.stdout.rstrip().endswith("}") and '"status": "refunded"' in run.stdout.splitlines()[-1]
    )
    orders = http.expect(200, "GET", "/v1/orders", token=token)
    assert [(o["status"], o["total_cents"], o["platform_fee_cents"]) for o in orders] == [
        ("refunded", 19_900, 995)
    ]
