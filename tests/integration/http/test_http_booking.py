"""Booking over HTTP: offered sessions, booking, listing, one appointment, cancelling."""

from __future__ import annotations

import datetime as dt

import pytest
from http_support import (
    BEYOND_WINDOW,
    DAY,
    FRIDAY,
    LAST_BOOKABLE,
    MONDAY,
    SATURDAY,
    SUNDAY,
    THURSDAY,
    TODAY,
    World,
    ok,
    problem,
)

# --- sessions ------------------------------------------------------------------------------------


def test_the_default_listing_runs_from_now_to_the_end_of_the_window(world: World) -> None:
    sessions = ok(world.api.get(f"/v1/doctors/{world.doctor.id}/sessions"))

    offered = [(s["date"], s["period"]) for s in sessions]
    assert offered[0] == (TODAY.isoformat(), "afternoon")  # this morning has started
    assert (TODAY.isoformat(), "morning") not in offered
    assert offered[-1] == (LAST_BOOKABLE.isoformat(), "afternoon")
    assert not [d for d, _ in offered if d == SUNDAY.isoformat()]
    assert offered == sorted(offered, key=lambda s: (s[0], s[1] == "afternoon"))
    assert {
        "date": THURSDAY.isoformat(),
        "period": "morning",
        "quota": 2,
        "remaining": 2,
        "held": 0,
        "waiting": 0,
    } in (sessions)


def test_from_and_to_choose_the_dates(world: World) -> None:
    params = {"from": FRIDAY.isoformat(), "to": MONDAY.isoformat()}

    sessions = ok(world.api.get(f"/v1/doctors/{world.doctor.id}/sessions", params=params))

    assert sessions == [
        {
            "date": FRIDAY.isoformat(),
            "period": "morning",
            "quota": 2,
            "remaining": 2,
            "held": 0,
            "waiting": 0,
        },
        {
            "date": FRIDAY.isoformat(),
            "period": "afternoon",
            "quota": 1,
            "remaining": 1,
            "held": 0,
            "waiting": 0,
        },
        {
            "date": SATURDAY.isoformat(),
            "period": "morning",
            "quota": 2,
            "remaining": 2,
            "held": 0,
            "waiting": 0,
        },
        {
            "date": SATURDAY.isoformat(),
            "period": "afternoon",
            "quota": 1,
            "remaining": 1,
            "held": 0,
            "waiting": 0,
        },
        {
            "date": MONDAY.isoformat(),
            "period": "morning",
            "quota": 2,
            "remaining": 2,
            "held": 0,
            "waiting": 0,
        },
        {
            "date": MONDAY.isoformat(),
            "period": "afternoon",
            "quota": 1,
            "remaining": 1,
            "held": 0,
            "waiting": 0,
        },
    ]


def test_sessions_outside_the_window_are_not_offered(world: World) -> None:
    path = f"/v1/doctors/{world.doctor.id}/sessions"
    past = {"from": (TODAY - 7 * DAY).isoformat(), "to": (TODAY - DAY).isoformat()}
    later = {"from": BEYOND_WINDOW.isoformat(), "to": (BEYOND_WINDOW + 7 * DAY).isoformat()}

    assert ok(world.api.get(path, params=past)) == []
    assert ok(world.api.get(path, params=later)) == []


def test_the_default_listing_reaches_the_last_bookable_day_before_8_in_shanghai(
    world: World,
) -> None:
    # 20:00Z on Tuesday is already 04:00 on Wednesday in Shanghai: the window still closes after
    # 2026-12-09, and a client asking with no dates must see that day's sessions.
    world.clock.set(dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC))

    sessions = ok(world.api.get(f"/v1/doctors/{world.doctor.id}/sessions"))

    assert sessions[0]["date"] == TODAY.isoformat()
    assert sessions[-1]["date"] == LAST_BOOKABLE.isoformat()


def test_remaining_goes_down_with_each_booking_and_back_up_on_cancel(world: World) -> None:
    assert world.remaining(THURSDAY, "morning") == 2
    first = world.book(world.patient_a, THURSDAY, "morning")
    assert world.remaining(THURSDAY, "morning") == 1
    world.book(world.patient_b, THURSDAY, "morning")
    assert world.remaining(THURSDAY, "morning") == 0

    cancel = world.api.post(f"/v1/appointments/{first['id']}/cancel", token=world.patient_a.token)

    ok(cancel)
    assert world.remaining(THURSDAY, "morning") == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "tomorrow"}, "from"),
        ({"to": "2026-11-31"}, "to"),
        ({"from": "2026-11-26", "to": "2026-11-25"}, "to"),
        ({"from": "2026-11-26", "to": "2027-06-01"}, "to"),
        ({"from": "26/11/2026"}, "from"),
    ],
)
def test_bad_dates_are_422_naming_them(world: World, params: dict[str, str], field: str) -> None:
    result = world.api.get(f"/v1/doctors/{world.doctor.id}/sessions", params=params)
    problem(result, 422, fields={field})


def test_sessions_of_an_unknown_doctor_is_404(world: World) -> None:
    problem(world.api.get("/v1/doctors/999999/sessions"), 404, "doctor_not_found")


def test_sessions_of_an_unverified_doctor_are_404_like_an_unknown_doctors(world: World) -> None:
    """As private as their profile: the public listing does not tell that they exist."""
    newcomer = world.register_doctor("Zhou Min")

    hidden = problem(world.api.get(f"/v1/doctors/{newcomer.id}/sessions"), 404, "doctor_not_found")
    unknown = problem(world.api.get("/v1/doctors/999999/sessions"), 404, "doctor_not_found")

    assert hidden["detail"].replace(str(newcomer.id), "N") == unknown["detail"].replace(
        "999999", "N"
    )


# --- booking -------------------------------------------------------------------------------------


def test_booking_answers_201_with_every_field_of_the_appointment(world: World) -> None:
    body = {"doctor_id": world.doctor.id, "date": THURSDAY.isoformat(), "period": "morning"}

    booked = ok(world.api.post("/v1/appointments", token=world.patient_a.token, json=body), 201)

    assert isinstance(booked["id"], int)
    assert booked["status"] == "booked"
    assert booked["patient_id"] == world.patient_a.id
    assert booked["patient_name"] == "Wang Xiaoming"
    assert booked["patient_phone"] == world.patient_a.phone
    assert booked["doctor_id"] == world.doctor.id
    assert booked["doctor_name"] == "Zhang Wei"
    assert booked["hospital"] == "Ruijin Hospital"
    assert booked["department"] == "Cardiology"
    assert booked["date"] == THURSDAY.isoformat()
    assert booked["period"] == "morning"
    assert booked["number"] == 1
    assert dt.datetime.fromisoformat(booked["booked_at"]) == world.clock.now()
    assert booked["cancelled_at"] is None and booked["cancelled_by"] is None


def test_queue_numbers_follow_the_order_of_booking(world: World) -> None:
    first = world.book(world.patient_a, THURSDAY, "morning")
    second = world.book(world.patient_b, THURSDAY, "morning")

    assert (first["number"], second["number"]) == (1, 2)
    assert second["patient_name"] == "Zhao Li"


def test_booking_the_same_session_twice_is_409_already_booked(world: World) -> None:
    body = {"doctor_id": world.doctor.id, "date": THURSDAY.isoformat(), "period": "morning"}
    ok(world.api.post("/v1/appointments", token=world.patient_a.token, json=body), 201)

    again = world.api.post("/v1/appointments", token=world.patient_a.token, json=body)

    problem(again, 409, "already_booked")
    assert world.remaining(THURSDAY, "morning") == 1


def test_a_full_session_is_409_session_full(world: World) -> None:
    world.book(world.patient_a, THURSDAY, "afternoon")  # afternoons have one place
    body = {"doctor_id": world.doctor.id, "date": THURSDAY.isoformat(), "period": "afternoon"}

    result = world.api.post("/v1/appointments", token=world.patient_b.token, json=body)

    problem(result, 409, "session_full")
    assert ok(world.api.get("/v1/appointments", token=world.patient_b.token)) == []


def test_a_fourth_appointment_on_one_day_is_409_daily_limit_reached(world: World) -> None:
    world.book(world.patient_a, THURSDAY, "morning")
    world.book(world.patient_a, THURSDAY, "afternoon")
    world.book(world.patient_a, THURSDAY, "morning", world.paediatrician)
    body = {
        "doctor_id": world.paediatrician.id,
        "date": THURSDAY.isoformat(),
        "period": "afternoon",
    }

    result = world.api.post("/v1/appointments", token=world.patient_a.token, json=body)

    problem(result, 409, "daily_limit_reached")


@pytest.mark.parametrize(
    ("date", "period", "code"),
    [
        (SUNDAY, "morning", "not_offered"),  # the schedule is off on Sundays
        (TODAY, "morning", "outside_window"),  # started at 08:00, it is 08:30
        (TODAY - DAY, "afternoon", "outside_window"),  # past
        (BEYOND_WINDOW, "morning", "outside_window"),
    ],
)
def test_a_session_that_cannot_be_booked_is_422(
    world: World, date: dt.date, period: str, code: str
) -> None:
    body = {"doctor_id": world.doctor.id, "date": date.isoformat(), "period": period}

    result = world.api.post("/v1/appointments", token=world.patient_a.token, json=body)

    problem(result, 422, code)
    assert ok(world.api.get("/v1/appointments", token=world.patient_a.token)) == []


def test_the_last_day_of_the_window_and_this_afternoon_can_be_booked(world: World) -> None:
    assert world.book(world.patient_a, LAST_BOOKABLE, "afternoon")["status"] == "booked"
    assert world.book(world.patient_a, TODAY, "afternoon")["status"] == "booked"


def test_booking_an_unknown_doctor_is_404(world: World) -> None:
    body = {"doctor_id": 999999, "date": THURSDAY.isoformat(), "period": "morning"}
    result = world.api.post("/v1/appointments", token=world.patient_a.token, json=body)
    problem(result, 404, "doctor_not_found")


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"period": "evening"}, {"period"}),
        ({"date": "2026-11-31"}, {"date"}),
        ({"date": "2026-11-26T08:00:00+08:00"}, {"date"}),
        ({"doctor_id": "1"}, {"doctor_id"}),
        ({"doctor_id": None}, {"doctor_id"}),
        ({"note": "hi"}, {"note"}),
    ],
)
def test_a_bad_booking_is_422_naming_the_field(
    world: World, change: dict[str, object], fields: set[str]
) -> None:
    body = {"doctor_id": world.doctor.id, "date": THURSDAY.isoformat(), "period": "morning"}
    result = world.api.post("/v1/appointments", token=world.patient_a.token, json=body | change)
    problem(result, 422, fields=fields)


@pytest.mark.parametrize("account", ["doctor", "admin"])
def test_only_patients_book(world: World, account: str) -> None:
    body = {"doctor_id": world.doctor.id, "date": THURSDAY.isoformat(), "period": "morning"}
    token = getattr(world, account).token
    problem(world.api.post("/v1/appointments", token=token, json=body), 403)
    assert world.remaining(THURSDAY, "morning") == 2


# --- listing and reading -------------------------------------------------------------------------


def test_a_patient_lists_their_own_appointments_only(world: World) -> None:
    a_friday = world.book(world.patient_a, FRIDAY, "morning")
    a_thursday = world.book(world.patient_a, THURSDAY, "afternoon")
    b_thursday = world.book(world.patient_b, THURSDAY, "morning")

    mine = ok(world.api.get("/v1/appointments", token=world.patient_a.token))
    theirs = ok(world.api.get("/v1/appointments", token=world.patient_b.token))

    assert [a["id"] for a in mine] == [a_thursday["id"], a_friday["id"]]  # in time order
    assert mine[0] == a_thursday
    assert [a["id"] for a in theirs] == [b_thursday["id"]]


def test_a_doctor_lists_the_appointments_with_them(world: World) -> None:
    with_doctor = world.book(world.patient_a, THURSDAY, "morning")
    world.book(world.patient_b, THURSDAY, "morning", world.paediatrician)

    seen = ok(world.api.get("/v1/appointments", token=world.doctor.token))

    assert [a["id"] for a in seen] == [with_doctor["id"]]
    assert seen[0]["patient_name"] == "Wang Xiaoming"
    assert seen[0]["patient_phone"] == world.patient_a.phone


def test_the_date_filter(world: World) -> None:
    thursday = world.book(world.patient_a, THURSDAY, "morning")
    world.book(world.patient_a, FRIDAY, "morning")

    for token in (world.patient_a.token, world.doctor.token):
        found = ok(
            world.api.get("/v1/appointments", token=token, params={"date": THURSDAY.isoformat()})
        )
        assert [a["id"] for a in found] == [thursday["id"]]
    on_monday = {"date": MONDAY.isoformat()}
    assert (
        ok(world.api.get("/v1/appointments", token=world.patient_a.token, params=on_monday)) == []
    )


def test_a_bad_date_filter_is_422(world: World) -> None:
    result = world.api.get(
        "/v1/appointments", token=world.patient_a.token, params={"date": "thursday"}
    )
    problem(result, 422, fields={"date"})


def test_admins_have_no_appointment_list(world: World) -> None:
    world.book(world.patient_a, THURSDAY, "morning")
    problem(world.api.get("/v1/appointments", token=world.admin.token), 403)


def test_one_appointment_is_seen_by_its_patient_and_its_doctor_only(world: World) -> None:
    booked = world.book(world.patient_a, THURSDAY, "morning")
    path = f"/v1/appointments/{booked['id']}"

    assert ok(world.api.get(path, token=world.patient_a.token)) == booked
    assert ok(world.api.get(path, token=world.doctor.token)) == booked
    for stranger in (world.patient_b, world.paediatrician):
        problem(world.api.get(path, token=stranger.token), 404, "appointment_not_found")
    problem(world.api.get(path, token=world.admin.token), 403)
    problem(world.api.get("/v1/appointments/999999", token=world.patient_a.token), 404)


# --- cancelling ----------------------------------------------------------------------------------


def test_a_patient_cancels_their_appointment(world: World) -> None:
    booked = world.book(world.patient_a, THURSDAY, "morning")
    world.clock.advance(dt.timedelta(minutes=5))

    cancelled = ok(
        world.api.post(f"/v1/appointments/{booked['id']}/cancel", token=world.patient_a.token)
    )

    assert cancelled["id"] == booked["id"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_by"] == "patient"
    assert dt.datetime.fromisoformat(cancelled["cancelled_at"]) == world.clock.now()
    seen = ok(world.api.get(f"/v1/appointments/{booked['id']}", token=world.patient_a.token))
    assert seen["status"] == "cancelled"
    rebooked = world.book(world.patient_a, THURSDAY, "morning")
    assert rebooked["number"] == 2  # numbers are never handed out twice


def test_another_patient_cannot_cancel_and_learns_nothing(world: World) -> None:
    booked = world.book(world.patient_a, THURSDAY, "morning")

    refused = world.api.post(f"/v1/appointments/{booked['id']}/cancel", token=world.patient_b.token)
    missing = world.api.post("/v1/appointments/999999/cancel", token=world.patient_b.token)

    assert problem(refused, 404)["code"] == problem(missing, 404)["code"]
    seen = ok(world.api.get(f"/v1/appointments/{booked['id']}", token=world.patient_a.token))
    assert seen["status"] == "booked"


def test_cancelling_twice_is_409_not_cancellable(world: World) -> None:
    booked = world.book(world.patient_a, THURSDAY, "morning")
    path = f"/v1/appointments/{booked['id']}/cancel"
    ok(world.api.post(path, token=world.patient_a.token))

    problem(world.api.post(path, token=world.patient_a.token), 409, "not_cancellable")
    assert world.remaining(THURSDAY, "morning") == 2


def test_cancelling_once_the_session_has_started_is_409_not_cancellable(world: World) -> None:
    booked = world.book(world.patient_a, THURSDAY, "morning")
    world.clock.set(dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC))  # Thursday 08:00 in Shanghai
    token = world.login(world.patient_a.phone, "patient")

    result = world.api.post(f"/v1/appointments/{booked['id']}/cancel", token=token)

    problem(result, 409, "not_cancellable")


@pytest.mark.parametrize("account", ["doctor", "admin"])
def test_only_the_patient_cancels(world: World, account: str) -> None:
    booked = world.book(world.patient_a, THURSDAY, "morning")
    token = getattr(world, account).token
    problem(world.api.post(f"/v1/appointments/{booked['id']}/cancel", token=token), 403)
