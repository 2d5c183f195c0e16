"""The waitlists of full sessions over HTTP: join, a cancellation offering the place to the first
waiting with a hold that counts in the session's places, accept, lapse, leave, someone else's entry,
bad bodies, and who may call what.

Afternoons have one place in the world's schedule, so one booking fills them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from http_support import (
    FRIDAY,
    SUNDAY,
    THURSDAY,
    TODAY,
    Account,
    World,
    ok,
    problem,
)

HOLD = dt.timedelta(minutes=15)
ENTRY_FIELDS = {
    "id",
    "doctor_id",
    "date",
    "period",
    "status",
    "joined_at",
    "offered_at",
    "expires_at",
    "ended_at",
    "appointment_id",
}


def _session(world: World, date: dt.date = THURSDAY, period: str = "afternoon") -> dict[str, Any]:
    return {"doctor_id": world.doctor.id, "date": date.isoformat(), "period": period}


def _join(world: World, patient: Account, **session: Any) -> Any:
    return world.api.post("/v1/waitlist", token=patient.token, json=_session(world, **session))


def _places(world: World, date: dt.date = THURSDAY, period: str = "afternoon") -> dict[str, Any]:
    """The session as the doctor's listing shows it."""
    params = {"from": date.isoformat(), "to": date.isoformat()}
    found = ok(world.api.get(f"/v1/doctors/{world.doctor.id}/sessions", params=params))
    session: dict[str, Any] = next(s for s in found if s["period"] == period)
    return session


def _entry(world: World, patient: Account, entry_id: int) -> dict[str, Any]:
    entry: dict[str, Any] = ok(world.api.get(f"/v1/waitlist/{entry_id}", token=patient.token))
    return entry


def _accept(world: World, patient: Account, entry_id: int) -> Any:
    return world.api.post(f"/v1/waitlist/{entry_id}/accept", token=patient.token)


def _cancel(world: World, patient: Account, appointment: dict[str, Any]) -> None:
    ok(world.api.post(f"/v1/appointments/{appointment['id']}/cancel", token=patient.token))


def _inbox(world: World, patient: Account) -> list[dict[str, Any]]:
    notices: list[dict[str, Any]] = ok(world.api.get("/v1/notifications", token=patient.token))
    return [n for n in notices if n["kind"].startswith("waitlist_")]


def _at(world: World, moment: dt.datetime) -> None:
    """Move the clock, and log the world's patients in again (tokens last an hour)."""
    world.clock.set(moment)
    for patient in (world.patient_a, world.patient_b):
        patient.token = world.login(patient.phone, "patient")


# --- the whole flow ------------------------------------------------------------------------------


def test_join_cancel_offer_accept(world: World) -> None:
    _join_cancel_offer_accept(world)


def test_join_cancel_offer_accept_on_sql(sql_world: World) -> None:
    _join_cancel_offer_accept(sql_world)


def test_a_lapse_on_sql(sql_world: World) -> None:
    test_an_offer_lapses_after_its_hold_and_goes_to_the_next(sql_world)


def test_a_leave_on_sql(sql_world: World) -> None:
    test_leaving_a_waitlist(sql_world)


def _join_cancel_offer_accept(world: World) -> None:
    held = world.book(world.patient_a, THURSDAY, "afternoon")
    assert _places(world)["remaining"] == 0

    joined = ok(_join(world, world.patient_b), 201)

    assert set(joined) == ENTRY_FIELDS
    assert joined["status"] == "waiting"
    assert (joined["doctor_id"], joined["date"], joined["period"]) == (
        world.doctor.id,
        THURSDAY.isoformat(),
        "afternoon",
    )
    assert dt.datetime.fromisoformat(joined["joined_at"]) == world.clock.now()
    assert [joined[k] for k in ("offered_at", "expires_at", "ended_at", "appointment_id")] == [
        None
    ] * 4
    assert _places(world) | {"date": None} == {
        "date": None,
        "period": "afternoon",
        "quota": 1,
        "remaining": 0,
        "held": 0,
        "waiting": 1,
    }
    assert ok(world.api.get("/v1/waitlist", token=world.patient_b.token)) == [joined]
    assert ok(world.api.get("/v1/waitlist", token=world.patient_a.token)) == []

    world.clock.advance(dt.timedelta(minutes=3))
    _cancel(world, world.patient_a, held)

    offered = _entry(world, world.patient_b, joined["id"])
    assert offered["status"] == "offered"
    assert dt.datetime.fromisoformat(offered["offered_at"]) == world.clock.now()
    assert dt.datetime.fromisoformat(offered["expires_at"]) == world.clock.now() + HOLD
    places = _places(world)
    assert (places["remaining"], places["held"], places["waiting"]) == (0, 1, 0)
    (notice,) = _inbox(world, world.patient_b)
    assert notice["kind"] == "waitlist_offer"
    assert notice["data"]["waitlist_entry_id"] == joined["id"]
    assert notice["data"]["expires_at"] == offered["expires_at"]
    # The held place is nobody else's: not the cancelling patient's, not a newcomer's.
    again = world.api.post("/v1/appointments", token=world.patient_a.token, json=_session(world))
    problem(again, 409, "session_full")

    world.clock.advance(HOLD - dt.timedelta(seconds=1))
    booked = ok(_accept(world, world.patient_b, joined["id"]), 201)

    assert booked == ok(
        world.api.get(f"/v1/appointments/{booked['id']}", token=world.patient_b.token)
    )
    assert set(booked) == set(held)  # the appointment as POST /v1/appointments answers it
    assert (booked["status"], booked["patient_id"], booked["number"]) == (
        "booked",
        world.patient_b.id,
        2,
    )
    assert (booked["date"], booked["period"]) == (THURSDAY.isoformat(), "afternoon")
    entry = _entry(world, world.patient_b, joined["id"])
    assert (entry["status"], entry["appointment_id"]) == ("booked", booked["id"])
    assert dt.datetime.fromisoformat(entry["ended_at"]) == world.clock.now()
    places = _places(world)
    assert (places["remaining"], places["held"], places["waiting"]) == (0, 0, 0)
    problem(_accept(world, world.patient_b, joined["id"]), 409, "no_offer")  # once


def test_an_offer_lapses_after_its_hold_and_goes_to_the_next(world: World) -> None:
    third = world.register_patient("Qian Feng")
    held = world.book(third, THURSDAY, "afternoon")
    first = ok(_join(world, world.patient_a), 201)
    second = ok(_join(world, world.patient_b), 201)
    _cancel(world, third, held)
    assert _entry(world, world.patient_b, second["id"])["status"] == "waiting"  # behind A
    problem(_accept(world, world.patient_b, second["id"]), 409, "no_offer")

    world.clock.advance(HOLD)
    late = _accept(world, world.patient_a, first["id"])

    problem(late, 409, "no_offer")
    # The refusal stands on the lapse it committed: the place is offered to the next.
    lapsed = _entry(world, world.patient_a, first["id"])
    assert lapsed["status"] == "lapsed"
    assert dt.datetime.fromisoformat(lapsed["ended_at"]) == world.clock.now()
    nxt = _entry(world, world.patient_b, second["id"])
    assert nxt["status"] == "offered"
    assert dt.datetime.fromisoformat(nxt["expires_at"]) == world.clock.now() + HOLD
    assert [n["kind"] for n in _inbox(world, world.patient_a)] == [
        "waitlist_lapsed",
        "waitlist_offer",
    ]  # newest first
    assert [n["kind"] for n in _inbox(world, world.patient_b)] == ["waitlist_offer"]
    assert ok(_accept(world, world.patient_b, second["id"]), 201)["patient_id"] == (
        world.patient_b.id
    )


def test_the_worker_sweep_lapses_an_offer_nobody_asks_about(world: World) -> None:
    third = world.register_patient("Qian Feng")
    held = world.book(third, THURSDAY, "afternoon")
    first = ok(_join(world, world.patient_a), 201)
    second = ok(_join(world, world.patient_b), 201)
    _cancel(world, third, held)
    world.clock.advance(HOLD)

    swept = world.services.waitlist.sweep()

    assert (swept.lapsed, swept.offered) == (1, 1)
    assert _entry(world, world.patient_a, first["id"])["status"] == "lapsed"
    assert _entry(world, world.patient_b, second["id"])["status"] == "offered"
    places = _places(world)
    assert (places["remaining"], places["held"], places["waiting"]) == (0, 1, 0)


def test_the_hold_ends_at_the_session_start_at_the_latest(world: World) -> None:
    held = world.book(world.patient_a, TODAY, "afternoon")  # 13:30 in Shanghai
    joined = ok(_join(world, world.patient_b, date=TODAY), 201)
    start = dt.datetime(2026, 11, 25, 5, 30, tzinfo=dt.UTC)
    _at(world, start - dt.timedelta(minutes=5))

    _cancel(world, world.patient_a, held)

    offered = _entry(world, world.patient_b, joined["id"])
    assert dt.datetime.fromisoformat(offered["expires_at"]) == start


# --- leaving -------------------------------------------------------------------------------------


def test_leaving_a_waitlist(world: World) -> None:
    world.book(world.patient_a, THURSDAY, "afternoon")
    joined = ok(_join(world, world.patient_b), 201)
    world.clock.advance(dt.timedelta(minutes=1))

    left = ok(world.api.delete(f"/v1/waitlist/{joined['id']}", token=world.patient_b.token))

    assert left["id"] == joined["id"]
    assert left["status"] == "left"
    assert dt.datetime.fromisoformat(left["ended_at"]) == world.clock.now()
    assert _entry(world, world.patient_b, joined["id"]) == left
    assert _places(world)["waiting"] == 0
    twice = world.api.delete(f"/v1/waitlist/{joined['id']}", token=world.patient_b.token)
    problem(twice, 409, "invalid_transition")
    problem(_accept(world, world.patient_b, joined["id"]), 409, "no_offer")
    # A left waitlist may be joined again, at its end.
    assert ok(_join(world, world.patient_b), 201)["id"] != joined["id"]


def test_leaving_with_an_offer_gives_the_place_to_the_next(world: World) -> None:
    third = world.register_patient("Qian Feng")
    held = world.book(third, THURSDAY, "afternoon")
    first = ok(_join(world, world.patient_a), 201)
    second = ok(_join(world, world.patient_b), 201)
    _cancel(world, third, held)

    left = ok(world.api.delete(f"/v1/waitlist/{first['id']}", token=world.patient_a.token))

    assert left["status"] == "left"
    assert _entry(world, world.patient_b, second["id"])["status"] == "offered"
    places = _places(world)
    assert (places["remaining"], places["held"], places["waiting"]) == (0, 1, 0)


def test_a_doctors_leave_clears_the_waitlist(world: World) -> None:
    world.book(world.patient_a, THURSDAY, "afternoon")
    joined = ok(_join(world, world.patient_b), 201)
    leave = {"date": THURSDAY.isoformat(), "period": "afternoon"}

    ok(world.api.post("/v1/doctors/me/leave", token=world.doctor.token, json=leave), 201)

    assert _entry(world, world.patient_b, joined["id"])["status"] == "cleared"
    assert [n["kind"] for n in _inbox(world, world.patient_b)] == ["waitlist_cleared"]
    problem(world.api.delete(f"/v1/waitlist/{joined['id']}", token=world.patient_b.token), 409)


# --- refusals ------------------------------------------------------------------------------------


def test_only_a_full_session_has_a_waitlist(world: World) -> None:
    problem(_join(world, world.patient_b), 409, "session_not_full")  # never booked
    world.book(world.patient_a, THURSDAY, "morning")  # one of two places
    problem(_join(world, world.patient_b, period="morning"), 409, "session_not_full")
    problem(_join(world, world.patient_b, date=SUNDAY), 422, "not_offered")
    problem(_join(world, world.patient_b, date=TODAY - dt.timedelta(days=1)), 422)
    body = _session(world) | {"doctor_id": 999999}
    unknown = world.api.post("/v1/waitlist", token=world.patient_b.token, json=body)
    problem(unknown, 404, "doctor_not_found")
    assert ok(world.api.get("/v1/waitlist", token=world.patient_b.token)) == []


def test_a_patient_waits_once_and_never_for_a_place_they_hold(world: World) -> None:
    world.book(world.patient_a, THURSDAY, "afternoon")
    ok(_join(world, world.patient_b), 201)

    problem(_join(world, world.patient_b), 409, "already_waiting")
    problem(_join(world, world.patient_a), 409, "already_booked")
    assert _places(world)["waiting"] == 1


def test_a_patient_is_on_at_most_three_waitlists_a_day(world: World) -> None:
    third = world.register_patient("Qian Feng")
    for doctor in (world.doctor, world.paediatrician):
        world.book(world.patient_a, THURSDAY, "morning", doctor)
        world.book(third, THURSDAY, "morning", doctor)
    world.book(world.patient_a, THURSDAY, "afternoon", world.doctor)
    world.book(third, THURSDAY, "afternoon", world.paediatrician)
    sessions = [
        (world.doctor, "morning"),
        (world.doctor, "afternoon"),
        (world.paediatrician, "morning"),
    ]
    for doctor, period in sessions:
        body = {"doctor_id": doctor.id, "date": THURSDAY.isoformat(), "period": period}
        ok(world.api.post("/v1/waitlist", token=world.patient_b.token, json=body), 201)
    fourth = {
        "doctor_id": world.paediatrician.id,
        "date": THURSDAY.isoformat(),
        "period": "afternoon",
    }

    refused = world.api.post("/v1/waitlist", token=world.patient_b.token, json=fourth)

    problem(refused, 409, "waitlist_limit_reached")
    listed = ok(world.api.get("/v1/waitlist", token=world.patient_b.token))
    assert [(e["doctor_id"], e["period"]) for e in listed] == [  # in the order of the sessions
        (world.doctor.id, "morning"),
        (world.paediatrician.id, "morning"),
        (world.doctor.id, "afternoon"),
    ]


def test_someone_elses_entry_is_404_like_one_that_does_not_exist(world: World) -> None:
    held = world.book(world.patient_a, THURSDAY, "afternoon")
    joined = ok(_join(world, world.patient_b), 201)
    _cancel(world, world.patient_a, held)  # B holds an offer
    path = f"/v1/waitlist/{joined['id']}"

    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/accept")):
        theirs = world.api.request(method, path + suffix, token=world.patient_a.token)
        missing = world.api.request(
            method, f"/v1/waitlist/999999{suffix}", token=world.patient_a.token
        )
        assert problem(theirs, 404, "waitlist_entry_not_found")["detail"].replace(
            str(joined["id"]), "N"
        ) == problem(missing, 404, "waitlist_entry_not_found")["detail"].replace("999999", "N")
    assert _entry(world, world.patient_b, joined["id"])["status"] == "offered"
    assert ok(world.api.get("/v1/waitlist", token=world.patient_a.token)) == []


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"period": "evening"}, {"period"}),
        ({"period": "Morning"}, {"period"}),
        ({"period": None}, {"period"}),
        ({"date": "2026-11-31"}, {"date"}),
        ({"date": "2026-11-26T13:30:00+08:00"}, {"date"}),
        ({"date": "26/11/2026"}, {"date"}),
        ({"date": "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff12\uff16"}, {"date"}),  # fullwidth
        ({"date": "\u0662\u0660\u0662\u0666-\u0661\u0661-\u0662\u0666"}, {"date"}),  # Arabic-Indic
        ({"date": "2026-11-26\u200b"}, {"date"}),  # a zero-width space after it
        ({"date": "\u202e2026-11-26"}, {"date"}),  # a right-to-left override before it
        ({"date": "2026\u201011\u201026"}, {"date"}),  # Unicode hyphens
        ({"date": 20261126}, {"date"}),
        ({"doctor_id": "1"}, {"doctor_id"}),
        ({"doctor_id": 1.5}, {"doctor_id"}),
        ({"doctor_id": True}, {"doctor_id"}),
        ({"doctor_id": None}, {"doctor_id"}),
        ({"doctor_id": [1]}, {"doctor_id"}),
        ({"note": "hi"}, {"note"}),
    ],
)
def test_a_bad_body_is_422_naming_the_field(
    world: World, change: dict[str, object], fields: set[str]
) -> None:
    body = _session(world) | change
    result = world.api.post("/v1/waitlist", token=world.patient_b.token, json=body)
    problem(result, 422, fields=fields)


@pytest.mark.parametrize("missing", ["doctor_id", "date", "period"])
def test_a_missing_field_is_422_naming_it(world: World, missing: str) -> None:
    body = {k: v for k, v in _session(world).items() if k != missing}
    result = world.api.post("/v1/waitlist", token=world.patient_b.token, json=body)
    problem(result, 422, fields={missing})


@pytest.mark.parametrize(
    "raw",
    [
        "9" * 5000,
        "-" + "9" * 5000,
        str(2**63),
        "1e400",
        "NaN",
    ],
    ids=["5000_digits", "minus_5000_digits", "2_pow_63", "1e400", "NaN"],
)
def test_a_huge_or_odd_number_is_refused_never_a_500(world: World, raw: str) -> None:
    body = (
        '{"doctor_id": ' + raw + ', "date": "' + THURSDAY.isoformat() + '", "period": "afternoon"}'
    )
    result = world.api.post(
        "/v1/waitlist",
        token=world.patient_b.token,
        body=body.encode(),
        content_type="application/json",
    )
    if result.status_code == 422:
        problem(result, 422, fields={"doctor_id"})
    else:
        problem(result, 400, "malformed_body")


@pytest.mark.parametrize("doctor_id", [0, -1, 2**31, 2**62])
def test_an_id_no_doctor_can_have_is_refused_never_a_500(world: World, doctor_id: int) -> None:
    body = _session(world) | {"doctor_id": doctor_id}
    result = world.api.post("/v1/waitlist", token=world.patient_b.token, json=body)
    assert result.status_code in (404, 422), result.text
    problem(result, result.status_code)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"", "application/json", 400),
        (b"{", "application/json", 400),
        (b"[]", "application/json", 422),
        (b'{"date": "\\ud800"}', "application/json", 400),
        (b"doctor_id=1", "application/x-www-form-urlencoded", 415),
    ],
)
def test_a_body_that_is_no_command_is_refused(
    world: World, body: bytes, content_type: str, status: int
) -> None:
    result = world.api.post(
        "/v1/waitlist", token=world.patient_b.token, body=body, content_type=content_type
    )
    problem(result, status)


def test_a_path_id_that_is_no_id_is_404(world: World) -> None:
    for segment in ("0", "01", "-1", str(2**31), "1e3", "x"):
        for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/accept")):
            result = world.api.request(
                method, f"/v1/waitlist/{segment}{suffix}", token=world.patient_b.token
            )
            problem(result, 404)


# --- who may call what ---------------------------------------------------------------------------


@pytest.mark.parametrize("account", ["doctor", "admin", None])
def test_only_patients_use_waitlists(world: World, account: str | None) -> None:
    world.book(world.patient_a, THURSDAY, "afternoon")
    joined = ok(_join(world, world.patient_b), 201)
    token = getattr(world, account).token if account else None
    status = 403 if account else 401

    for method, path, body in (
        ("POST", "/v1/waitlist", _session(world)),
        ("POST", "/v1/waitlist", _session(world, FRIDAY)),
        ("GET", "/v1/waitlist", None),
        ("GET", f"/v1/waitlist/{joined['id']}", None),
        ("DELETE", f"/v1/waitlist/{joined['id']}", None),
        ("POST", f"/v1/waitlist/{joined['id']}/accept", None),
    ):
        problem(world.api.request(method, path, token=token, json=body), status)
    assert _entry(world, world.patient_b, joined["id"])["status"] == "waiting"
    assert _places(world)["waiting"] == 1
