"""Attendance and a hospital's own policy over HTTP: the doctor or their hospital's admin marks an
appointment attended or no-show once the session has started; the no-show rule a hospital sets
blocks booking there (and only there) for a while; its reminder times replace the deployment's."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from http_support import FRIDAY, MONDAY, NOW, THURSDAY, TODAY, Account, World, ok, problem

from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.actors import Actor, Role

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def _at(world: World, date: dt.date, hour: int, minute: int = 0) -> None:
    """Move the clock to a Shanghai wall-clock time, and log everyone in again (tokens last an
    hour)."""
    world.clock.set(dt.datetime.combine(date, dt.time(hour, minute), tzinfo=SHANGHAI))
    for account, role in (
        (world.patient_a, "patient"),
        (world.patient_b, "patient"),
        (world.doctor, "doctor"),
        (world.beijing_doctor, "doctor"),
        (world.admin, "admin"),
        (world.other_admin, "admin"),
    ):
        account.token = world.login(account.phone, role)


def _mark(world: World, account: Account, appointment: int, attended: bool) -> Any:
    return world.api.post(
        f"/v1/appointments/{appointment}/attendance",
        token=account.token,
        json={"attended": attended},
    )


def test_attendance_is_marked_by_the_doctor_or_their_admin_once_the_session_started(
    world: World,
) -> None:
    a = world.book(world.patient_a, TODAY, "afternoon")["id"]
    b = world.book(world.patient_b, TODAY, "afternoon", doctor=world.paediatrician)["id"]

    early = problem(_mark(world, world.doctor, a, True), 422)
    _at(world, TODAY, 13, 45)
    by_doctor = ok(_mark(world, world.doctor, a, True))
    by_admin = ok(_mark(world, world.admin, b, False))
    twice = _mark(world, world.doctor, a, False)
    other_doctor = _mark(world, world.beijing_doctor, b, True)
    other_admin = _mark(world, world.other_admin, b, True)
    patient = _mark(world, world.patient_a, a, True)

    assert early["code"] == "session_not_started"
    assert (by_doctor["status"], by_admin["status"]) == ("attended", "no_show")
    assert problem(twice, 409)["code"] == "invalid_transition"
    assert other_doctor.status_code == other_admin.status_code == 404
    assert patient.status_code == 403


def test_a_hospitals_no_show_rule_blocks_booking_there_for_a_while(world: World) -> None:
    policy = {"reminders": None, "no_shows": {"limit": 2, "window_days": 90, "block_days": 30}}
    set_by_admin = ok(
        world.api.put(
            f"/v1/hospitals/{world.shanghai}/policy", token=world.admin.token, json=policy
        )
    )
    first = world.book(world.patient_a, TODAY, "afternoon")["id"]
    second = world.book(world.patient_a, THURSDAY, "morning")["id"]
    _at(world, THURSDAY, 9)
    ok(_mark(world, world.doctor, first, False))
    once = world.api.post(
        "/v1/appointments",
        token=world.patient_a.token,
        json={"doctor_id": world.doctor.id, "date": FRIDAY.isoformat(), "period": "morning"},
    )
    ok(_mark(world, world.doctor, second, False))

    blocked = world.api.post(
        "/v1/appointments",
        token=world.patient_a.token,
        json={"doctor_id": world.doctor.id, "date": MONDAY.isoformat(), "period": "morning"},
    )
    elsewhere = world.api.post(
        "/v1/appointments",
        token=world.patient_a.token,
        json={
            "doctor_id": world.beijing_doctor.id,
            "date": MONDAY.isoformat(),
            "period": "morning",
        },
    )
    someone_else = world.book(world.patient_b, MONDAY, "morning")

    assert set_by_admin == {"hospital_id": world.shanghai, **policy}
    assert once.status_code == 201  # one no-show is not two
    body = problem(blocked, 409)
    assert body["code"] == "booking_blocked"
    assert (THURSDAY + dt.timedelta(days=30)).isoformat() in body["detail"]
    assert elsewhere.status_code == 201  # another hospital's rule (none) applies there
    assert someone_else["status"] == "booked"
    _at(world, THURSDAY + dt.timedelta(days=30), 9)
    later = world.api.post(
        "/v1/appointments",
        token=world.patient_a.token,
        json={
            "doctor_id": world.doctor.id,
            "date": (THURSDAY + dt.timedelta(days=32)).isoformat(),  # a Monday
            "period": "morning",
        },
    )
    assert later.status_code == 201, later.text  # the block is over


def test_a_hospital_policy_is_read_by_anyone_and_set_by_its_admin_only(world: World) -> None:
    path = f"/v1/hospitals/{world.shanghai}/policy"
    nothing_set = ok(world.api.get(path))
    wanted = {
        "reminders": {"evening_at": "20:15", "before_start_minutes": 45},
        "no_shows": None,
    }

    other = world.api.put(path, token=world.other_admin.token, json=wanted)
    saved = ok(world.api.put(path, token=world.admin.token, json=wanted))

    assert nothing_set == {"hospital_id": world.shanghai, "reminders": None, "no_shows": None}
    assert other.status_code == 403
    assert saved == ok(world.api.get(path)) == {"hospital_id": world.shanghai, **wanted}
    assert world.api.get("/v1/hospitals/999999/policy").status_code == 404
    for body, field in (
        (
            {"reminders": {"evening_at": "24:00", "before_start_minutes": 60}},
            "reminders.evening_at",
        ),
        (
            {"reminders": {"evening_at": "20:00", "before_start_minutes": 10}},
            "reminders.before_start_minutes",
        ),
        *(
            (
                {"reminders": {"evening_at": text, "before_start_minutes": 60}},
                "reminders.evening_at",
            )
            # Python's fromisoformat takes these too (found by probing: "23.59" became 23:00).
            for text in ("23.59", "1930Z", "18,30", "T1800", "18.00", "0800Z")
        ),
        ({"no_shows": {"limit": 0, "window_days": 90, "block_days": 30}}, "no_shows.limit"),
        ({"no_shows": {"limit": 3, "window_days": 90, "block_days": 400}}, "no_shows.block_days"),
    ):
        refused = world.api.put(
            path, token=world.admin.token, json={"reminders": None, "no_shows": None, **body}
        )
        assert field in {e["field"] for e in problem(refused, 422)["errors"]}, refused.text
    assert ok(world.api.get(path)) == {"hospital_id": world.shanghai, **wanted}


def test_a_hospitals_reminder_times_replace_the_deployments(world: World) -> None:
    path = f"/v1/hospitals/{world.shanghai}/policy"
    own = {"reminders": {"evening_at": "20:00", "before_start_minutes": 60}, "no_shows": None}
    ok(world.api.put(path, token=world.admin.token, json=own))
    shanghai = world.book(world.patient_a, THURSDAY, "morning")["id"]
    beijing = world.book(world.patient_b, THURSDAY, "morning", doctor=world.beijing_doctor)["id"]
    reminders = world.services.reminders
    evening = dt.datetime.combine(TODAY, dt.time(18), tzinfo=SHANGHAI)

    at_six = reminders.run_once(evening)
    at_eight = reminders.run_once(evening + dt.timedelta(hours=2))
    at_six_am = reminders.run_once(evening + dt.timedelta(hours=12))  # Thursday 06:00
    at_seven = reminders.run_once(evening + dt.timedelta(hours=13))

    def kinds(patient: Account) -> list[str]:
        return [
            str(n.data["reminder"])
            for n in world.services.notifications.of_actor(Actor(patient.id, Role.PATIENT))
            if n.kind is NotificationKind.APPOINTMENT_REMINDER
        ]

    assert (at_six.sent, at_eight.sent, at_six_am.sent, at_seven.sent) == (1, 1, 1, 1)
    assert sorted(kinds(world.patient_b)) == ["before_start", "evening_before"]  # 18:00, 06:00
    assert sorted(kinds(world.patient_a)) == ["before_start", "evening_before"]  # 20:00, 07:00
    assert shanghai != beijing and evening > NOW
