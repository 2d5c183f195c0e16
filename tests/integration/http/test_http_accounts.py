"""Accounts over HTTP: registration, login and its throttle, /v1/me, identity, doctor approval."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from http_support import (
    MAX_BODY_BYTES,
    NOW,
    PASSWORD,
    THURSDAY,
    Api,
    World,
    ok,
    problem,
    resident_id,
    with_wrong_check_character,
)

from medbook.adapters.security import JwtTokens
from medbook.domain.shared.actors import Actor, Role

# --- registration --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/patients", "/v1/doctors"])
def test_registration_answers_201_with_the_account(api: Api, path: str) -> None:
    body = {"phone": "13912345678", "name": "Sun Li", "password": PASSWORD}

    created = ok(api.post(path, json=body), 201)

    assert created["phone"] == "13912345678"
    assert created["name"] == "Sun Li"
    assert isinstance(created["id"], int)
    assert "password" not in json.dumps(created)
    if path == "/v1/doctors":
        assert created["verified"] is False


@pytest.mark.parametrize("path", ["/v1/patients", "/v1/doctors"])
def test_a_phone_registered_twice_in_a_role_is_409_phone_taken(api: Api, path: str) -> None:
    body = {"phone": "13912345678", "name": "Sun Li", "password": PASSWORD}
    ok(api.post(path, json=body), 201)

    problem(api.post(path, json=body | {"name": "Someone Else"}), 409, "phone_taken")


def test_the_same_phone_may_hold_a_patient_and_a_doctor_account(api: Api) -> None:
    body = {"phone": "13912345678", "name": "Sun Li", "password": PASSWORD}

    ok(api.post("/v1/patients", json=body), 201)
    ok(api.post("/v1/doctors", json=body), 201)


GOOD = {"phone": "13912345678", "name": "Sun Li", "password": PASSWORD}
FULLWIDTH_PHONE = "".join(chr(ord(d) - ord("0") + 0xFF10) for d in "13912345678")


@pytest.mark.parametrize("path", ["/v1/patients", "/v1/doctors"])
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param(GOOD | {"phone": "12345"}, {"phone"}, id="short-phone"),
        pytest.param(GOOD | {"phone": "23912345678"}, {"phone"}, id="not-a-mobile"),
        pytest.param(GOOD | {"phone": FULLWIDTH_PHONE}, {"phone"}, id="fullwidth-digits"),
        pytest.param(GOOD | {"password": "short"}, {"password"}, id="short-password"),
        pytest.param(GOOD | {"name": "   "}, {"name"}, id="blank-name"),
        pytest.param({"phone": "13912345678", "name": "Sun Li"}, {"password"}, id="missing"),
        pytest.param({}, {"phone", "name", "password"}, id="all-missing"),
        pytest.param(GOOD | {"is_admin": True}, {"is_admin"}, id="unknown-field"),
        pytest.param(GOOD | {"phone": 13912345678}, {"phone"}, id="phone-as-number"),
        pytest.param(GOOD | {"name": ["Sun"]}, {"name"}, id="name-as-list"),
        pytest.param(GOOD | {"password": None}, {"password"}, id="null-password"),
    ],
)
def test_a_bad_registration_is_422_naming_the_fields(
    api: Api, path: str, body: dict[str, object], fields: set[str]
) -> None:
    problem(api.post(path, json=body), 422, fields=fields)


@pytest.mark.parametrize("raw", ['{"phone": "139', "not json", "[1, 2", '{"a": 1} trailing'])
def test_malformed_json_is_400(api: Api, raw: str) -> None:
    problem(api.post("/v1/patients", body=raw, content_type="application/json"), 400)


@pytest.mark.parametrize("raw", ["[]", '"13912345678"', "null", "42"])
def test_json_that_is_not_an_object_is_422(api: Api, raw: str) -> None:
    problem(
        api.post("/v1/patients", body=raw, content_type="application/json"), 422, fields={"body"}
    )


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(api: Api, content_type: str) -> None:
    raw = "phone=13912345678&name=Sun&password=correct+horse"
    problem(api.post("/v1/patients", body=raw, content_type=content_type), 415)


def test_a_body_without_content_type_is_415(api: Api) -> None:
    problem(api.post("/v1/patients", body=json.dumps(GOOD)), 415)


def test_json_with_a_charset_parameter_is_accepted(api: Api) -> None:
    result = api.post(
        "/v1/patients", body=json.dumps(GOOD), content_type="application/json; charset=utf-8"
    )
    ok(result, 201)


def test_a_body_over_the_limit_is_413_and_nothing_is_stored(api: Api) -> None:
    body = GOOD | {"name": "x" * MAX_BODY_BYTES}

    problem(api.post("/v1/patients", json=body), 413)

    ok(api.post("/v1/patients", json=GOOD), 201)  # the phone was not taken by the refused call


# --- login ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "role"),
    [("patient_a", "patient"), ("doctor", "doctor"), ("admin", "admin")],
)
def test_login_answers_the_account_and_a_token(world: World, account: str, role: str) -> None:
    who = getattr(world, account)
    body = {"phone": who.phone, "password": PASSWORD, "role": role}

    session = ok(world.api.post("/v1/sessions", json=body))

    assert session["id"] == who.id
    assert session["name"] == who.name
    assert session["role"] == role
    assert session["token"].count(".") == 2  # a JWT
    assert "avatar_url" in session
    me = ok(world.api.get("/v1/me", token=session["token"]))
    assert (me["id"], me["role"]) == (who.id, role)


def test_an_unknown_phone_and_a_wrong_password_get_the_same_401(world: World) -> None:
    unknown = world.api.post(
        "/v1/sessions", json={"phone": "13999999999", "password": PASSWORD, "role": "patient"}
    )
    wrong = world.api.post(
        "/v1/sessions",
        json={"phone": world.patient_a.phone, "password": "wrong password", "role": "patient"},
    )

    assert problem(unknown, 401) == problem(wrong, 401)
    assert unknown.headers.get("www-authenticate") == wrong.headers.get("www-authenticate")


def test_logging_in_in_a_role_the_phone_does_not_hold_is_401(world: World) -> None:
    body = {"phone": world.patient_a.phone, "password": PASSWORD, "role": "doctor"}
    problem(world.api.post("/v1/sessions", json=body), 401)


def test_an_unknown_role_is_422(world: World) -> None:
    body = {"phone": world.patient_a.phone, "password": PASSWORD, "role": "nurse"}
    problem(world.api.post("/v1/sessions", json=body), 422, fields={"role"})


def test_after_five_tries_one_every_3_minutes_else_429_with_retry_after(world: World) -> None:
    wrong = {"phone": world.patient_a.phone, "password": "wrong password", "role": "patient"}
    for _ in range(5):
        problem(world.api.post("/v1/sessions", json=wrong), 401)
        world.clock.advance(dt.timedelta(seconds=10))

    blocked = world.api.post("/v1/sessions", json=wrong | {"password": PASSWORD})

    problem(blocked, 429)
    retry_after = int(blocked.headers["retry-after"])
    assert retry_after == 3 * 60 - 50  # the 50 seconds since the first try count already
    # the same phone in another role is not blocked
    other_role = {"phone": world.patient_a.phone, "password": PASSWORD, "role": "doctor"}
    problem(world.api.post("/v1/sessions", json=other_role), 401)
    world.clock.advance(dt.timedelta(seconds=retry_after))
    ok(world.api.post("/v1/sessions", json=wrong | {"password": PASSWORD}))


def test_a_successful_login_forgets_earlier_failures(world: World) -> None:
    wrong = {"phone": world.patient_a.phone, "password": "wrong password", "role": "patient"}
    for _ in range(4):
        problem(world.api.post("/v1/sessions", json=wrong), 401)
    ok(world.api.post("/v1/sessions", json=wrong | {"password": PASSWORD}))

    for _ in range(4):
        problem(world.api.post("/v1/sessions", json=wrong), 401)
    ok(world.api.post("/v1/sessions", json=wrong | {"password": PASSWORD}))


# --- tokens and /v1/me ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Token abc"],
)
def test_me_without_a_valid_token_is_401(api: Api, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else None
    result = api.get("/v1/me", headers=headers)
    problem(result, 401)
    assert result.headers["www-authenticate"].startswith("Bearer")


def test_a_token_signed_with_another_secret_is_401(world: World) -> None:
    forged = JwtTokens(b"another server's secret, 32 bytes!").issue(
        Actor(world.patient_a.id, Role.PATIENT), NOW
    )
    problem(world.api.get("/v1/me", token=forged), 401)


def test_a_tampered_token_is_401(world: World) -> None:
    header, claims, signature = world.patient_a.token.split(".")
    tampered = f"{header}.{claims}.{signature[::-1]}"
    problem(world.api.get("/v1/me", token=tampered), 401)


def test_a_token_stops_working_when_it_expires(world: World) -> None:
    ok(world.api.get("/v1/me", token=world.patient_a.token))

    world.clock.advance(dt.timedelta(hours=1))

    problem(world.api.get("/v1/me", token=world.patient_a.token), 401)


def test_me_for_a_patient(world: World) -> None:
    me = ok(world.api.get("/v1/me", token=world.patient_a.token))

    assert me["role"] == "patient"
    assert (me["id"], me["name"], me["phone"]) == (
        world.patient_a.id,
        "Wang Xiaoming",
        world.patient_a.phone,
    )
    assert me["identity_verified"] is False
    assert me["birth_date"] is None and me["sex"] is None


def test_me_for_a_doctor_carries_their_profile(world: World) -> None:
    me = ok(world.api.get("/v1/me", token=world.doctor.token))

    assert (me["id"], me["role"], me["name"]) == (world.doctor.id, "doctor", "Zhang Wei")
    assert me["hospital_id"] == world.shanghai
    assert me["doctor"]["department"] == "Cardiology"
    assert me["doctor"]["verified"] is True
    assert me["doctor"]["schedule"]["sunday"] == {"morning": 0, "afternoon": 0}


def test_me_for_an_admin_names_their_hospital(world: World) -> None:
    me = ok(world.api.get("/v1/me", token=world.other_admin.token))

    assert (me["id"], me["role"], me["name"]) == (world.other_admin.id, "admin", "Beijing Admin")
    assert me["hospital_id"] == world.beijing
    assert me["doctor"] is None


# --- identity ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth_date", "sequence", "sex", "age"),
    [
        (dt.date(1949, 12, 31), 2, "female", 76),
        (dt.date(1990, 11, 25), 17, "male", 36),  # a birthday today
        (dt.date(1990, 11, 26), 17, "male", 35),  # a birthday tomorrow
        (dt.date(2000, 2, 29), 11, "male", 26),
    ],
)
def test_a_valid_identity_number_verifies_the_patient(
    world: World, birth_date: dt.date, sequence: int, sex: str, age: int
) -> None:
    number = resident_id("110105", birth_date, sequence)
    body = {"name": "王小明", "id_number": number}

    verified = ok(
        world.api.post("/v1/patients/me/identity", token=world.patient_a.token, json=body)
    )

    assert verified == {
        "verified": True,
        "birth_date": birth_date.isoformat(),
        "sex": sex,
        "age": age,
    }
    me = ok(world.api.get("/v1/me", token=world.patient_a.token))
    assert me["identity_verified"] is True
    assert (me["birth_date"], me["sex"]) == (birth_date.isoformat(), sex)
    assert number not in json.dumps(me)  # the number itself is not kept


def test_a_lowercase_x_check_character_is_accepted(world: World) -> None:
    number = next(
        n
        for seq in range(1, 1000)
        if (n := resident_id("440305", dt.date(1985, 6, 1), seq)).endswith("X")
    )
    body = {"name": "Wang", "id_number": number.lower()}
    ok(world.api.post("/v1/patients/me/identity", token=world.patient_a.token, json=body))


@pytest.mark.parametrize(
    "number",
    [
        pytest.param(with_wrong_check_character(resident_id("110105", dt.date(1990, 1, 1), 3))),
        pytest.param("11010519900101003", id="17-characters"),
        pytest.param("11010519901301003" + "5", id="month-13"),
        pytest.param(resident_id("110105", dt.date(2030, 1, 1), 3), id="born-in-the-future"),
        pytest.param("11010519900101A03X", id="letter-inside"),
    ],
)
def test_a_bad_identity_number_is_422_naming_id_number(world: World, number: str) -> None:
    body = {"name": "Wang", "id_number": number}
    result = world.api.post("/v1/patients/me/identity", token=world.patient_a.token, json=body)

    problem(result, 422, "invalid_id_number", fields={"id_number"})
    me = ok(world.api.get("/v1/me", token=world.patient_a.token))
    assert me["identity_verified"] is False


def test_identity_with_a_blank_name_is_422_naming_name(world: World) -> None:
    body = {"name": " ", "id_number": resident_id("110105", dt.date(1990, 1, 1), 3)}
    result = world.api.post("/v1/patients/me/identity", token=world.patient_a.token, json=body)
    problem(result, 422, fields={"name"})


@pytest.mark.parametrize("account", ["doctor", "admin"])
def test_only_patients_verify_an_identity(world: World, account: str) -> None:
    body = {"name": "Wang", "id_number": resident_id("110105", dt.date(1990, 1, 1), 3)}
    token = getattr(world, account).token
    problem(world.api.post("/v1/patients/me/identity", token=token, json=body), 403)


def test_the_age_is_counted_on_the_date_in_china(world: World) -> None:
    # 2026-11-24T17:00Z is already 01:00 on 25 November in China: it is the patient's birthday.
    world.clock.set(dt.datetime(2026, 11, 24, 17, 0, tzinfo=dt.UTC))
    token = world.login(world.patient_a.phone, "patient")  # the first token is not valid yet
    body = {"name": "Wang", "id_number": resident_id("110105", dt.date(1990, 11, 25), 17)}

    verified = ok(world.api.post("/v1/patients/me/identity", token=token, json=body))

    assert verified["age"] == 36


# --- doctor approval -----------------------------------------------------------------------------


def _doctor_joining_shanghai(world: World) -> int:
    newcomer = world.register_doctor("Zhou Min")
    changes = {
        "hospital_id": world.shanghai,
        "department_id": world.cardiology,
        "rank": "attending",
    }
    profile = ok(world.api.patch("/v1/doctors/me", token=newcomer.token, json=changes))
    assert profile["verified"] is False
    schedule = {
        day: {"morning": 3, "afternoon": 0}
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    }
    ok(world.api.put("/v1/doctors/me/schedule", token=newcomer.token, json=schedule))
    return newcomer.id


def test_an_admin_of_the_doctors_hospital_approves_them_and_they_become_bookable(
    world: World,
) -> None:
    doctor_id = _doctor_joining_shanghai(world)
    listed = ok(world.api.get(f"/v1/departments/{world.cardiology}/doctors"))
    assert doctor_id not in [d["id"] for d in listed]
    problem(world.api.get(f"/v1/doctors/{doctor_id}"), 404)
    booking = {"doctor_id": doctor_id, "date": THURSDAY.isoformat(), "period": "morning"}
    refused = world.api.post("/v1/appointments", token=world.patient_a.token, json=booking)
    unknown = world.api.post(
        "/v1/appointments", token=world.patient_a.token, json=booking | {"doctor_id": 999_999}
    )
    problem(refused, 404, "doctor_not_found")
    problem(unknown, 404, "doctor_not_found")
    assert refused.json["detail"] == f"no doctor {doctor_id}"
    assert unknown.json["detail"] == "no doctor 999999"

    approval = world.api.post(
        f"/v1/doctors/{doctor_id}/approval", token=world.admin.token, json={"approved": True}
    )

    assert ok(approval) == {"id": doctor_id, "verified": True}
    listed = ok(world.api.get(f"/v1/departments/{world.cardiology}/doctors"))
    assert doctor_id in [d["id"] for d in listed]
    assert ok(world.api.get(f"/v1/doctors/{doctor_id}"))["verified"] is True
    sessions = ok(world.api.get(f"/v1/doctors/{doctor_id}/sessions"))
    assert {
        "date": THURSDAY.isoformat(),
        "period": "morning",
        "quota": 3,
        "remaining": 3,
        "held": 0,
        "waiting": 0,
    } in (sessions)
    booked = ok(world.api.post("/v1/appointments", token=world.patient_a.token, json=booking), 201)
    assert booked["doctor_name"] == "Zhou Min"


def test_an_admin_can_withdraw_an_approval(world: World) -> None:
    path = f"/v1/doctors/{world.doctor.id}/approval"

    result = world.api.post(path, token=world.admin.token, json={"approved": False})

    assert ok(result) == {"id": world.doctor.id, "verified": False}
    problem(world.api.get(f"/v1/doctors/{world.doctor.id}"), 404)


def test_another_hospitals_admin_cannot_approve_and_does_not_learn_the_doctor_exists(
    world: World,
) -> None:
    doctor_id = _doctor_joining_shanghai(world)

    refused = world.api.post(
        f"/v1/doctors/{doctor_id}/approval", token=world.other_admin.token, json={"approved": True}
    )
    missing = world.api.post(
        "/v1/doctors/999999/approval", token=world.other_admin.token, json={"approved": True}
    )

    assert problem(refused, 404)["title"] == problem(missing, 404)["title"]
    problem(world.api.get(f"/v1/doctors/{doctor_id}"), 404)


@pytest.mark.parametrize("account", ["patient_a", "doctor"])
def test_patients_and_doctors_cannot_approve(world: World, account: str) -> None:
    doctor_id = _doctor_joining_shanghai(world)
    token = getattr(world, account).token

    problem(
        world.api.post(f"/v1/doctors/{doctor_id}/approval", token=token, json={"approved": True}),
        403,
    )
    problem(world.api.get(f"/v1/doctors/{doctor_id}"), 404)


def test_a_doctor_without_a_hospital_cannot_be_approved_by_any_admin(world: World) -> None:
    loner = world.register_doctor("Qian Bo")
    for admin in (world.admin, world.other_admin):
        result = world.api.post(
            f"/v1/doctors/{loner.id}/approval", token=admin.token, json={"approved": True}
        )
        problem(result, 404)


def test_approval_needs_a_boolean(world: World) -> None:
    path = f"/v1/doctors/{world.doctor.id}/approval"
    problem(
        world.api.post(path, token=world.admin.token, json={"approved": "yes"}),
        422,
        fields={"approved"},
    )
    problem(world.api.post(path, token=world.admin.token, json={}), 422, fields={"approved"})
