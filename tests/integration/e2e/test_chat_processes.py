"""End to end over real websockets against ``medbook chat`` processes (API.md, "Consultation
chat"), beside a ``medbook serve`` on the demo's SQLite database and on MariaDB.

- One chat process (its in-process broker): delivery to every connection of the recipient and
  to the sender's other connections, and to nobody else; an idempotent resend; the catch-up
  (``sync``) after a disconnect; the refusals (4401, 4403).
- Two chat processes on a real Redis (``MEDBOOK_TEST_REDIS_URL``, default
  ``redis://127.0.0.1:6379/15``; the tests fail, never skip, when it cannot be reached), each
  module run under a key and channel prefix of its own: messages and presence cross processes,
  and a process killed with SIGKILL loses no acknowledged message.

Every test has a conversation of its own (a new doctor and a new patient), so what one test
sends never reaches another's clients.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from chat_process_support import (
    ChatClient,
    ChatProcess,
    Consultation,
    forged_token,
    http_messages,
    new_consultation,
    open_client,
    start_conversation,
)
from e2e_support import (
    Deployment,
    HttpClient,
    Server,
    clean_environment,
    free_port,
    is_listening,
    strong_secret,
)

from medbook.demo import DEMO_PASSWORD, DEMO_PATIENT

REDIS_URL = os.environ.get("MEDBOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
MESSAGE_FIELDS = {"id", "conversation_id", "sender_id", "sender_role", "kind", "content"}


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_chat_bind() -> str:
    """Where the demo's own chat server listens (a free port, not the default 8001)."""
    return f"127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, demo_chat_bind: str) -> Iterator[Server]:
    """The demo server of conftest, but with a JWT secret the test knows (``--demo`` keeps a
    secret it is given), so that the chat processes share it and tests can sign tokens; and its
    own chat server on a free port."""
    workdir = tmp_path_factory.mktemp("chat-demo-serve")
    env = clean_environment(workdir, {"MEDBOOK_JWT_SECRET": strong_secret()})
    server = Server(workdir, env, ("--demo", "--chat-bind", demo_chat_bind)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chat(deployment: Deployment) -> Iterator[ChatProcess]:
    """One ``medbook chat`` process beside the deployment (its in-process broker)."""
    process = ChatProcess.beside(deployment, f"chat-{deployment.backend}").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        pytest.fail(
            f"Redis is required and could not be reached at {REDIS_URL}: {error}\n"
            "Start it or set MEDBOOK_TEST_REDIS_URL.",
            pytrace=False,
        )
    return REDIS_URL


@pytest.fixture(scope="module")
def chat_pair(deployment: Deployment, redis_url: str) -> Iterator[tuple[ChatProcess, ChatProcess]]:
    """Two ``medbook chat`` processes, A and B, sharing a real Redis under a prefix of their
    own; its keys are deleted after."""
    prefix = f"medbook-test-{uuid.uuid4().hex[:12]}"
    extra = {"MEDBOOK_REDIS_URL": redis_url, "MEDBOOK_REDIS_PREFIX": prefix}
    a = ChatProcess.beside(deployment, f"chat-a-{deployment.backend}", extra)
    b = ChatProcess.beside(deployment, f"chat-b-{deployment.backend}", extra)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        b.stop()
        a.stop()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def assert_stored_message(message: dict[str, Any], c: Consultation, sender: str) -> None:
    """What an ack or a message frame carries for a text message ``sender`` sent."""
    assert set(message) >= MESSAGE_FIELDS, message
    account = c.patient if sender == "patient" else c.doctor
    assert isinstance(message["id"], int), message
    assert message["conversation_id"] == c.conversation_id, message
    assert (message["sender_id"], message["sender_role"]) == (account.id, sender), message
    assert message["kind"] == "text", message
    assert isinstance(message["sent_at"], str), message


# --- one process ---------------------------------------------------------------------------------


def test_a_message_reaches_every_connection_of_both_parties_and_nobody_else(
    deployment: Deployment, chat: ChatProcess
) -> None:
    c = new_consultation(deployment)
    # Another patient of the same doctor: a counterpart of the doctor, but not a party to this
    # conversation.
    stranger = deployment.register("patient", "Other Patient")
    start_conversation(deployment, stranger, c.doctor)
    assert c.patient.id is not None and c.doctor.id is not None

    with (
        open_client(chat, c.patient, "patient-1") as patient_1,
        open_client(chat, c.patient, "patient-2") as patient_2,
        open_client(chat, stranger, "stranger") as outsider,
        open_client(chat, c.doctor, "doctor-1") as doctor_1,
        open_client(chat, c.doctor, "doctor-2") as doctor_2,
    ):
        # The doctor came online: the patient's connections are told; the doctor's are told
        # that the patient is online.
        for patient in (patient_1, patient_2):
            patient.expect_presence(c.doctor.id, "doctor", online=True)
        doctor_1.expect_presence(c.patient.id, "patient", online=True)
        doctor_2.expect_presence(c.patient.id, "patient", online=True)

        sent = patient_1.send(c.conversation_id, "Hello, doctor")
        assert_stored_message(sent, c, "patient")
        assert sent["content"] == "Hello, doctor"
        assert sent["read"] is False
        for client in (doctor_1, doctor_2, patient_2):
            assert client.expect_message(sent["id"]) == sent, client.name

        reply = doctor_2.send(c.conversation_id, "Hello, how can I help?")
        assert_stored_message(reply, c, "doctor")
        assert reply["id"] > sent["id"]
        for client in (patient_1, patient_2, doctor_1):
            assert client.expect_message(reply["id"]) == reply, client.name

        # A round trip on every connection: whatever the server sent before the pong arrived.
        for client in (patient_1, patient_2, outsider, doctor_1, doctor_2):
            client.ping()
        # The sending connection has its ack, not a copy as a message.
        assert [f["message"]["id"] for f in patient_1.message_frames()] == [reply["id"]]
        assert [f["message"]["id"] for f in doctor_2.message_frames()] == [sent["id"]]
        assert [f["message"]["id"] for f in patient_2.message_frames()] == [sent["id"], reply["id"]]
        assert [f["message"]["id"] for f in doctor_1.message_frames()] == [sent["id"], reply["id"]]
        assert outsider.message_frames() == [], "another patient of the doctor saw the messages"

        # A read receipt reaches both parties, and not the other patient.
        doctor_1.send_frame(
            {"type": "read", "conversation_id": c.conversation_id, "up_to": sent["id"]}
        )
        receipt = {
            "conversation_id": c.conversation_id,
            "reader": {"id": c.doctor.id, "role": "doctor"},
            "up_to": sent["id"],
        }
        for client in (patient_1, patient_2, doctor_1, doctor_2):
            client.expect_type("read", **receipt)
        outsider.ping()
        assert [f for f in outsider.frames if f["type"] == "read"] == []


def test_a_resent_client_id_is_the_same_message_stored_once(
    deployment: Deployment, chat: ChatProcess
) -> None:
    c = new_consultation(deployment)
    client_id = f"resend-{uuid.uuid4().hex}"
    with (
        open_client(chat, c.doctor, "doctor-live") as live,
        open_client(chat, c.patient, "patient") as patient,
    ):
        first = patient.send(c.conversation_id, "Only once, please", client_id=client_id)
        again = patient.send(c.conversation_id, "Only once, please", client_id=client_id)
        assert again["id"] == first["id"], (first, again)
        other = patient.send(c.conversation_id, "Another message")
        assert other["id"] > first["id"]
        # The doctor, online, sees the message (a resend may deliver it again, never as
        # another message).
        assert live.expect_message(first["id"])["content"] == "Only once, please"
        live.expect_message(other["id"])
        live.ping()
        assert {f["message"]["id"] for f in live.message_frames()} == {first["id"], other["id"]}
    # As a client does when its connection dropped before the ack: a new connection, resent.
    with open_client(chat, c.patient, "patient-reconnected") as patient:
        third = patient.send(c.conversation_id, "Only once, please", client_id=client_id)
        assert third == {**first, "read": third["read"]}, (first, third)

    stored = http_messages(deployment, c.patient.token, c.conversation_id)
    assert [m["id"] for m in stored] == [first["id"], other["id"]], stored
    assert [m["content"] for m in stored] == ["Only once, please", "Another message"]
    with open_client(chat, c.doctor, "doctor") as doctor:
        synced, last_id = doctor.sync(0)
    assert [m["id"] for m in synced] == [first["id"], other["id"]], synced
    assert last_id == other["id"]


def test_a_reconnecting_doctor_syncs_exactly_what_they_missed(
    deployment: Deployment, chat: ChatProcess
) -> None:
    c = new_consultation(deployment)
    assert c.doctor.id is not None
    with open_client(chat, c.patient, "patient") as patient:
        with open_client(chat, c.doctor, "doctor") as doctor:
            patient.expect_presence(c.doctor.id, "doctor", online=True)
            seen = patient.send(c.conversation_id, "Before you left")
            last_seen = doctor.expect_message(seen["id"])["id"]
        patient.expect_presence(c.doctor.id, "doctor", online=False)

        missed = [patient.send(c.conversation_id, f"While you were away {n}") for n in range(5)]
        ids = [m["id"] for m in missed]
        assert ids == sorted(ids) and len(set(ids)) == 5, ids
        assert ids[0] > last_seen

        with open_client(chat, c.doctor, "doctor-again") as doctor:
            synced, last_id = doctor.sync(last_seen)
            assert synced == missed, "sync did not return exactly the five missed messages"
            assert last_id == ids[-1]
            # Nothing newer: an empty sync answers with where it started.
            assert doctor.sync(last_id) == ([], last_id)


def test_the_chat_refuses_who_is_not_a_patient_or_doctor_with_a_good_token(
    deployment: Deployment, chat: ChatProcess
) -> None:
    c = new_consultation(deployment)
    assert c.patient.id is not None
    secret = deployment.server.env["MEDBOOK_JWT_SECRET"]
    # Opened first: it waits out the 10 s auth timeout while the rest runs.
    silent = ChatClient(chat.url, "silent")
    started = time.monotonic()
    try:
        refused: dict[str, dict[str, Any]] = {
            "garbage": {"type": "auth", "token": "not-a-token"},
            "missing token": {"type": "auth"},
            "empty token": {"type": "auth", "token": ""},
            "another secret": {
                "type": "auth",
                "token": forged_token(strong_secret(), c.patient.id, "patient"),
            },
            "expired": {
                "type": "auth",
                "token": forged_token(
                    secret, c.patient.id, "patient", expires_in=-dt.timedelta(minutes=1)
                ),
            },
            "not an auth frame first": {"type": "ping"},
            "a send before auth": {
                "type": "send",
                "conversation_id": c.conversation_id,
                "client_id": "early",
                "kind": "text",
                "content": "let me in",
            },
        }
        for name, frame in refused.items():
            with ChatClient(chat.url, name) as client:
                client.send_frame(frame)
                code, _ = client.closed_with()
                assert code == 4401, f"{name}: closed with {code}, expected 4401"
        with ChatClient(chat.url, "not json") as client:
            client.ws.send("{auth")
            assert client.closed_with()[0] == 4401

        # The forged tokens are refused for what is wrong with them: one signed with the right
        # secret and current is taken.
        with ChatClient(chat.url, "good forgery") as client:
            ready = client.auth(forged_token(secret, c.patient.id, "patient"))
            assert (ready["user_id"], ready["role"]) == (c.patient.id, "patient")

        with ChatClient(chat.url, "admin") as client:
            client.send_frame({"type": "auth", "token": deployment.admin_token()})
            code, _ = client.closed_with()
            assert code == 4403, f"an admin was closed with {code}, expected 4403"

        code, _ = silent.closed_with(timeout=15)
        waited = time.monotonic() - started
        assert code == 4401, f"no auth frame: closed with {code}, expected 4401"
        assert 8 < waited < 14, f"closed after {waited:.1f} s, the auth timeout is 10 s"
        assert silent.frames == []
    finally:
        silent.close()
    # Nothing of this was stored: the early send never reached the conversation.
    assert http_messages(deployment, c.patient.token, c.conversation_id) == []


# --- two processes on Redis ----------------------------------------------------------------------


def test_messages_and_presence_cross_processes_through_redis(
    deployment: Deployment, chat_pair: tuple[ChatProcess, ChatProcess]
) -> None:
    a, b = chat_pair
    c = new_consultation(deployment)
    assert c.patient.id is not None and c.doctor.id is not None
    with open_client(a, c.patient, "patient@A") as patient:
        doctor_b = open_client(b, c.doctor, "doctor@B")
        doctor_a = open_client(a, c.doctor, "doctor@A")
        try:
            patient.expect_presence(c.doctor.id, "doctor", online=True)
            # The doctor's connection on B learns that the patient (on A) is online.
            doctor_b.expect_presence(c.patient.id, "patient", online=True)

            sent = patient.send(c.conversation_id, "From process A")
            assert doctor_b.expect_message(sent["id"]) == sent
            assert doctor_a.expect_message(sent["id"]) == sent

            reply = doctor_b.send(c.conversation_id, "From process B")
            assert patient.expect_message(reply["id"]) == reply
            # The sender's other connection, on the other process, too.
            assert doctor_a.expect_message(reply["id"]) == reply

            doctor_b.send_frame(
                {"type": "read", "conversation_id": c.conversation_id, "up_to": sent["id"]}
            )
            patient.expect_type("read", conversation_id=c.conversation_id, up_to=sent["id"])

            # One of the doctor's two connections closes: the doctor is still online.
            doctor_b.close()
            time.sleep(0.5)
            patient.ping()
            offline = [
                f for f in patient.frames if f["type"] == "presence" and f["online"] is False
            ]
            assert offline == [], "the doctor still had a connection on A"
        finally:
            doctor_b.close()
            doctor_a.close()
        # The last one closes: the patient on A is told the doctor went offline.
        patient.expect_presence(c.doctor.id, "doctor", online=False)
        assert [f["message"]["id"] for f in patient.message_frames()] == [reply["id"]]


def test_a_chat_process_killed_mid_conversation_loses_no_acknowledged_message(
    deployment: Deployment, chat_pair: tuple[ChatProcess, ChatProcess]
) -> None:
    """The patient on A keeps sending while B, the doctor's process, is killed with SIGKILL and
    restarted; the doctor reconnects and syncs from the last message they saw. Then the same
    for A, the patient's own process: a message sent and not acknowledged is sent again with
    its client_id after the restart."""
    a, b = chat_pair
    c = new_consultation(deployment)
    assert c.doctor.id is not None
    acked: list[dict[str, Any]] = []
    contents: dict[str, str] = {}
    stop = threading.Event()
    errors: list[BaseException] = []

    with open_client(a, c.patient, "patient@A") as patient:
        doctor = open_client(b, c.doctor, "doctor@B")
        patient.expect_presence(c.doctor.id, "doctor", online=True)

        def keep_sending() -> None:
            try:
                n = 0
                while not stop.is_set() and n < 60:
                    client_id = f"steady-{n}"
                    contents[client_id] = f"Message {n}"
                    acked.append(
                        patient.send(c.conversation_id, contents[client_id], client_id=client_id)
                    )
                    n += 1
                    time.sleep(0.03)
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                errors.append(error)

        sender = threading.Thread(target=keep_sending, name="patient-sender")
        sender.start()
        try:
            deadline = time.monotonic() + 10
            while len(acked) < 8 and time.monotonic() < deadline and sender.is_alive():
                time.sleep(0.01)
            assert len(acked) >= 8, f"only {len(acked)} acks before the kill: {errors}"
            b.kill()
            died = doctor.drain()
            seen_live = [int(f["message"]["id"]) for f in doctor.message_frames()]
            assert seen_live, f"the doctor saw no message before B died ({died})"
            assert seen_live == sorted(set(seen_live)), seen_live
            while len(acked) < 20 and sender.is_alive():  # B is down; A keeps acknowledging
                time.sleep(0.01)
            b.restart()
        finally:
            stop.set()
            sender.join(15)
            doctor.close()
        assert not errors, f"the patient's sends failed: {errors!r}"
        assert len(acked) >= 20

    acked_ids = [int(m["id"]) for m in acked]
    assert acked_ids == sorted(set(acked_ids)), f"acks out of order or repeated: {acked_ids}"
    last_seen = seen_live[-1]
    with open_client(b, c.doctor, "doctor@B-restarted") as doctor:
        synced, last_id = doctor.sync(last_seen)
    synced_ids = [m["id"] for m in synced]
    assert synced_ids == sorted(set(synced_ids)), f"sync out of order or repeated: {synced_ids}"
    assert all(i > last_seen for i in synced_ids)
    assert seen_live + synced_ids == acked_ids, "live and synced messages are not the acked ones"
    assert last_id == acked_ids[-1]
    assert {m["id"]: m["content"] for m in synced} == {
        m["id"]: m["content"] for m in acked if m["id"] > last_seen
    }

    # Now A, the patient's process, dies right after a send it has not acknowledged yet.
    with open_client(a, c.patient, "patient@A-before-kill") as patient:
        patient.send_frame(
            {
                "type": "send",
                "conversation_id": c.conversation_id,
                "client_id": "in-flight",
                "kind": "text",
                "content": "Sent as A died",
            }
        )
        a.kill()
        patient.drain()
    a.restart()
    with open_client(a, c.patient, "patient@A-restarted") as patient:
        resent = patient.send(c.conversation_id, "Sent as A died", client_id="in-flight")
        again = patient.send(c.conversation_id, "Sent as A died", client_id="in-flight")
    assert resent["id"] == again["id"] and resent["id"] > acked_ids[-1]

    stored = http_messages(deployment, c.doctor.token, c.conversation_id)
    stored_ids = [m["id"] for m in stored]
    assert stored_ids == sorted(set(stored_ids)), stored_ids
    assert stored_ids == [*acked_ids, resent["id"]], "HTTP does not show each message once"
    by_content = [m["content"] for m in stored]
    for client_id, content in contents.items():
        if any(m["content"] == content for m in acked):
            assert by_content.count(content) == 1, (
                f"{client_id} stored {by_content.count(content)}x"
            )
    assert by_content.count("Sent as A died") == 1


def test_the_demo_starts_a_chat_where_its_patient_and_doctor_talk(
    demo_server: Server, demo_chat_bind: str
) -> None:
    """What the README's two terminals do: the demo's own chat server, the demo accounts and
    the conversation the demo made for them."""
    http = HttpClient(demo_server.base_url)
    patient = http.login(DEMO_PATIENT[0], DEMO_PASSWORD, "patient")
    doctor = http.login("13800000001", DEMO_PASSWORD, "doctor")
    [conversation] = http.expect(200, "GET", "/v1/conversations", token=patient)
    deadline = time.monotonic() + 30  # the chat server starts beside the HTTP API
    while not is_listening(int(demo_chat_bind.rpartition(":")[2])):
        assert time.monotonic() < deadline, demo_server.stderr_path.read_text()[-3000:]
        time.sleep(0.1)
    url = f"ws://{demo_chat_bind}/v1/chat"
    with ChatClient(url, "demo patient") as p, ChatClient(url, "demo doctor") as d:
        p.auth(patient)
        d.auth(doctor)
        sent = p.send(conversation["id"], "Hello, doctor", client_id="hello-1")
        got = d.expect_message(sent["id"])
        assert (got["content"], got["sender_role"]) == ("Hello, doctor", "patient")
