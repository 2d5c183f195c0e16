"""Group commit: sends that arrive while a commit is in flight share the next transaction, and no
message is acknowledged (or delivered) before the transaction that stores it has committed.

Over a real ``ChatServer`` whose chat transactions can be held at ``commit()`` until the test
lets them go; then ``ChatService.send_all`` on SQLite and MariaDB, one message refused among
good ones, and the fall-back to one transaction per message."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event
from ws_support import WAIT, ChatClient, RunningChat, World, connected

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.bootstrap import Services, build_services
from medbook.domain import Period, WeeklySchedule
from medbook.domain.chat.model import Message, MessageKind
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import DomainError
from medbook.services.chat import Outgoing, Sent

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TOMORROW = dt.date(2026, 11, 26)


class Gate:
    """Wraps a unit-of-work factory: every ``commit()`` counts, and while the gate is closed
    it waits at the commit (before the store's own) until the test opens it."""

    def __init__(self, new_uow: Callable[[], Any]) -> None:
        self.new_uow = new_uow
        self.open = threading.Event()
        self.open.set()
        self.waiting = threading.Semaphore(0)
        self.commits = 0

    def __call__(self) -> Any:
        gate = self

        class Gated:
            def __init__(self, uow: Any) -> None:
                self.uow = uow

            def __enter__(self) -> Gated:
                self.uow.__enter__()
                return self

            def __exit__(self, *exc: object) -> Any:
                return self.uow.__exit__(*exc)

            def commit(self) -> None:
                if not gate.open.is_set():
                    gate.waiting.release()
                    assert gate.open.wait(WAIT * 4), "the test never opened the gate"
                self.uow.commit()
                gate.commits += 1

            def __getattr__(self, name: str) -> Any:
                return getattr(self.uow, name)

        return Gated(self.new_uow())


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.005)


def _nothing_stored_reached(client: ChatClient) -> None:
    """No ``ack`` and no ``message`` among what the client is sent for a moment. (It cannot ask
    for a round trip: its connection's frames are handled one at a time, and its send waits.)
    A wrong server fails this only some of the time; a right one always passes."""
    try:
        while True:
            client.inbox.append(client.read(0.2))
    except TimeoutError:
        pass
    got = [f for f in client.inbox if f["type"] in ("ack", "message")]
    assert got == [], f"a message was acknowledged or delivered before its commit: {got}"


@pytest.fixture
def gate(world: World) -> Iterator[Gate]:
    chat = world.services.chat
    real = chat.new_uow
    gated = Gate(real)
    chat.new_uow = gated
    yield gated
    gated.open.set()
    chat.new_uow = real


def _send(client: ChatClient, conversation_id: int, client_id: str, text: str) -> None:
    client.send(
        {
            "type": "send",
            "conversation_id": conversation_id,
            "client_id": client_id,
            "kind": "text",
            "content": text,
        }
    )


def test_sends_during_a_commit_share_the_next_and_none_is_acked_before_its_commit(
    world: World, server: RunningChat, gate: Gate
) -> None:
    with (
        connected(server.url, world.patient.token) as patient,
        connected(server.url, world.doctor.token) as doctor,
        connected(server.url, world.other_patient.token) as other_patient,
        connected(server.url, world.other_doctor.token) as other_doctor,
    ):
        everyone = [patient, doctor, other_patient, other_doctor]
        for client in everyone:
            client.ping()
            client.inbox.clear()
        commits = gate.commits
        gate.open.clear()

        _send(patient, world.conversation_id, "first", "Hello, doctor")
        assert gate.waiting.acquire(timeout=WAIT), "the first send never reached its commit"
        # The first message's transaction is held at its commit: three more sends queue up.
        _send(doctor, world.conversation_id, "second", "Hello")
        _send(other_patient, world.other_conversation_id, "third", "Good morning")
        _send(other_doctor, world.other_conversation_id, "fourth", "Good morning to you")
        _until(lambda: server.chat.sends.waiting == 3, "three sends waiting for the next batch")
        for client in everyone:
            _nothing_stored_reached(client)

        gate.open.set()
        acks = {
            name: client.wait_for(lambda f: f["type"] == "ack")
            for name, client in zip(["first", "second", "third", "fourth"], everyone, strict=True)
        }
        assert {name: ack["client_id"] for name, ack in acks.items()} == {n: n for n in acks}
        # Each sent message reached its counterpart, too.
        for client, expected in zip(everyone, ["second", "first", "fourth", "third"], strict=True):
            frame = client.wait_for(lambda f: f["type"] == "message")
            assert frame["message"]["id"] == acks[expected]["message"]["id"]

        # Four messages, two transactions: the first alone, the three that waited together.
        assert gate.commits - commits == 2
        assert (server.chat.sends.batches, server.chat.sends.messages) == (2, 4)
        # In each conversation, in the order sent.
        assert acks["first"]["message"]["id"] < acks["second"]["message"]["id"]
        assert acks["third"]["message"]["id"] < acks["fourth"]["message"]["id"]


def test_a_refused_send_in_a_batch_leaves_the_others_alone(
    world: World, server: RunningChat, gate: Gate
) -> None:
    with (
        connected(server.url, world.patient.token) as patient,
        connected(server.url, world.doctor.token) as doctor,
        connected(server.url, world.other_patient.token) as stranger,
    ):
        for client in (patient, doctor, stranger):
            client.ping()
            client.inbox.clear()
        gate.open.clear()
        _send(patient, world.conversation_id, "one", "First")
        assert gate.waiting.acquire(timeout=WAIT)
        _send(doctor, world.conversation_id, "two", "Second")
        _send(stranger, world.conversation_id, "intruder", "Not my conversation")
        _until(lambda: server.chat.sends.waiting == 2, "two sends waiting")
        gate.open.set()

        assert patient.wait_for(lambda f: f["type"] == "ack")["client_id"] == "one"
        assert doctor.wait_for(lambda f: f["type"] == "ack")["client_id"] == "two"
        refused = stranger.wait_for(lambda f: f["type"] == "error")
        assert (refused["code"], refused["client_id"]) == ("conversation_not_found", "intruder")
        stored = world.services.chat.messages_as(world.patient.actor, world.conversation_id)
        assert [v.message.client_id for v in stored][-2:] == ["one", "two"]


# --- ChatService.send_all on the SQL stores ------------------------------------------------------


def _pairs(services: Services, count: int) -> list[tuple[Actor, Actor, int]]:
    directory = services.directory
    hospital = directory.add_hospital("Ruijin Hospital")
    department = directory.add_department(hospital.id, "Cardiology")
    pairs = []
    for n in range(count):
        doctor = directory.add_doctor(
            hospital.id, department.id, name=f"Dr {n}", phone=f"1380000{n:04d}"
        )
        directory.set_schedule(doctor.id, WeeklySchedule.every_day(5, 5))
        directory.set_verified(doctor.id, True)
        patient = services.accounts.register_patient(f"1390000{n:04d}", f"P {n}", "long pass 1")
        services.booking.book(patient.id, doctor.id, TOMORROW, Period.MORNING)
        me = Actor(patient.id, Role.PATIENT)
        conversation = services.chat.start_conversation_as(me, doctor.id).conversation
        assert conversation.id is not None
        pairs.append((me, Actor(doctor.id, Role.DOCTOR), conversation.id))
    return pairs


def _fields(message: Message) -> tuple[object, ...]:
    return (
        message.conversation_id,
        message.sender_role,
        message.sender_id,
        message.client_id,
        message.content,
    )


def _commits(engine: Engine) -> list[int]:
    counted = [0]

    @event.listens_for(engine, "commit")
    def count(_connection: object) -> None:
        counted[0] += 1

    return counted


def test_send_all_stores_a_batch_in_one_transaction_each_message_on_its_own(
    engine: Engine,
) -> None:
    services = build_services(lambda: SqlUnitOfWork(engine), ManualClock(NOW))
    pairs = _pairs(services, 3)
    (p0, d0, c0), (p1, d1, c1), (p2, _, c2) = pairs
    chat = services.chat
    earlier = chat.send_as(p2, c2, "earlier", MessageKind.TEXT, "Sent before")
    commits = _commits(engine)
    batch = [
        Outgoing(p0, c0, "a", MessageKind.TEXT, "Hello"),
        Outgoing(d0, c0, "b", MessageKind.TEXT, "Hello to you"),
        Outgoing(p1, c0, "c", MessageKind.TEXT, "Not my conversation"),
        Outgoing(d1, c1, "d", MessageKind.TEXT, "   "),
        Outgoing(p1, c1, "e", MessageKind.TEXT, "Good morning"),
        Outgoing(p0, c0, "a", MessageKind.TEXT, "Hello"),  # a resend within the batch
        Outgoing(p2, c2, "earlier", MessageKind.TEXT, "Sent before"),  # a resend of a stored one
        Outgoing(p2, c2, "earlier", MessageKind.TEXT, "Something else"),  # a reused client id
        Outgoing(p2, c2, "f", MessageKind.TEXT, "Last"),
    ]
    results = chat.send_all(batch)

    assert commits[0] == 1
    sent = {o.client_id + str(n): r for n, (o, r) in enumerate(zip(batch, results, strict=True))}
    errors = {k: r.code for k, r in sent.items() if isinstance(r, DomainError)}
    assert errors == {
        "c2": "conversation_not_found",
        "d3": "invalid_value",
        "earlier7": "client_id_reused",
    }
    stored = {k: r for k, r in sent.items() if isinstance(r, Sent)}
    assert {k: r.new for k, r in stored.items()} == {
        "a0": True,
        "b1": True,
        "e4": True,
        "a5": False,
        "earlier6": False,
        "f8": True,
    }
    assert stored["a5"].message.id == stored["a0"].message.id
    assert stored["earlier6"].message.id == earlier.message.id
    assert stored["a0"].message.id < stored["b1"].message.id  # the order given
    assert stored["b1"].recipient.role is Role.PATIENT
    on_c0 = chat.messages_as(p0, c0)
    assert [v.message.client_id for v in on_c0] == ["a", "b"]
    # Each acknowledged message is the row stored under its id (entities compare by id alone).
    readers = {c0: p0, c1: p1, c2: p2}
    rows = {
        v.message.id: _fields(v.message)
        for conversation, reader in readers.items()
        for v in chat.messages_as(reader, conversation)
    }
    assert {s.message.id: _fields(s.message) for s in stored.values()}.items() <= rows.items()
    assert chat.unread_as(d0, c0) == 1
    assert [v.message.client_id for v in chat.messages_as(p2, c2)] == ["earlier", "f"]


def test_send_all_falls_back_to_one_transaction_per_message_when_the_batch_fails(
    engine: Engine,
) -> None:
    services = build_services(lambda: SqlUnitOfWork(engine), ManualClock(NOW))
    [(patient, doctor, conversation)] = _pairs(services, 1)
    chat = services.chat

    class Broken(SqlUnitOfWork):
        """Storing the text "boom" fails as a store failure would (not a rule)."""

        def __enter__(self) -> Broken:
            super().__enter__()
            add, add_all = self.messages.add, self.messages.add_all

            def failing(message: Any) -> Any:
                if message.content == "boom":
                    raise RuntimeError("the store failed")
                return add(message)

            def all_failing(messages: Any) -> Any:
                if any(message.content == "boom" for message in messages):
                    raise RuntimeError("the store failed")
                return add_all(messages)

            self.messages.add = failing  # type: ignore[method-assign]
            self.messages.add_all = all_failing  # type: ignore[method-assign]
            return self

    chat.new_uow = lambda: Broken(engine)
    results = chat.send_all(
        [
            Outgoing(patient, conversation, "1", MessageKind.TEXT, "fine"),
            Outgoing(doctor, conversation, "2", MessageKind.TEXT, "boom"),
            Outgoing(doctor, conversation, "3", MessageKind.TEXT, "also fine"),
        ]
    )
    assert isinstance(results[0], Sent) and isinstance(results[2], Sent)
    assert isinstance(results[1], RuntimeError)
    assert [v.message.client_id for v in chat.messages_as(patient, conversation)] == ["1", "3"]
