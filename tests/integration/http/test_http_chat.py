"""Consultation chat over HTTP: starting a conversation, the listing and paging its messages,
on the in-memory store and (``sql_world``) on SQLite and MariaDB."""

from __future__ import annotations

from http_support import THURSDAY, World, ok, problem

from medbook.domain.chat.model import MessageKind
from medbook.domain.shared.actors import Actor


def _start(world: World) -> int:
    world.book(world.patient_a, THURSDAY)
    body = {"doctor_id": world.doctor.id}
    created = ok(world.api.post("/v1/conversations", token=world.patient_a.token, json=body), 201)
    assert created == {
        "id": created["id"],
        "doctor_id": world.doctor.id,
        "patient_id": world.patient_a.id,
    }
    again = ok(world.api.post("/v1/conversations", token=world.patient_a.token, json=body))
    assert again == created
    return int(created["id"])


def _actor(world: World, token: str) -> Actor:
    return world.services.accounts.authenticate(token)


def _conversation_flow(world: World) -> None:
    conversation = _start(world)
    chat = world.services.chat
    patient, doctor = _actor(world, world.patient_a.token), _actor(world, world.doctor.token)
    ids = [
        chat.send_as(patient, conversation, f"c{n}", MessageKind.TEXT, f"message {n}").message.id
        for n in range(5)
    ]
    chat.send_as(doctor, conversation, "d1", MessageKind.TEXT, "Take the tablets with food")
    chat.read_as(doctor, conversation, ids[1] or 0)

    listed = ok(world.api.get("/v1/conversations", token=world.doctor.token))
    assert [c["id"] for c in listed] == [conversation]
    [summary] = listed
    assert summary["patient"] == {"id": world.patient_a.id, "name": world.patient_a.name}
    assert summary["doctor"] == {"id": world.doctor.id, "name": world.doctor.name}
    assert summary["unread"] == 3
    assert summary["last_message"]["content"] == "Take the tablets with food"
    assert summary["last_message"]["sender_role"] == "doctor"
    assert ok(world.api.get("/v1/conversations", token=world.patient_a.token))[0]["unread"] == 1
    assert ok(world.api.get("/v1/conversations", token=world.patient_b.token)) == []

    path = f"/v1/conversations/{conversation}/messages"
    page = ok(world.api.get(path, token=world.patient_a.token, params={"limit": "2"}))
    assert [m["content"] for m in page] == ["message 4", "Take the tablets with food"]
    older = ok(
        world.api.get(
            path, token=world.patient_a.token, params={"before": str(page[0]["id"]), "limit": "3"}
        )
    )
    assert [m["id"] for m in older] == ids[1:4]
    assert [m["read"] for m in older] == [True, False, False]
    newer = ok(world.api.get(path, token=world.doctor.token, params={"after": str(ids[3])}))
    assert [m["content"] for m in newer] == ["message 4", "Take the tablets with food"]
    assert set(newer[0]) == {
        "id", "conversation_id", "sender_id", "sender_role", "kind", "content", "sent_at", "read"
    }  # fmt: skip

    problem(world.api.get(path, token=world.patient_b.token), 404, "conversation_not_found")
    problem(world.api.get(path, token=world.paediatrician.token), 404, "conversation_not_found")
    problem(world.api.get(path, token=world.admin.token), 404, "conversation_not_found")
    too_many = world.api.get(path, token=world.patient_a.token, params={"limit": "101"})
    problem(too_many, 422, fields={"limit"})


def test_a_conversation_over_http(world: World) -> None:
    _conversation_flow(world)


def test_a_conversation_over_http_on_sql(sql_world: World) -> None:
    _conversation_flow(sql_world)


def test_no_relationship_is_403_and_only_patients_start(world: World) -> None:
    body = {"doctor_id": world.doctor.id}
    refused = world.api.post("/v1/conversations", token=world.patient_a.token, json=body)
    problem(refused, 403, "no_relationship")
    as_doctor = world.api.post("/v1/conversations", token=world.doctor.token, json=body)
    problem(as_doctor, 403, "forbidden")
    missing = world.api.post(
        "/v1/conversations", token=world.patient_a.token, json={"doctor_id": 999999}
    )
    problem(missing, 404, "doctor_not_found")
    problem(world.api.get("/v1/conversations", token=world.admin.token), 403, "forbidden")
