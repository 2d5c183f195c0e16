"""A doctor's leave over HTTP, and the notifications it leaves the patients it cancels."""

from __future__ import annotations

import datetime as dt

import pytest
from http_support import FRIDAY, SUNDAY, THURSDAY, TODAY, World, ok, problem


def _leave(world: World, date: dt.date, period: str, token: str | None = None):  # type: ignore[no-untyped-def]
    body = {"date": date.isoformat(), "period": period}
    return world.api.post("/v1/doctors/me/leave", token=token or world.doctor.token, json=body)


def test_leave_cancels_the_session_and_tells_its_patients(world: World) -> None:
    a = world.book(world.patient_a, FRIDAY, "morning")
    b = world.book(world.patient_b, FRIDAY, "morning")
    kept = world.book(world.patient_a, FRIDAY, "afternoon")
    world.clock.advance(dt.timedelta(minutes=10))

    taken = ok(_leave(world, FRIDAY, "morning"), 201)

    assert taken == {"date": FRIDAY.isoformat(), "period": "morning", "cancelled_appointments": 2}
    mine = {x["id"]: x for x in ok(world.api.get("/v1/appointments", token=world.patient_a.token))}
    assert mine[a["id"]]["status"] == "cancelled"
    assert mine[a["id"]]["cancelled_by"] == "doctor_leave"
    assert mine[kept["id"]]["status"] == "booked"
    assert world.remaining(FRIDAY, "morning") is None  # no longer offered
    for patient, appointment in ((world.patient_a, a), (world.patient_b, b)):
        notices = ok(world.api.get("/v1/notifications", token=patient.token))
        assert len(notices) == 1
        notice = notices[0]
        assert notice["kind"] == "appointment_cancelled_by_leave"
        assert notice["read"] is False
        assert notice["title"] and "Zhang Wei" in notice["body"]
        assert notice["data"] == {
            "appointment_id": appointment["id"],
            "doctor_id": world.doctor.id,
            "date": FRIDAY.isoformat(),
            "period": "morning",
        }
        assert dt.datetime.fromisoformat(notice["created_at"]) == world.clock.now()


def test_leave_on_an_empty_session_cancels_nothing(world: World) -> None:
    taken = ok(_leave(world, THURSDAY, "afternoon"), 201)

    assert taken["cancelled_appointments"] == 0
    assert world.remaining(THURSDAY, "afternoon") is None
    body = {"doctor_id": world.doctor.id, "date": THURSDAY.isoformat(), "period": "afternoon"}
    result = world.api.post("/v1/appointments", token=world.patient_a.token, json=body)
    problem(result, 422, "not_offered")


def test_leave_twice_for_a_session_is_409(world: World) -> None:
    ok(_leave(world, THURSDAY, "morning"), 201)
    problem(_leave(world, THURSDAY, "morning"), 409, "already_on_leave")


@pytest.mark.parametrize(
    ("date", "period", "code"),
    [
        (TODAY, "morning", "outside_window"),  # it has started
        (SUNDAY, "morning", "not_offered"),  # the doctor does not work then anyway
    ],
)
def test_leave_for_a_session_that_cannot_be_taken_off_is_422(
    world: World, date: dt.date, period: str, code: str
) -> None:
    problem(_leave(world, date, period), 422, code)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"date": "2026-11-26"}, {"period"}),
        ({"date": "2026-11-26", "period": "night"}, {"period"}),
        ({"date": "soon", "period": "morning"}, {"date"}),
    ],
)
def test_a_bad_leave_is_422(world: World, body: dict[str, str], fields: set[str]) -> None:
    result = world.api.post("/v1/doctors/me/leave", token=world.doctor.token, json=body)
    problem(result, 422, fields=fields)


@pytest.mark.parametrize("account", ["patient_a", "admin"])
def test_only_doctors_take_leave(world: World, account: str) -> None:
    world.book(world.patient_a, THURSDAY, "morning")
    problem(_leave(world, THURSDAY, "morning", getattr(world, account).token), 403)
    assert world.remaining(THURSDAY, "morning") == 1


# --- notifications -------------------------------------------------------------------------------


def _notified(world: World) -> int:
    """Patient A's appointments on Thursday and Friday mornings are cancelled by leave, in turn;
    the id of the first notice."""
    world.book(world.patient_a, THURSDAY, "morning")
    world.book(world.patient_a, FRIDAY, "morning")
    ok(_leave(world, THURSDAY, "morning"), 201)
    world.clock.advance(dt.timedelta(minutes=1))
    ok(_leave(world, FRIDAY, "morning"), 201)
    notices = ok(world.api.get("/v1/notifications", token=world.patient_a.token))
    return int(notices[-1]["id"])


def test_notifications_come_newest_first(world: World) -> None:
    _notified(world)

    notices = ok(world.api.get("/v1/notifications", token=world.patient_a.token))

    assert [n["data"]["date"] for n in notices] == [FRIDAY.isoformat(), THURSDAY.isoformat()]


def test_reading_a_notification_marks_it(world: World) -> None:
    first = _notified(world)

    read = ok(world.api.post(f"/v1/notifications/{first}/read", token=world.patient_a.token))

    assert (read["id"], read["read"]) == (first, True)
    unread = ok(
        world.api.get(
            "/v1/notifications", token=world.patient_a.token, params={"unread_only": "true"}
        )
    )
    assert first not in [n["id"] for n in unread]
    assert len(unread) == 1
    every = ok(
        world.api.get(
            "/v1/notifications", token=world.patient_a.token, params={"unread_only": "false"}
        )
    )
    assert [n["read"] for n in every] == [False, True]


def test_reading_a_notification_twice_is_fine(world: World) -> None:
    first = _notified(world)
    path = f"/v1/notifications/{first}/read"
    ok(world.api.post(path, token=world.patient_a.token))
    assert ok(world.api.post(path, token=world.patient_a.token))["read"] is True


@pytest.mark.parametrize("account", ["patient_b", "doctor", "admin"])
def test_another_users_notification_is_404(world: World, account: str) -> None:
    first = _notified(world)
    token = getattr(world, account).token

    result = world.api.post(f"/v1/notifications/{first}/read", token=token)

    problem(result, 404, "notification_not_found")
    assert ok(world.api.get("/v1/notifications", token=token)) == []
    notices = ok(world.api.get("/v1/notifications", token=world.patient_a.token))
    assert not any(n["read"] for n in notices)


def test_an_unknown_notification_is_404(world: World) -> None:
    result = world.api.post("/v1/notifications/999999/read", token=world.patient_a.token)
    problem(result, 404, "notification_not_found")


def test_a_bad_unread_only_is_422(world: World) -> None:
    result = world.api.get(
        "/v1/notifications", token=world.patient_a.token, params={"unread_only": "yes"}
    )
    problem(result, 422, fields={"unread_only"})


def test_a_user_with_no_notifications_gets_an_empty_list(world: World) -> None:
    for account in (world.patient_b, world.doctor, world.admin):
        assert ok(world.api.get("/v1/notifications", token=account.token)) == []
