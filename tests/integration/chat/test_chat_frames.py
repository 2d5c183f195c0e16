"""The chat server against what a hostile or broken client sends: every bad frame earns an error
frame with a stable ``code`` (and the ``field`` at fault, when one is), and the connection stays
usable; what a connection may not do at all (too large, too many frames, no or a bad login)
closes it with its own code. Then the pushes: notifications, and the one inbox notice an offline
recipient gets."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode
from ws_support import (
    LIMITS,
    WAIT,
    ChatClient,
    Frame,
    RunningChat,
    Serve,
    World,
    connected,
    running,
)

from medbook.adapters.broker import LocalBroker
from medbook.domain.chat.model import MessageKind, Party
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.shared.actors import Role
from medbook.domain.shared.entity import MAX_ID
from medbook.entrypoints.chat.server import SYNC_PAGE, ChatLimits

HUGE = 10**30


@pytest.fixture
def patient(world: World, url: str) -> Iterator[ChatClient]:
    with connected(url, world.patient.token) as client:
        yield client


@pytest.fixture
def doctor(world: World, url: str) -> Iterator[ChatClient]:
    with connected(url, world.doctor.token) as client:
        yield client


def send_frame(world: World, client_id: str = "c-1", **changes: Any) -> Frame:
    frame = {
        "type": "send",
        "conversation_id": world.conversation_id,
        "client_id": client_id,
        "kind": "text",
        "content": "Hello, doctor",
    }
    frame.update(changes)
    return frame


def assert_error(frame: Frame, code: str, field: str | None) -> None:
    assert frame["type"] == "error", frame
    assert frame["code"] == code, frame
    assert isinstance(frame["detail"], str) and frame["detail"], frame
    if field is None:
        assert "field" not in frame, frame
    else:
        assert frame.get("field") == field, frame


def assert_usable(client: ChatClient) -> None:
    client.ping()


def assert_nothing_delivered(*clients: ChatClient) -> None:
    """No message, receipt or notification reached these connections (read all they were sent)."""
    for client in clients:
        client.ping()
        delivered = [f for f in client.inbox if f["type"] in ("message", "read", "notification")]
        assert delivered == [], delivered


# --- frames that are not frames ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ("hello", "malformed_frame", None),
        ("", "malformed_frame", None),
        ('{"type": "ping"', "malformed_frame", None),
        ("[1, 2]", "invalid_frame", "frame"),
        ("[]", "invalid_frame", "frame"),
        ("42", "invalid_frame", "frame"),
        ("null", "invalid_frame", "frame"),
        ('"ping"', "invalid_frame", "frame"),
        ("true", "invalid_frame", "frame"),
        ('{"conversation_id": 1}', "invalid_frame", "type"),
        ("{}", "invalid_frame", "type"),
        ('{"type": "fly"}', "invalid_frame", "type"),
        ('{"type": "PING"}', "invalid_frame", "type"),
        ('{"type": null}', "invalid_frame", "type"),
        ('{"type": 7}', "invalid_frame", "type"),
        ('{"type": "auth", "token": "again"}', "invalid_frame", "type"),  # auth comes once
        ('{"type": "ack"}', "invalid_frame", "type"),  # a server frame
        ('{"type": "ping", "type": "ping"}', "malformed_frame", None),
        ('{"type": "sync", "after": 1, "after": 2}', "malformed_frame", None),
        ('{"type": "sync", "after": NaN}', "malformed_frame", None),
        ('{"type": "sync", "after": Infinity}', "malformed_frame", None),
        ('{"type": "sync", "after": -Infinity}', "malformed_frame", None),
        ('{"type": "ping", "x": "\\ud800"}', "malformed_frame", None),
        ('{"type": "ping", "\\udfff": 1}', "malformed_frame", None),
        ('{"type": "ping\\ud800"}', "malformed_frame", None),
        ("[" * 200 + "]" * 200, "malformed_frame", None),
        ('{"type": "ping", "x": ' + "[" * 40 + "]" * 40 + "}", "malformed_frame", None),
    ],
)
def test_text_that_is_not_a_frame_is_answered_with_an_error(
    patient: ChatClient, doctor: ChatClient, raw: str, code: str, field: str | None
) -> None:
    assert_error(patient.error_for(raw), code, field)

    assert_usable(patient)
    assert_nothing_delivered(doctor)


@pytest.mark.parametrize("raw", ['{"type": []}', '{"type": {}}', '{"type": ["ping"]}'])
def test_a_type_that_is_an_array_or_object_is_an_invalid_frame(
    patient: ChatClient, raw: str
) -> None:
    assert_error(patient.error_for(raw), "invalid_frame", "type")
    assert_usable(patient)


def test_a_lone_surrogate_in_a_message_is_refused_and_nothing_is_stored(
    world: World, patient: ChatClient, doctor: ChatClient
) -> None:
    raw = json.dumps(send_frame(world)).replace("Hello, doctor", "Hello \\ud800")

    assert_error(patient.error_for(raw), "malformed_frame", None)

    assert_nothing_delivered(doctor)
    assert patient.sync(0) == ([], 0)


@pytest.mark.parametrize("frame", [b'{"type": "ping"}', b"\x00\xff", b""])
def test_a_binary_frame_is_refused(patient: ChatClient, frame: bytes) -> None:
    assert_error(patient.error_for(frame), "invalid_frame", "frame")
    assert_usable(patient)


def test_a_text_frame_that_is_not_utf8_closes_the_connection_1007(patient: ChatClient) -> None:
    patient.send_raw(b'{"type": "ping", "x": "\xed\xa0\x80"}', text=True)

    assert patient.closed_with() == 1007


# --- frames whose fields are wrong ---------------------------------------------------------------

FIELD_ERRORS: list[tuple[dict[str, Any], str, str | None]] = [
    # numbers beyond every id: refused by the frame's structure, naming the field
    ({"conversation_id": HUGE}, "invalid_frame", "conversation_id"),
    ({"conversation_id": -HUGE}, "invalid_frame", "conversation_id"),
    ({"conversation_id": 2**31}, "invalid_frame", "conversation_id"),
    ({"conversation_id": 1.5}, "invalid_frame", "conversation_id"),
    ({"conversation_id": "1"}, "invalid_frame", "conversation_id"),
    ({"conversation_id": True}, "invalid_frame", "conversation_id"),
    ({"conversation_id": None}, "invalid_frame", "conversation_id"),
    # ids of no conversation of the sender's
    ({"conversation_id": -1}, "conversation_not_found", None),
    ({"conversation_id": 0}, "conversation_not_found", None),
    ({"conversation_id": MAX_ID}, "conversation_not_found", None),
    # the text
    ({"content": ""}, "invalid_value", "content"),
    ({"content": "   \n\t "}, "invalid_value", "content"),
    ({"content": "x" * 4001}, "invalid_value", "content"),
    ({"content": "\u202e"}, "invalid_value", "content"),
    ({"content": "\u202e\u2066\u200f"}, "invalid_value", "content"),
    ({"content": "\u200b\u200c\u200d\ufeff"}, "invalid_value", "content"),
    ({"content": "\u3164\u2800"}, "invalid_value", "content"),
    ({"content": "safe\u202etxt.exe"}, "invalid_value", "content"),
    ({"content": "a\x00b"}, "invalid_value", "content"),
    ({"content": 42}, "invalid_frame", "content"),
    ({"content": None}, "invalid_frame", "content"),
    ({"content": ["hi"]}, "invalid_frame", "content"),
    # the client id
    ({"client_id": "x" * 65}, "invalid_value", "client_id"),
    ({"client_id": "a b"}, "invalid_value", "client_id"),
    ({"client_id": " leading"}, "invalid_value", "client_id"),
    ({"client_id": ""}, "invalid_value", "client_id"),
    ({"client_id": "é"}, "invalid_value", "client_id"),
    ({"client_id": "a\nb"}, "invalid_value", "client_id"),
    ({"client_id": 7}, "invalid_frame", "client_id"),
    # the kind
    ({"kind": "video"}, "invalid_frame", "kind"),
    ({"kind": "TEXT"}, "invalid_frame", "kind"),
    ({"kind": None}, "invalid_frame", "kind"),
    ({"kind": "image"}, "invalid_value", "content"),  # an image carries a URL
    # keys it does not have
    ({"extra": 1}, "invalid_frame", "extra"),
    ({"sender_id": 1}, "invalid_frame", "sender_id"),
]


@pytest.mark.parametrize(("changes", "code", "field"), FIELD_ERRORS)
def test_a_send_with_a_bad_field_is_refused_and_nothing_is_delivered(
    world: World,
    patient: ChatClient,
    doctor: ChatClient,
    changes: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    error = patient.error_for(send_frame(world, **changes))

    assert_error(error, code, field)
    client_id = changes.get("client_id", "c-1")
    if isinstance(client_id, str) and len(client_id) <= 64:
        assert error["client_id"] == client_id  # the client knows which of its sends failed
    else:
        assert "client_id" not in error
    assert_usable(patient)
    assert_nothing_delivered(doctor)
    assert patient.sync(0) == ([], 0)


@pytest.mark.parametrize("missing", ["conversation_id", "client_id", "kind", "content"])
def test_a_send_without_a_field_names_it(world: World, patient: ChatClient, missing: str) -> None:
    frame = send_frame(world)
    del frame[missing]

    assert_error(patient.error_for(frame), "invalid_frame", missing)
    assert_usable(patient)


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ({"type": "sync", "after": HUGE}, "invalid_frame", "after"),
        ({"type": "sync", "after": -HUGE}, "invalid_frame", "after"),
        ({"type": "sync", "after": 2**31}, "invalid_frame", "after"),
        ({"type": "sync", "after": -1}, "invalid_value", "after"),
        ({"type": "sync", "after": "0"}, "invalid_frame", "after"),
        ({"type": "sync", "after": False}, "invalid_frame", "after"),
        ({"type": "sync"}, "invalid_frame", "after"),
        ({"type": "sync", "after": 0, "limit": 5}, "invalid_frame", "limit"),
        ({"type": "read", "conversation_id": 0, "up_to": HUGE}, "invalid_frame", "up_to"),
        ({"type": "read", "conversation_id": HUGE, "up_to": 1}, "invalid_frame", "conversation_id"),
        ({"type": "read", "conversation_id": -1, "up_to": 0}, "conversation_not_found", None),
        ({"type": "read", "conversation_id": 0, "up_to": 0}, "conversation_not_found", None),
        ({"type": "read", "up_to": 0}, "invalid_frame", "conversation_id"),
        ({"type": "ping", "x": 1}, "invalid_frame", "x"),
        ({"type": "ping", "token": "again"}, "invalid_frame", "token"),
    ],
)
def test_a_sync_read_or_ping_with_a_bad_field_is_refused(
    patient: ChatClient, doctor: ChatClient, frame: Frame, code: str, field: str | None
) -> None:
    assert_error(patient.error_for(frame), code, field)

    assert_usable(patient)
    assert_nothing_delivered(doctor)


@pytest.mark.parametrize("up_to", [-1, -HUGE])
def test_a_receipt_below_zero_is_refused(world: World, patient: ChatClient, up_to: int) -> None:
    frame = {"type": "read", "conversation_id": world.conversation_id, "up_to": up_to}
    code = "invalid_value" if up_to == -1 else "invalid_frame"

    assert_error(patient.error_for(frame), code, "up_to")
    assert_usable(patient)


def test_numbers_written_in_ways_json_allows_are_still_refused(patient: ChatClient) -> None:
    for raw in ('{"type": "sync", "after": 1e400}', '{"type": "sync", "after": 1.0}'):
        assert_error(patient.error_for(raw), "invalid_frame", "after")
    digits = "9" * 5000  # more digits than Python converts
    assert_error(
        patient.error_for('{"type": "sync", "after": ' + digits + "}"), "invalid_frame", "after"
    )
    assert_usable(patient)


def test_the_longest_text_and_trimmed_text_are_taken(
    world: World, patient: ChatClient, doctor: ChatClient
) -> None:
    longest = patient.request(send_frame(world, "long", content="y" * 4000), "ack")
    trimmed = patient.request(send_frame(world, "trim", content="\u3000 hi \u00a0"), "ack")

    assert longest["message"]["content"] == "y" * 4000
    assert trimmed["message"]["content"] == "hi"
    assert trimmed["client_id"] == "trim"
    got = [doctor.wait_for(lambda f: f["type"] == "message") for _ in range(2)]
    assert [f["message"]["id"] for f in got] == [
        longest["message"]["id"],
        trimmed["message"]["id"],
    ]


# --- other people's conversations ----------------------------------------------------------------


def test_another_pairs_conversation_does_not_exist_and_nothing_reaches_anyone(
    world: World, url: str
) -> None:
    with (
        connected(url, world.patient.token) as patient,
        connected(url, world.doctor.token) as doctor,
        connected(url, world.other_patient.token) as other_patient,
        connected(url, world.other_doctor.token) as other_doctor,
    ):
        theirs = world.other_conversation_id
        for sender in (patient, doctor):
            for frame in (
                send_frame(world, conversation_id=theirs),
                {"type": "read", "conversation_id": theirs, "up_to": 1},
            ):
                error = sender.error_for(frame)
                assert_error(error, "conversation_not_found", None)
                assert str(theirs) in error["detail"] or error["detail"]
                assert_usable(sender)

        assert_nothing_delivered(patient, doctor, other_patient, other_doctor)
        assert other_patient.sync(0) == ([], 0)
        assert doctor.sync(0) == ([], 0)
    # The refused sends left nobody an inbox notice either.
    for account in (world.other_patient, world.other_doctor, world.doctor):
        assert world.services.notifications.of_actor(account.actor) == []


def test_a_message_reaches_the_other_party_and_the_senders_other_connections(
    world: World, url: str
) -> None:
    with (
        connected(url, world.patient.token) as phone,
        connected(url, world.patient.token) as laptop,
        connected(url, world.doctor.token) as doctor,
        connected(url, world.other_patient.token) as stranger,
    ):
        ack = phone.request(send_frame(world, "hello-1"), "ack")

        sent = ack["message"]
        assert ack["client_id"] == "hello-1"
        assert sent["content"] == "Hello, doctor" and sent["read"] is False
        assert sent["conversation_id"] == world.conversation_id
        assert (sent["sender_id"], sent["sender_role"]) == (world.patient.id, "patient")
        for client in (laptop, doctor):
            got = client.wait_for(lambda f: f["type"] == "message")
            assert got == {"type": "message", "message": sent}
        phone.ping()
        assert phone.take("message") == []  # not echoed to the connection it came from
        assert_nothing_delivered(stranger)


def test_a_resent_client_id_is_acknowledged_with_the_stored_message(
    world: World, patient: ChatClient
) -> None:
    first = patient.request(send_frame(world, "same", content="first"), "ack")
    again = patient.request(send_frame(world, "same", content="first"), "ack")
    other = patient.request(send_frame(world, "same", content="second"), "error")

    assert again["message"] == first["message"]
    assert (other["code"], other["field"], other["client_id"]) == (
        "client_id_reused",
        "client_id",
        "same",
    )
    messages, last = patient.sync(0)
    assert [m["message"]["content"] for m in messages] == ["first"]
    assert last == first["message"]["id"]


# --- sync and receipts ---------------------------------------------------------------------------


def test_sync_gives_every_later_message_in_id_order_then_synced(
    world: World, url: str, patient: ChatClient, doctor: ChatClient
) -> None:
    ids = []
    for n in range(5):
        sender, role = (patient, "patient") if n % 2 == 0 else (doctor, "doctor")
        ack = sender.request(send_frame(world, f"{role}-{n}", content=f"message {n}"), "ack")
        ids.append(ack["message"]["id"])
    assert ids == sorted(ids)

    with connected(url, world.patient.token) as late:
        everything, last = late.sync(0)
        assert [m["message"]["id"] for m in everything] == ids
        assert [m["message"]["content"] for m in everything] == [f"message {n}" for n in range(5)]
        assert last == ids[-1]
        tail, last = late.sync(ids[2])
        assert [m["message"]["id"] for m in tail] == ids[3:]
        assert late.sync(ids[-1]) == ([], ids[-1])
        assert late.sync(MAX_ID) == ([], MAX_ID)


def test_a_receipt_reaches_both_parties_and_marks_the_messages_read(
    world: World, patient: ChatClient, doctor: ChatClient
) -> None:
    acks = [patient.request(send_frame(world, f"p-{n}", content=f"q{n}"), "ack") for n in range(3)]
    second = acks[1]["message"]["id"]

    doctor.send({"type": "read", "conversation_id": world.conversation_id, "up_to": second})

    expected = {
        "type": "read",
        "conversation_id": world.conversation_id,
        "reader": {"id": world.doctor.id, "role": "doctor"},
        "up_to": second,
    }
    for client in (patient, doctor):
        assert client.wait_for(lambda f: f["type"] == "read") == expected
    messages, _ = patient.sync(0)
    assert [m["message"]["read"] for m in messages] == [True, True, False]


# --- what closes a connection --------------------------------------------------------------------


def test_a_frame_larger_than_the_limit_closes_the_connection_1009(
    world: World, patient: ChatClient
) -> None:
    content = "x" * (LIMITS.max_frame_bytes + 1)
    with pytest.raises(ConnectionClosed):
        patient.send(send_frame(world, content=content))
        patient.read(WAIT)
    assert patient.ws.close_code == 1009
    assert world.services.chat.sync_as(world.patient.actor, 0) == []


def test_a_frame_just_under_the_limit_is_answered(world: World, patient: ChatClient) -> None:
    frame = send_frame(world, content="x")
    room = LIMITS.max_frame_bytes - len(json.dumps(frame).encode())
    frame["padding"] = ""
    frame["padding"] = "p" * (room - len(', "padding": ""'))
    assert len(json.dumps(frame).encode()) == LIMITS.max_frame_bytes

    assert_error(patient.error_for(frame), "invalid_frame", "padding")
    assert_usable(patient)


FLOODED = ChatLimits(frames_per_second=1, burst=5, auth_timeout=0.5, notification_poll=0.05)


def test_the_burst_is_allowed(world: World, serve: Serve) -> None:
    with connected(serve(FLOODED).url, world.patient.token) as client:
        flood(client, FLOODED.burst)
        for _ in range(FLOODED.burst):
            client.wait_for(lambda f: f["type"] == "pong")
        time.sleep(1.2 / FLOODED.frames_per_second)  # a frame's worth of refill

        client.ping()


def flood(client: ChatClient, frames: int, raw: str = '{"type": "ping"}') -> None:
    try:
        for _ in range(frames):
            client.send_raw(raw)
    except ConnectionClosed:
        pass  # closed before the last was sent: what the test is about


def test_one_frame_more_than_the_burst_closes_the_connection_4429(
    world: World, serve: Serve
) -> None:
    with connected(serve(FLOODED).url, world.patient.token) as client:
        flood(client, FLOODED.burst + 1)

        assert client.closed_with() == 4429
        assert len([f for f in client.received if f["type"] == "pong"]) == FLOODED.burst


def test_bad_frames_count_against_the_rate_too(world: World, serve: Serve) -> None:
    with connected(serve(FLOODED).url, world.patient.token) as client:
        flood(client, FLOODED.burst + 3, "not json")

        assert client.closed_with() == 4429
        assert len([f for f in client.received if f["type"] == "error"]) == FLOODED.burst


def test_a_flooding_connection_is_gone_at_once(world: World, serve: Serve) -> None:
    url = serve(FLOODED).url
    with (
        connected(url, world.doctor.token) as doctor,
        connected(url, world.patient.token) as flooder,
    ):
        doctor.wait_for(lambda f: f["type"] == "presence" and f["online"])
        # 100 pings in one write: they all wait unread when the server reaches the sixth.
        ping = WsFrame(Opcode.TEXT, b'{"type": "ping"}').serialize(mask=True, extensions=[])
        flooder.ws.socket.sendall(ping * 100)

        offline = doctor.wait_for(lambda f: f["type"] == "presence" and not f["online"], timeout=3)

        assert offline["user_id"] == world.patient.id
        assert flooder.closed_with() == 4429


def test_no_auth_frame_in_time_closes_4401(url: str) -> None:
    started = time.monotonic()
    with ChatClient(url) as client:
        assert client.closed_with() == 4401
    waited = time.monotonic() - started
    assert LIMITS.auth_timeout * 0.8 <= waited < LIMITS.auth_timeout + 3


@pytest.mark.parametrize(
    "first",
    [
        json.dumps({"type": "auth", "token": "not-a-token"}),
        json.dumps({"type": "auth", "token": ""}),
        json.dumps({"type": "auth", "token": 42}),
        json.dumps({"type": "auth"}),
        json.dumps({"type": "auth", "token": "x", "extra": 1}),
        json.dumps({"type": "ping"}),
        json.dumps({"token": "x"}),
        '{"type": "auth", "type": "auth", "token": "x"}',
        '{"type": "auth", "token": "\\ud800"}',
        "not json",
        "[]",
    ],
)
def test_a_bad_auth_frame_closes_4401_without_ready(url: str, first: str) -> None:
    with ChatClient(url) as client:
        client.send_raw(first)
        assert client.closed_with() == 4401
        assert [f for f in client.received if f["type"] == "ready"] == []


def test_a_tampered_token_closes_4401(world: World, url: str) -> None:
    token = world.patient.token
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with ChatClient(url) as client:
        client.send({"type": "auth", "token": tampered})
        assert client.closed_with() == 4401


def test_an_admin_may_not_chat_4403(world: World, url: str) -> None:
    with ChatClient(url) as client:
        client.send({"type": "auth", "token": world.admin.token})
        assert client.closed_with() == 4403
        assert [f for f in client.received if f["type"] == "ready"] == []


def test_ready_names_the_party(world: World, url: str) -> None:
    with ChatClient(url) as client:
        ready = client.auth(world.doctor.token)
    assert ready == {"type": "ready", "user_id": world.doctor.id, "role": "doctor"}


def test_presence_follows_the_other_party(world: World, url: str) -> None:
    with connected(url, world.patient.token) as patient:
        with connected(url, world.doctor.token) as doctor:
            online = {"type": "presence", "user_id": world.doctor.id, "role": "doctor"}
            assert patient.wait_for(lambda f: f["type"] == "presence") == online | {"online": True}
            seen = doctor.wait_for(lambda f: f["type"] == "presence")
            assert seen == {
                "type": "presence",
                "user_id": world.patient.id,
                "role": "patient",
                "online": True,
            }
        assert patient.wait_for(lambda f: f["type"] == "presence") == online | {"online": False}


# --- notifications -------------------------------------------------------------------------------


def add_notification(world: World, role: Role, user_id: int, title: str) -> Notification:
    with world.services.new_uow() as uow:
        stored = uow.notifications.add(
            Notification(
                role,
                user_id,
                NotificationKind.APPOINTMENT_CANCELLED_BY_LEAVE,
                title,
                "A body",
                world.services.clock.now(),
                {"appointment_id": 1},
            )
        )
        uow.commit()
    return stored


def test_a_new_notification_is_pushed_to_its_recipient_only(
    world: World, patient: ChatClient, doctor: ChatClient
) -> None:
    time.sleep(LIMITS.notification_poll * 3)  # the feed has read where it starts
    stored = add_notification(world, Role.PATIENT, world.patient.id, "For the patient")
    add_notification(world, Role.PATIENT, world.other_patient.id, "For someone else")

    pushed = patient.wait_for(lambda f: f["type"] == "notification")

    assert pushed["notification"]["id"] == stored.id
    assert pushed["notification"]["title"] == "For the patient"
    assert pushed["notification"]["kind"] == "appointment_cancelled_by_leave"
    assert pushed["notification"]["read"] is False
    time.sleep(LIMITS.notification_poll * 4)
    assert_nothing_delivered(doctor)
    patient.ping()
    assert patient.take("notification") == []  # pushed once


def test_a_doctors_leave_pushes_its_notice_to_the_connected_patient(
    world: World, patient: ChatClient
) -> None:
    services = world.services
    later = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    offered = next(
        o
        for o in services.booking.offered_sessions(world.other_doctor.id)
        if o.remaining > 0 and o.session.date >= later
    )
    session = offered.session
    booked = services.booking.book(
        world.patient.id, world.other_doctor.id, session.date, session.period
    )
    time.sleep(LIMITS.notification_poll * 3)

    services.booking.take_leave(world.other_doctor.id, session.date, session.period)

    pushed = patient.wait_for(lambda f: f["type"] == "notification")["notification"]
    assert pushed["kind"] == "appointment_cancelled_by_leave"
    assert pushed["data"]["appointment_id"] == booked.id


def test_an_offline_recipient_gets_one_notice_however_many_messages(
    world: World, patient: ChatClient
) -> None:
    texts = [f"my secret symptom number {n}" for n in range(5)]
    for n, text in enumerate(texts):
        patient.request(send_frame(world, f"away-{n}", content=text), "ack")
    patient.ping()  # the last send's notice is written by the time its connection answers this

    notices = world.services.notifications.of_actor(world.doctor.actor)

    assert len(notices) == 1
    [notice] = notices
    assert notice.kind is NotificationKind.CHAT_MESSAGE
    assert notice.data["conversation_id"] == world.conversation_id
    for text in (*texts, "secret", "symptom"):
        assert text not in notice.title and text not in notice.body
        assert all(text not in str(v) for v in notice.data.values())
    assert world.services.notifications.of_actor(world.patient.actor) == []


def test_once_the_notice_is_read_the_next_message_leaves_a_new_one_but_a_resend_does_not(
    world: World, patient: ChatClient
) -> None:
    notifications = world.services.notifications
    patient.request(send_frame(world, "first"), "ack")
    patient.ping()
    [notice] = notifications.of_actor(world.doctor.actor)
    assert notice.id is not None
    notifications.mark_read(world.doctor.actor, notice.id)

    patient.request(send_frame(world, "first"), "ack")  # a resend stores nothing new
    patient.ping()
    assert len(notifications.of_actor(world.doctor.actor)) == 1

    patient.request(send_frame(world, "second"), "ack")
    patient.ping()
    assert len(notifications.of_actor(world.doctor.actor)) == 2
    assert len(notifications.of_actor(world.doctor.actor, unread_only=True)) == 1


def test_an_online_recipient_gets_no_notice(
    world: World, patient: ChatClient, doctor: ChatClient
) -> None:
    for n in range(3):
        patient.request(send_frame(world, f"here-{n}"), "ack")
    patient.ping()

    assert world.services.notifications.of_actor(world.doctor.actor) == []
    got = [doctor.wait_for(lambda f: f["type"] == "message") for _ in range(3)]
    assert len({f["message"]["id"] for f in got}) == 3


def test_a_server_serves_only_its_path(world: World, server: RunningChat) -> None:
    with pytest.raises(InvalidStatus) as refused:
        ChatClient(f"ws://127.0.0.1:{server.port}/elsewhere")
    assert refused.value.response.status_code == 404


# --- what one frame or one user may cost (found by the probe of the chat server) -----------------

PAGED = ChatLimits(sync_pages=1, auth_timeout=0.5, notification_poll=0.05)


def test_one_sync_frame_answers_a_bounded_number_of_pages(world: World, serve: Serve) -> None:
    """A 25-byte ``sync`` once made the server read and send ~16 MB; now a frame answers at most
    ``sync_pages`` pages and says ``more``: each further batch costs a frame of the rate."""
    chat = world.services.chat
    for n in range(SYNC_PAGE + 5):
        chat.send_as(world.patient.actor, world.conversation_id, f"bulk-{n}", MessageKind.TEXT, "x")
    with connected(serve(PAGED).url, world.doctor.token) as doctor:
        first, last = doctor.sync(0)
        synced = doctor.received[-1]
        assert synced["type"] == "synced" and synced["more"] is True
        assert len(first) == SYNC_PAGE

        rest, end = doctor.sync(last)
        assert doctor.received[-1]["more"] is False
        assert len(rest) == 5 and end > last
        ids = [m["message"]["id"] for m in first + rest]
        assert ids == sorted(set(ids))


def test_a_user_holds_a_bounded_number_of_connections(world: World, serve: Serve) -> None:
    few = ChatLimits(connections_per_user=3, auth_timeout=0.5, notification_poll=0.05)
    url = serve(few).url
    with (
        connected(url, world.patient.token),
        connected(url, world.patient.token),
        connected(url, world.patient.token),
        ChatClient(url) as fourth,
    ):
        fourth.send({"type": "auth", "token": world.patient.token})
        assert fourth.closed_with() == 4429
        with connected(url, world.doctor.token) as doctor:  # others are not counted against it
            doctor.ping()


class _BrokerDown(LocalBroker):
    """Joins work; every publish fails, as with Redis gone after the connections were made."""

    async def publish(self, party: Party, frame: str) -> None:
        raise ConnectionError("the broker is unreachable")


def test_a_stored_message_is_acked_once_even_when_its_fan_out_fails(world: World) -> None:
    """bench/chat.py found that a failed publish after the commit answered the sender an
    internal_error for a message that was stored and acked; the recipient's sync has it."""
    with (
        running(world.services, LIMITS, _BrokerDown()) as served,
        connected(served.url, world.patient.token) as patient,
    ):
        ack = patient.request(send_frame(world, "kept"), "ack")
        patient.ping()
        assert not [f for f in patient.inbox if f["type"] == "error"], patient.inbox
    with running(world.services, LIMITS) as served, connected(served.url, world.doctor.token) as d:
        got, _ = d.sync(0)
        assert ack["message"]["id"] in [m["message"]["id"] for m in got]


def test_a_storm_of_syncs_each_answered_in_full_closes_with_4429(
    world: World, serve: Serve
) -> None:
    """Found by the second probe: the rate was checked as each frame was taken up, and a sync of
    five pages took long enough for the bucket to refill, so 200 pipelined syncs were all answered
    in full (100,000 frames). Every page after the first now costs a frame of the rate."""
    chat = world.services.chat
    for n in range(SYNC_PAGE * 3):
        chat.send_as(world.patient.actor, world.conversation_id, f"many-{n}", MessageKind.TEXT, "x")
    limits = ChatLimits(frames_per_second=2, burst=10, auth_timeout=0.5, notification_poll=0.05)
    with connected(serve(limits).url, world.doctor.token) as doctor:
        for _ in range(40):
            doctor.send({"type": "sync", "after": 0})
        assert doctor.closed_with(timeout=30) == 4429
        # A page is worth a frame: what was sent stays within the burst (and a refill or so).
        pages = len([f for f in doctor.received if f["type"] == "message"]) / SYNC_PAGE
        assert pages <= limits.burst + 2, pages
