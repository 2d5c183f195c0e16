"""Redis dies (SIGKILL) under ``medbook serve`` and two ``medbook chat`` processes, then comes back.

The module runs its own ``redis-server`` (``redis_process``: a free loopback port, nothing
persisted), never the machine's shared one on 6379, and serves medbook on it as an operator would
(``medbook migrate``, ``add-hospital``, ``create-admin``, ``medbook serve`` on SQLite), every
process with ``MEDBOOK_REDIS_URL`` pointing at it: the login throttle and the chat's fan-out
between processes live there. While Redis is down:

- the chat keeps working within each process: a patient's two connections and a doctor's, all on
  chat process A, exchange messages live; every send is acknowledged, and only once stored; a
  message to the doctor on process B is acknowledged and stored even though B cannot be told;
  both processes stay up and take new connections (authentication reads the database);
- a login or a registration answers 503 ``throttle_unavailable`` (problem+json, Retry-After)
  within DOWN_ANSWER_BOUND_S: never a 500, and no password is checked while attempts cannot be
  counted (fail-closed); what does not need Redis (a listing, ``/readyz``) still answers 200.

Once Redis is back on the same port (empty, as a restarted cache may be), without any restart of
medbook: the next logins and registrations succeed; within RECOVERY_BOUND_S messages cross
processes live again and presence is known again; and the doctor's ``sync`` from the last message
they held returns what the outage kept from them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from chat_process_support import (
    ChatClient,
    ChatProcess,
    Consultation,
    http_messages,
    new_consultation,
    open_client,
)
from e2e_support import (
    BEIJING,
    Account,
    Cli,
    Deployment,
    HttpClient,
    Reply,
    Server,
    clean_environment,
    phone_numbers,
    strong_secret,
)
from redis_process import RedisProcess
from server_process import running

PROBLEM = "application/problem+json"
#: Seconds any answer may take while Redis is down: its port refuses at once, so a login costs a
#: refused connect; the rest is room for a loaded 2-core CI machine (far below gunicorn's 30 s).
DOWN_ANSWER_BOUND_S = 5.0
#: Seconds from Redis answering again to medbook using it again by itself: the chat processes
#: retry every 2 s at most; the rest is room for a loaded machine.
RECOVERY_BOUND_S = 20.0
#: Seconds a probe message is given to cross processes before the next one is sent.
PROBE_WAIT_S = 1.0


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    with running(RedisProcess(tmp_path_factory.mktemp("own-redis"))) as server:
        yield server


@pytest.fixture
def redis_server(own_redis: RedisProcess) -> Iterator[RedisProcess]:
    """The module's Redis, running at the start and at the end of every test."""
    if not own_redis.is_running:
        own_redis.restart()
    yield own_redis
    if not own_redis.is_running:
        own_redis.restart()


@pytest.fixture(scope="module")
def served(
    own_redis: RedisProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """``medbook serve`` on SQLite with its throttle in the module's own Redis."""
    workdir = tmp_path_factory.mktemp("redis-outage-serve")
    env = clean_environment(
        workdir,
        {
            "MEDBOOK_DATABASE_URL": f"sqlite:///{workdir / 'medbook.sqlite3'}",
            "MEDBOOK_JWT_SECRET": strong_secret(),
            "MEDBOOK_REDIS_URL": own_redis.url,
            "MEDBOOK_REDIS_PREFIX": f"medbook-test-{uuid.uuid4().hex[:12]}",
        },
    )
    cli = Cli(workdir, env)
    cli.ok("migrate")
    hospitals = {BEIJING[0]: cli.add_hospital(*BEIJING)}
    admin = Account("13711110003", "an admin passphrase", "admin")
    cli.create_admin(hospitals[BEIJING[0]], admin.phone, "Redis Admin", admin.password)
    server = Server(workdir, env).start()
    try:
        http = HttpClient(server.base_url)
        yield Deployment("sqlite", server, cli, http, hospitals, admin, phone_numbers("154"))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chat_pair(served: Deployment) -> Iterator[tuple[ChatProcess, ChatProcess]]:
    """Two ``medbook chat`` processes, A and B, beside the server: the same Redis and prefix."""
    a = ChatProcess.beside(served, "chat-a-redis-outage")
    b = ChatProcess.beside(served, "chat-b-redis-outage")
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        b.stop()
        a.stop()


# --- helpers -------------------------------------------------------------------------------------


def timed_call(http: HttpClient, method: str, path: str, body: Any = None, **kw: Any) -> Reply:
    """The reply, which must come within DOWN_ANSWER_BOUND_S."""
    started = time.monotonic()
    reply = http.call(method, path, body, **kw)
    took = time.monotonic() - started
    assert took < DOWN_ANSWER_BOUND_S, f"{method} {path} took {took:.1f} s: {reply!r}"
    return reply


def assert_throttle_unavailable(reply: Reply) -> None:
    assert reply.status == 503, reply
    assert reply.content_type == PROBLEM, reply
    assert reply.body["code"] == "throttle_unavailable", reply
    assert int(reply.headers["retry-after"]) >= 1, reply.headers


def login_body(account: Account, password: str | None = None) -> dict[str, str]:
    return {"phone": account.phone, "password": password or account.password, "role": account.role}


def received_live(client: ChatClient, wanted: set[int], timeout: float) -> int | None:
    """The id of the first ``message`` frame among ``wanted`` received within ``timeout`` (also
    one received earlier and not yet matched), or None; other frames stay pending."""
    for frame in client.pending:
        if frame.get("type") == "message" and frame["message"]["id"] in wanted:
            client.pending.remove(frame)
            return int(frame["message"]["id"])
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        frame = client._receive(left)
        if frame is None:
            return None
        if frame.get("type") == "message" and frame["message"]["id"] in wanted:
            return int(frame["message"]["id"])
        client.pending.append(frame)
    return None


def assert_up(*chats: ChatProcess) -> None:
    for chat in chats:
        assert chat.process is not None and chat.process.poll() is None, chat.output()


# --- the tests -----------------------------------------------------------------------------------


def test_without_redis_logins_fail_closed_quickly_and_recover_by_themselves(
    served: Deployment, redis_server: RedisProcess
) -> None:
    http = served.http
    patient = served.register("patient", "Throttled Patient")
    http.expect(200, "POST", "/v1/sessions", login_body(patient))

    redis_server.kill()

    # The right password and a wrong one get the same answer: nothing is checked uncounted.
    for password in (patient.password, "a wrong passphrase"):
        assert_throttle_unavailable(
            timed_call(http, "POST", "/v1/sessions", login_body(patient, password))
        )
    new = {"phone": served.new_phone(), "name": "New Patient", "password": "a good passphrase"}
    assert_throttle_unavailable(timed_call(http, "POST", "/v1/patients", new))
    # What does not count attempts works as before; the instance stays in the load balancer.
    assert timed_call(http, "GET", "/v1/hospitals").status == 200
    assert timed_call(http, "GET", "/v1/notifications", token=patient.token).status == 200
    assert timed_call(http, "GET", "/readyz").status == 200

    redis_server.restart()

    # Nothing to wait for: each worker's next call reconnects (both workers, twice each).
    for _ in range(4):
        http.expect(200, "POST", "/v1/sessions", login_body(patient))
    http.expect(201, "POST", "/v1/patients", new)
    assert "Traceback" not in served.server.output(), served.server.output()


def test_without_redis_the_chat_works_within_each_process_and_sync_repairs_the_rest(
    served: Deployment,
    chat_pair: tuple[ChatProcess, ChatProcess],
    redis_server: RedisProcess,
) -> None:
    a, b = chat_pair
    c: Consultation = new_consultation(served)
    assert c.patient.id is not None and c.doctor.id is not None
    conversation = c.conversation_id
    with (
        open_client(a, c.patient, "patient@A") as patient,
        open_client(b, c.doctor, "doctor@B") as doctor_b,
    ):
        patient.expect_presence(c.doctor.id, "doctor", online=True)
        baseline = patient.send(conversation, "Before the outage")
        assert doctor_b.expect_message(baseline["id"]) == baseline
        held = baseline["id"]  # the highest id the doctor on B holds
        patient.ping()  # A is done with the baseline (frames are handled in order)

        redis_server.kill()

        # To the doctor, connected on B only: acknowledged and stored. B cannot be told live,
        # but A counts the doctor as absent, so an inbox notice is left, and B pushes it from
        # the database.
        missed = patient.send(conversation, "Sent while Redis is down, to B")
        notice = doctor_b.expect(
            lambda f: (
                f.get("type") == "notification"
                and f["notification"]["data"].get("message_id") == missed["id"]
            ),
            what="the inbox notice of the message B could not be told of",
        )
        assert notice["notification"]["kind"] == "chat_message", notice

        # New connections are taken while Redis is down: the patient's second device, and the
        # doctor's on A (authentication reads the database, not Redis).
        started = time.monotonic()
        with (
            open_client(a, c.patient, "patient-tablet@A") as tablet,
            open_client(a, c.doctor, "doctor@A") as doctor_a,
        ):
            assert time.monotonic() - started < 2 * DOWN_ANSWER_BOUND_S
            during = [missed, patient.send(conversation, "Sent while Redis is down, on A")]
            assert tablet.expect_message(during[1]["id"]) == during[1]
            assert doctor_a.expect_message(during[1]["id"]) == during[1]
            during.append(doctor_a.send(conversation, "Answered on A"))
            assert patient.expect_message(during[2]["id"]) == during[2]
            assert tablet.expect_message(during[2]["id"]) == during[2]
            during.append(tablet.send(conversation, "From the tablet"))
            assert patient.expect_message(during[3]["id"]) == during[3]
            assert doctor_a.expect_message(during[3]["id"]) == during[3]
        # The connection on B is still open and answers; B never heard of those messages.
        doctor_b.ping()
        assert [f["message"]["id"] for f in doctor_b.message_frames()] == [held]
        assert_up(a, b)
        stored = http_messages(served, c.patient.token, conversation)
        assert [m["id"] for m in stored] == [held, *(m["id"] for m in during)]

        redis_server.restart()

        # Both processes reconnect by themselves: a message crosses live again.
        deadline = time.monotonic() + RECOVERY_BOUND_S
        probes: set[int] = set()
        while True:
            assert time.monotonic() < deadline, "messages did not cross processes again"
            probes.add(patient.send(conversation, f"Probe {len(probes) + 1}")["id"])
            if received_live(doctor_b, probes, PROBE_WAIT_S) is not None:
                break
        reply = doctor_b.send(conversation, "Back on B")
        assert patient.expect_message(reply["id"]) == reply

        # The doctor repairs the gap from the last message they held.
        synced, last_id = doctor_b.sync(held)
        synced_ids = [m["id"] for m in synced]
        assert synced_ids == sorted(synced_ids)
        assert {m["id"] for m in during} <= set(synced_ids), synced_ids
        assert synced[: len(during)] == during
        assert last_id == reply["id"]

        # Presence is known again across processes (Redis came back empty).
        with open_client(a, c.patient, "patient-phone@A") as phone:
            phone.expect_presence(c.doctor.id, "doctor", online=True)
    assert_up(a, b)
    for chat in (a, b):  # the outage is logged as warnings, never as a failure
        assert "Traceback" not in chat.log_path.read_text(), chat.output()


def test_a_hung_redis_holds_up_neither_conversations_nor_the_api(
    served: Deployment,
    chat_pair: tuple[ChatProcess, ChatProcess],
    redis_server: RedisProcess,
) -> None:
    """Found by a live probe: a Redis that hangs (rather than refuses) cost every chat frame its
    command timeouts in turn, so a conversation froze for the whole hang, and a burst of logins
    held every HTTP worker. Publishing to Redis now waits in an outbox of its own, and the
    throttle waits at most half a second."""
    a, _ = chat_pair
    c: Consultation = new_consultation(served)
    conversation = c.conversation_id
    http = served.http
    patient_account = served.register("patient", "Hung Patient")
    with (
        open_client(a, c.patient, "patient@A-hung") as patient,
        open_client(a, c.doctor, "doctor@A-hung") as doctor,
    ):
        patient.ping()
        doctor.ping()
        redis_server.pause()
        try:
            for n in range(4):
                started = time.monotonic()
                sent = patient.send(conversation, f"While Redis hangs {n}")
                assert doctor.expect_message(sent["id"]) == sent
                took = time.monotonic() - started
                assert took < 2.0, f"message {n} took {took:.1f} s"
            with ThreadPoolExecutor(6) as pool:
                logins = [
                    pool.submit(
                        timed_call, http, "POST", "/v1/sessions", login_body(patient_account)
                    )
                    for _ in range(6)
                ]
                listing = timed_call(http, "GET", "/v1/hospitals")
                replies = [login.result() for login in logins]
            assert listing.status == 200
            for reply in replies:
                assert_throttle_unavailable(reply)
        finally:
            redis_server.resume()
        assert_up(*chat_pair)
