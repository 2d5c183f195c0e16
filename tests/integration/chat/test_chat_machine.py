"""The chat server as a state machine: one server, the demo patient and doctor, up to two
connections each, that connect, disconnect, send, resend a client id used before (perhaps from
another connection, perhaps the other party's), sync and mark read, in any order.

The oracle is the machine's own model: the messages committed so far, keyed by (sender, client
id), with the id each first ack returned. It checks that

- every ack for a (sender, client id) returns the same id and the text first sent;
- a new message gets an id above every earlier one (so that "sync from the last id I saw" is
  enough), and reaches every other connection of both parties live;
- a sync gives exactly the committed messages above its cursor, in id order, then ``synced``;
- in the end each connected client, after a last sync from the highest id it saw, holds exactly
  the committed messages (what it got live, what its syncs gave and the acks of what it sent
  itself: a sender's own connection gets no copy), each with its text.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from ws_support import LIMITS, ChatClient, Frame, RunningChat, World, build_world, running

USERS = ("patient", "doctor")
SLOTS = [(user, n) for user in USERS for n in range(2)]
Slot = tuple[str, int]
TEXT = st.text(alphabet="abcxyz 019中文é😀", min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and s.strip()
)


class Connection:
    """A client and what it holds: every message of the conversation it got, by id."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.held: dict[int, str] = {}
        self.absorbed = 0  # how many of the client's frames were looked at

    @property
    def highest(self) -> int:
        return max(self.held, default=0)

    def absorb(self, known: dict[int, tuple[str, str]]) -> None:
        """Take every message frame read since last time; one the model knows must say what
        the model says."""
        for frame in self.client.received[self.absorbed :]:
            if frame["type"] != "message":
                continue
            message = frame["message"]
            if message["id"] in known:
                assert message["content"] == known[message["id"]][1], frame
            previous = self.held.setdefault(message["id"], message["content"])
            assert previous == message["content"], frame
        self.absorbed = len(self.client.received)


class ChatMachine(RuleBasedStateMachine):
    served: RunningChat
    world: World

    def __init__(self) -> None:
        super().__init__()
        self.connections: dict[Slot, Connection] = {}
        #: (sender, client id) -> (id, content): what the first ack of that client id returned.
        self.committed: dict[tuple[str, str], tuple[int, str]] = {}
        #: id -> (sender, content)
        self.by_id: dict[int, tuple[str, str]] = {}
        self.client_ids = itertools.count()
        self.run = uuid.uuid4().hex[:8]  # client ids of earlier examples are stored too
        self.used: list[str] = []
        self.baseline = 0

    # --- helpers ---------------------------------------------------------------------------------

    def token(self, user: str) -> str:
        return (self.world.patient if user == "patient" else self.world.doctor).token

    def frame(self, client_id: str, content: str) -> Frame:
        return {
            "type": "send",
            "conversation_id": self.world.conversation_id,
            "client_id": client_id,
            "kind": "text",
            "content": content,
        }

    def expected_after(self, after: int) -> list[int]:
        return sorted(i for i in self.by_id if i > after)

    def sync(self, connection: Connection, after: int) -> None:
        got, last = connection.client.sync(after)
        ids = [f["message"]["id"] for f in got]
        expected = self.expected_after(after)
        assert ids == expected, f"sync after {after}: got {ids}, committed {expected}"
        assert last == (expected[-1] if expected else after)
        for frame in got:
            assert frame["message"]["conversation_id"] == self.world.conversation_id
        connection.absorb(self.by_id)

    def deliver_check(self, sender: Slot, message_id: int, *, required: bool) -> None:
        """Every other open connection (of either party) gets the message live."""
        for slot, connection in self.connections.items():
            if slot == sender:
                continue
            wanted = message_id

            def is_it(f: Frame, wanted: int = wanted) -> bool:
                return f["type"] == "message" and f["message"]["id"] == wanted

            if required:
                connection.client.wait_for(is_it)
            else:
                with contextlib.suppress(AssertionError):
                    connection.client.wait_for(is_it, timeout=0.5)
            connection.absorb(self.by_id)

    def record(self, user: str, client_id: str, ack: Frame, content: str) -> int:
        message = ack["message"]
        assert ack["client_id"] == client_id
        assert message["conversation_id"] == self.world.conversation_id
        assert message["sender_role"] == user
        key = (user, client_id)
        if key in self.committed:
            first_id, first_content = self.committed[key]
            assert message["id"] == first_id, f"{key} acked as {message['id']}, first {first_id}"
            assert message["content"] == first_content
            return int(message["id"])
        assert message["id"] not in self.by_id, f"a new message reused id {message['id']}"
        assert message["id"] > max(self.by_id, default=self.baseline), "ids must grow"
        assert message["content"] == content
        self.committed[key] = (message["id"], content)
        self.by_id[message["id"]] = (user, content)
        return int(message["id"])

    # --- rules -----------------------------------------------------------------------------------

    @initialize()
    def start_where_the_server_is(self) -> None:
        with ChatClient(self.served.url) as probe:
            probe.auth(self.world.patient.token)
            _, self.baseline = probe.sync(0)
        # Where each party's read receipt stands (a receipt is announced only when it moves).
        with self.world.services.new_uow() as uow:
            conversation = uow.conversations.get(self.world.conversation_id)
            assert conversation is not None
            self.receipts = {
                "patient": conversation.patient_read_up_to,
                "doctor": conversation.doctor_read_up_to,
            }

    @precondition(lambda self: len(self.connections) < len(SLOTS))
    @rule(data=st.data())
    def connect(self, data: st.DataObject) -> None:
        free = [slot for slot in SLOTS if slot not in self.connections]
        slot = data.draw(st.sampled_from(free), label="slot")
        client = ChatClient(self.served.url)
        client.auth(self.token(slot[0]))
        connection = Connection(client)
        self.connections[slot] = connection
        self.sync(connection, self.baseline)  # what a client does on (re)connecting

    @precondition(lambda self: bool(self.connections))
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(sorted(self.connections)), label="slot")
        self.connections.pop(slot).client.close()

    @precondition(lambda self: bool(self.connections))
    @rule(data=st.data(), content=TEXT)
    def send(self, data: st.DataObject, content: str) -> None:
        slot = data.draw(st.sampled_from(sorted(self.connections)), label="slot")
        client_id = f"{self.run}-{next(self.client_ids)}"
        self.used.append(client_id)
        client = self.connections[slot].client
        ack = client.request(self.frame(client_id, content), "ack")
        message_id = self.record(slot[0], client_id, ack, content)
        self.connections[slot].held[message_id] = ack["message"]["content"]  # its own, by ack
        self.deliver_check(slot, message_id, required=True)

    @precondition(lambda self: bool(self.connections) and bool(self.used))
    @rule(data=st.data(), content=TEXT)
    def resend(self, data: st.DataObject, content: str) -> None:
        slot = data.draw(st.sampled_from(sorted(self.connections)), label="slot")
        client_id = data.draw(st.sampled_from(self.used), label="client_id")
        key = (slot[0], client_id)
        new = key not in self.committed
        client = self.connections[slot].client
        if not new and data.draw(st.booleans(), label="same message"):
            content = self.committed[key][1]
        if not new and content != self.committed[key][1]:
            # A client id names one message: another content under it is refused.
            refused = client.request(self.frame(client_id, content), "error")
            assert (refused["code"], refused["field"]) == ("client_id_reused", "client_id")
            return
        ack = client.request(self.frame(client_id, content), "ack")
        message_id = self.record(slot[0], client_id, ack, content)
        self.connections[slot].held[message_id] = ack["message"]["content"]  # its own, by ack
        # A resend may or may not be delivered again; a new message must be.
        self.deliver_check(slot, message_id, required=new)

    @precondition(lambda self: bool(self.connections))
    @rule(data=st.data())
    def sync_from(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(sorted(self.connections)), label="slot")
        connection = self.connections[slot]
        # A list whose length depends on the model alone (hypothesis replays the draws).
        cursors = [self.baseline, connection.highest, *sorted(self.by_id)]
        after = data.draw(st.sampled_from(cursors), label="after")
        self.sync(connection, max(after, self.baseline))

    @precondition(lambda self: bool(self.connections))
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(sorted(self.connections)), label="slot")
        up_to = data.draw(st.sampled_from([0, *sorted(self.by_id)]), label="up_to")
        user = slot[0]
        reader = self.world.patient if user == "patient" else self.world.doctor
        expected = {
            "type": "read",
            "conversation_id": self.world.conversation_id,
            "reader": {"id": reader.id, "role": user},
            "up_to": up_to,
        }
        self.connections[slot].client.send(
            {"type": "read", "conversation_id": self.world.conversation_id, "up_to": up_to}
        )
        if up_to <= self.receipts[user]:  # receipts never move back; nothing is announced
            for connection in self.connections.values():
                connection.client.ping()
                assert not [f for f in connection.client.inbox if f["type"] == "read"]
            return
        self.receipts[user] = up_to
        for connection in self.connections.values():  # both parties hear of it
            got = connection.client.wait_for(lambda f: f["type"] in ("read", "error"))
            assert got == expected, got
            connection.absorb(self.by_id)

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def every_held_message_is_committed_as_the_model_says(self) -> None:
        for connection in self.connections.values():
            connection.absorb(self.by_id)
            for message_id, content in connection.held.items():
                assert message_id in self.by_id, f"held {message_id}, never acked"
                assert self.by_id[message_id][1] == content

    def teardown(self) -> None:
        try:
            expected = {i: content for i, (_, content) in self.by_id.items()}
            for slot, connection in sorted(self.connections.items()):
                connection.client.ping()
                connection.absorb(self.by_id)
                self.sync(connection, max(connection.highest, self.baseline))
                assert connection.held == expected, (
                    f"{slot} holds {sorted(connection.held)}, committed {sorted(expected)}"
                )
        finally:
            for connection in self.connections.values():
                connection.client.close()
            self.connections.clear()


@pytest.fixture(scope="module")
def machine_server() -> Iterator[tuple[World, RunningChat]]:
    world = build_world()
    with running(world.services, LIMITS) as served:
        yield world, served


def test_the_chat_server_keeps_every_client_whole(
    machine_server: tuple[World, RunningChat],
) -> None:
    ChatMachine.world, ChatMachine.served = machine_server
    run_state_machine_as_test(
        ChatMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
