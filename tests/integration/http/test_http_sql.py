"""The HTTP API on the SQL adapter, on SQLite and MariaDB (``engine`` is parametrised over both)."""

from __future__ import annotations

import datetime as dt

from http_support import (
    FRIDAY,
    JPEG,
    PASSWORD,
    PNG,
    SUNDAY,
    THURSDAY,
    World,
    file_path,
    ok,
    problem,
)


def test_the_booking_flow_on_sql(sql_world: World) -> None:
    world = sql_world
    assert ok(world.api.get("/readyz")) == {"status": "ready"}
    assert world.remaining(THURSDAY, "morning") == 2

    first = world.book(world.patient_a, THURSDAY, "morning")
    second = world.book(world.patient_b, THURSDAY, "morning")

    assert first["status"] == "booked"
    assert (first["patient_name"], first["patient_phone"]) == ("Wang Xiaoming", "13800000001")
    assert (first["doctor_name"], first["hospital"], first["department"]) == (
        "Zhang Wei",
        "Ruijin Hospital",
        "Cardiology",
    )
    assert (first["number"], second["number"]) == (1, 2)
    assert world.remaining(THURSDAY, "morning") == 0
    body = {"doctor_id": world.doctor.id, "date": THURSDAY.isoformat(), "period": "morning"}
    again = world.api.post("/v1/appointments", token=world.patient_a.token, json=body)
    problem(again, 409, "already_booked")
    world.book(world.patient_a, THURSDAY, "afternoon")
    full = body | {"period": "afternoon"}
    problem(world.api.post("/v1/appointments", token=world.patient_b.token, json=full), 409)
    sunday = body | {"date": SUNDAY.isoformat()}
    problem(
        world.api.post("/v1/appointments", token=world.patient_a.token, json=sunday),
        422,
        "not_offered",
    )

    mine = ok(world.api.get("/v1/appointments", token=world.patient_a.token))
    assert [a["id"] for a in mine] == [first["id"], mine[1]["id"]]
    assert ok(world.api.get(f"/v1/appointments/{first['id']}", token=world.doctor.token)) == first
    problem(world.api.get(f"/v1/appointments/{first['id']}", token=world.patient_b.token), 404)

    cancel = f"/v1/appointments/{first['id']}/cancel"
    problem(world.api.post(cancel, token=world.patient_b.token), 404)
    assert ok(world.api.post(cancel, token=world.patient_a.token))["status"] == "cancelled"
    problem(world.api.post(cancel, token=world.patient_a.token), 409, "not_cancellable")
    assert world.remaining(THURSDAY, "morning") == 1


def test_leave_and_notifications_on_sql(sql_world: World) -> None:
    world = sql_world
    booked = world.book(world.patient_a, FRIDAY, "morning")
    leave = {"date": FRIDAY.isoformat(), "period": "morning"}

    taken = ok(world.api.post("/v1/doctors/me/leave", token=world.doctor.token, json=leave), 201)

    assert taken["cancelled_appointments"] == 1
    seen = ok(world.api.get(f"/v1/appointments/{booked['id']}", token=world.patient_a.token))
    assert (seen["status"], seen["cancelled_by"]) == ("cancelled", "doctor_leave")
    notices = ok(world.api.get("/v1/notifications", token=world.patient_a.token))
    assert [n["data"]["appointment_id"] for n in notices] == [booked["id"]]
    read = f"/v1/notifications/{notices[0]['id']}/read"
    problem(world.api.post(read, token=world.patient_b.token), 404)
    assert ok(world.api.post(read, token=world.patient_a.token))["read"] is True
    problem(
        world.api.post("/v1/doctors/me/leave", token=world.doctor.token, json=leave),
        409,
        "already_on_leave",
    )


def test_accounts_on_sql(sql_world: World) -> None:
    world = sql_world
    taken = {"phone": world.patient_a.phone, "name": "Someone", "password": PASSWORD}
    problem(world.api.post("/v1/patients", json=taken), 409, "phone_taken")
    me = ok(world.api.get("/v1/me", token=world.patient_a.token))
    assert (me["id"], me["name"]) == (world.patient_a.id, "Wang Xiaoming")
    world.clock.advance(dt.timedelta(hours=1))
    problem(world.api.get("/v1/me", token=world.patient_a.token), 401)


def test_a_department_name_twice_in_a_hospital_is_409_on_sql(sql_world: World) -> None:
    world = sql_world
    path = f"/v1/hospitals/{world.shanghai}/departments"

    problem(world.api.post(path, token=world.admin.token, json={"name": "Cardiology"}), 409)


def test_avatars_on_sql(sql_world: World) -> None:
    """The avatar's storage key is kept in the database: a second avatar deletes the first."""
    world = sql_world
    avatar = "/v1/doctors/me/avatar"
    first = ok(world.api.upload(avatar, PNG, "image/png", method="PUT", token=world.doctor.token))
    assert (
        ok(world.api.get("/v1/me", token=world.doctor.token))["doctor"]["avatar_url"]
        == (first["avatar_url"])
    )

    second = ok(
        world.api.upload(avatar, JPEG, "image/jpeg", method="PUT", token=world.doctor.token)
    )

    assert second["avatar_url"] != first["avatar_url"]
    problem(world.api.get(file_path(first["avatar_url"])), 404, "object_not_found")
    served = world.api.get(file_path(second["avatar_url"]))
    assert (served.status_code, served.content) == (200, JPEG)
    public = ok(world.api.get(f"/v1/doctors/{world.doctor.id}"))
    assert public["avatar_url"] == second["avatar_url"]
    login = {"phone": world.doctor.phone, "password": PASSWORD, "role": "doctor"}
    assert ok(world.api.post("/v1/sessions", json=login))["avatar_url"] == second["avatar_url"]


def test_a_specialty_longer_than_documented_is_422_on_sql(sql_world: World) -> None:
    world = sql_world
    too_long = {"specialty": "a" * 201}

    result = world.api.patch("/v1/doctors/me", token=world.doctor.token, json=too_long)

    problem(result, 422, fields={"specialty"})


def test_a_hospitals_doctors_for_its_admin_on_sql(sql_world: World) -> None:
    world = sql_world
    pending = world.services.directory.add_doctor(
        world.shanghai, world.paediatrics, name="Not Yet Approved", phone="13911111111"
    )
    path = f"/v1/hospitals/{world.shanghai}/doctors"

    listed = ok(world.api.get(path, token=world.admin.token))
    awaiting = ok(world.api.get(path, token=world.admin.token, params={"verified": "false"}))
    approved = ok(world.api.get(path, token=world.admin.token, params={"verified": "true"}))

    assert [d["id"] for d in listed] == sorted(
        [world.doctor.id, world.paediatrician.id, pending.id]
    )
    assert [(d["id"], d["department"], d["verified"]) for d in awaiting] == [
        (pending.id, "Paediatrics", False)
    ]
    assert {d["id"] for d in approved} == {world.doctor.id, world.paediatrician.id}
