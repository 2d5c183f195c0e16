"""Regression tests for what a probe of the running server broke (issue 7): input that must be
refused, headers, leaks and trust. The throttle and the adversarial-value sweep have files of their
own (test_http_throttle.py, test_http_adversarial.py)."""

from __future__ import annotations

import pytest
from http_support import (
    BEYOND_WINDOW,
    NOW,
    THURSDAY,
    TODAY,
    World,
    ok,
    problem,
)

from medbook.domain.shared.actors import Actor, Role

# --- 1. the token's subject -----------------------------------------------------------------------


@pytest.mark.parametrize("subject", [99999999999999999999, 2**31, 2**63, 0])
def test_a_signed_token_naming_no_possible_account_is_refused(
    sql_world: World, subject: int
) -> None:
    # On SQL (SQLite and MariaDB): the id used to reach the driver, which cannot bind it (500).
    token = sql_world.services.accounts.tokens.issue(Actor(subject, Role.PATIENT), NOW)

    problem(sql_world.api.get("/v1/me", token=token), 401, "unauthenticated")


def test_an_admin_token_claiming_an_impossible_hospital_is_refused(world: World) -> None:
    token = world.services.accounts.tokens.issue(Actor(world.admin.id, Role.ADMIN, 2**40), NOW)

    problem(world.api.get("/v1/me", token=token), 401, "unauthenticated")


# --- 4. headers -----------------------------------------------------------------------------------


def test_answers_with_tokens_or_personal_data_are_not_stored_by_caches(world: World) -> None:
    login = world.api.post(
        "/v1/sessions",
        json={
            "phone": world.patient_a.phone,
            "password": "correct horse battery",
            "role": "patient",
        },
    )
    me = world.api.get("/v1/me", token=world.patient_a.token)
    refused = world.api.get("/v1/me")

    ok(login)
    for result in (login, me, refused):
        assert result.headers["cache-control"] == "no-store"
        assert result.headers["x-content-type-options"] == "nosniff"


def test_every_json_answer_says_nosniff(world: World) -> None:
    for path in ("/v1/hospitals", "/v1/openapi.json", "/healthz", "/v1/nowhere"):
        assert world.api.client.simulate_get(path).headers["x-content-type-options"] == "nosniff"


# --- 5. input that must be refused ----------------------------------------------------------------


@pytest.mark.parametrize("birth_date", ["0001-01-01", "9999-12-31", "1896-11-24", "2026-11-26"])
def test_impossible_birth_dates_are_refused(world: World, birth_date: str) -> None:
    result = world.api.patch(
        "/v1/doctors/me", token=world.doctor.token, json={"birth_date": birth_date}
    )

    problem(result, 422, fields={"birth_date"})


def test_a_plausible_birth_date_is_taken(world: World) -> None:
    result = world.api.patch(
        "/v1/doctors/me", token=world.doctor.token, json={"birth_date": "1896-11-25"}
    )

    assert ok(result)["birth_date"] == "1896-11-25"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Card\x00iology", "NUL"),
        ("Cardio\x1blogy", "escape"),
        ("\u202eygoloidraC", "right-to-left override"),
        ("Cardio\u2066logy", "isolate"),
        ("\u200b\u200b\u200b", "zero-width only"),
        ("\u0301\u0301", "combining marks only"),
        ("\u3164", "Hangul filler"),
    ],
)
def test_free_text_refuses_control_bidi_and_invisible_only_text(
    world: World, text: str, why: str
) -> None:
    department = world.api.post(
        f"/v1/hospitals/{world.shanghai}/departments",
        token=world.admin.token,
        json={"name": text},
    )
    patient = world.api.post(
        "/v1/patients",
        json={"phone": world.new_phone(), "name": text, "password": "a long passphrase"},
    )
    specialty = world.api.patch(
        "/v1/doctors/me", token=world.doctor.token, json={"specialty": "x" + text}
    )

    problem(department, 422, fields={"name"})
    problem(patient, 422, fields={"name"})
    if why not in ("zero-width only", "combining marks only", "Hangul filler"):
        problem(specialty, 422, fields={"specialty"})  # optional text: only the bad characters


def test_names_are_stored_in_nfc(world: World) -> None:
    created = world.api.post(
        "/v1/patients",
        json={"phone": world.new_phone(), "name": "Zoe\u0308", "password": "a long passphrase"},
    )

    assert ok(created, 201)["name"] == "Zo\u00eb"


def test_a_leave_more_than_a_year_ahead_is_refused_naming_the_date(world: World) -> None:
    for date in ("9999-12-31", "2027-11-26"):
        result = world.api.post(
            "/v1/doctors/me/leave",
            token=world.doctor.token,
            json={"date": date, "period": "morning"},
        )
        problem(result, 422, "outside_window", fields={"date"})


@pytest.mark.parametrize("date", [TODAY.replace(day=1), BEYOND_WINDOW])
def test_booking_outside_the_window_names_the_date(world: World, date: object) -> None:
    result = world.api.post(
        "/v1/appointments",
        token=world.patient_a.token,
        json={"doctor_id": world.doctor.id, "date": str(date), "period": "afternoon"},
    )

    problem(result, 422, "outside_window", fields={"date"})


def test_a_session_that_is_not_offered_names_the_period(world: World) -> None:
    sunday = "2026-11-29"  # every doctor of the world is off on Sundays
    result = world.api.post(
        "/v1/appointments",
        token=world.patient_a.token,
        json={"doctor_id": world.doctor.id, "date": sunday, "period": "morning"},
    )

    problem(result, 422, "not_offered", fields={"period"})


# --- 6. leaks and trust ---------------------------------------------------------------------------


def test_an_admins_hospital_comes_from_the_stored_account_not_the_token(world: World) -> None:
    # A validly signed token of the Shanghai admin that claims Beijing (as a token issued before a
    # move, or by a bug, would): the admin still acts for Shanghai only.
    claims_beijing = world.services.accounts.tokens.issue(
        Actor(world.admin.id, Role.ADMIN, world.beijing), NOW
    )

    beijing = world.api.post(
        f"/v1/hospitals/{world.beijing}/departments",
        token=claims_beijing,
        json={"name": "Dermatology"},
    )
    shanghai = world.api.post(
        f"/v1/hospitals/{world.shanghai}/departments",
        token=claims_beijing,
        json={"name": "Dermatology"},
    )
    me = ok(world.api.get("/v1/me", token=claims_beijing))

    problem(beijing, 403)
    ok(shanghai, 201)
    assert me["hospital_id"] == world.shanghai


def test_another_hospitals_doctor_and_no_doctor_get_the_same_answer(world: World) -> None:
    other = world.api.post(
        f"/v1/doctors/{world.beijing_doctor.id}/approval",
        token=world.admin.token,
        json={"approved": False},
    )
    nobody = world.api.post(
        "/v1/doctors/999999/approval", token=world.admin.token, json={"approved": False}
    )

    other_body, nobody_body = problem(other, 404), problem(nobody, 404)
    assert other_body["code"] == nobody_body["code"] == "doctor_not_found"
    assert other_body["detail"] == f"no doctor {world.beijing_doctor.id}"
    assert nobody_body["detail"] == "no doctor 999999"


@pytest.mark.parametrize("path", ["/v1/doctors/0{id}", "/v1/doctors/00{id}", "/v1/doctors/+{id}"])
def test_only_canonical_ids_name_a_doctor(world: World, path: str) -> None:
    assert ok(world.api.get(f"/v1/doctors/{world.doctor.id}"))["id"] == world.doctor.id

    problem(world.api.get(path.format(id=world.doctor.id)), 404)


def test_the_first_bookable_day_is_still_bookable(world: World) -> None:
    # The window rules above did not move: THURSDAY (tomorrow) is bookable.
    result = world.api.post(
        "/v1/appointments",
        token=world.patient_a.token,
        json={"doctor_id": world.doctor.id, "date": THURSDAY.isoformat(), "period": "morning"},
    )

    ok(result, 201)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lat=%D9%A1&lng=1", "lat"),  # an Arabic-Indic one: Python's float() would take it
        ("lat=%EF%BC%91&lng=1", "lat"),  # a fullwidth one
        ("lat=1&lng=1&lat=2", "lat"),  # which one?
    ],
)
def test_query_numbers_are_ascii_and_given_once(world: World, query: str, field: str) -> None:
    result = world.api.client.simulate_get("/v1/hospitals", query_string=query)

    problem(result, 422, fields={field})


def test_a_body_shorter_than_its_content_length_is_refused(world: World) -> None:
    result = world.api.client.simulate_post(
        "/v1/sessions",
        body=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": "100"},
    )

    assert problem(result, 400, "malformed_body")["detail"] == (
        "the body ended after 2 of its 100 bytes"
    )


def test_department_names_are_unique_as_written_on_every_database(sql_world: World) -> None:
    # MariaDB's default collation took every emoji for every other, and "é" for "e".
    path = f"/v1/hospitals/{sql_world.shanghai}/departments"
    token = sql_world.admin.token
    created = [
        sql_world.api.post(path, token=token, json={"name": name})
        for name in ("😀 Clinic", "😁 Clinic", "Cárdiology", "Cardiology ")
    ]
    again = sql_world.api.post(path, token=token, json={"name": " 😀 Clinic"})

    names = [ok(result, 201)["name"] for result in created[:3]]
    assert names == ["😀 Clinic", "😁 Clinic", "Cárdiology"]
    problem(created[3], 409, "department_exists")  # trimmed, it is the world's "Cardiology"
    problem(again, 409, "department_exists")
