"""What the chat server's tests share: a demo world on in-memory services, a ``ChatServer``
running on its own event loop in a background thread, and a synchronous websocket client.

Live frames (presence, receipts, messages of others) may come in any order between the answers a
test waits for: ``ChatClient.wait_for`` reads until the frame it wants arrives (or a timeout) and
keeps every other frame it read in ``inbox`` for later."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from attrs import define, field, frozen
from websockets.asyncio.server import Server
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from medbook.adapters.broker import LocalBroker
from medbook.adapters.security import Argon2Hasher
from medbook.bootstrap import Services, in_memory
from medbook.demo import DEMO_ADMIN, DEMO_PASSWORD, DEMO_PATIENT, load_demo
from medbook.domain.shared.actors import Actor, Role
from medbook.entrypoints.chat.server import PATH, ChatLimits, ChatServer
from medbook.ports.broker import Broker

Frame = dict[str, Any]

#: Cheap password hashes: the tests log in often, and what they test is not the hashing.
FAST_HASHER = {"memory_cost": 1024, "time_cost": 1, "parallelism": 1}
#: The limits of the servers the tests run: quick to time out and to push notifications.
LIMITS = ChatLimits(auth_timeout=0.5, notification_poll=0.05)
#: How long a test waits for a frame it expects.
WAIT = 5.0

DEMO_DOCTOR_PHONE = "13800000001"  # Zhang Wei: the demo patient's doctor
OTHER_DOCTOR_PHONE = "13800000002"  # Li Na: the other pair's doctor
OTHER_PATIENT_PHONE = "13800138001"


@frozen
class Account:
    actor: Actor
    token: str

    @property
    def id(self) -> int:
        return self.actor.id


@frozen
class World:
    """The demo, and one more pair with a conversation of its own (strangers to the first)."""

    services: Services
    patient: Account
    doctor: Account
    conversation_id: int
    other_patient: Account
    other_doctor: Account
    other_conversation_id: int
    admin: Account


def login(services: Services, phone: str, role: Role) -> Account:
    result = services.accounts.login(phone, DEMO_PASSWORD, role)
    return Account(result.actor, result.token)


def open_chat(services: Services, patient: Account, doctor: Account) -> int:
    """An appointment between the two (the first place the doctor offers), then their
    conversation; its id."""
    offered = next(o for o in services.booking.offered_sessions(doctor.id) if o.remaining > 0)
    session = offered.session
    services.booking.book(patient.id, doctor.id, session.date, session.period)
    started = services.chat.start_conversation_as(patient.actor, doctor.id)
    assert started.conversation.id is not None
    return started.conversation.id


def build_world() -> World:
    services = in_memory(hasher=Argon2Hasher(**FAST_HASHER))
    assert load_demo(services)
    patient = login(services, DEMO_PATIENT[0], Role.PATIENT)
    doctor = login(services, DEMO_DOCTOR_PHONE, Role.DOCTOR)
    [view] = services.chat.conversations_as(patient.actor)
    assert view.conversation.id is not None
    services.accounts.register_patient(OTHER_PATIENT_PHONE, "Other Patient", DEMO_PASSWORD)
    other_patient = login(services, OTHER_PATIENT_PHONE, Role.PATIENT)
    other_doctor = login(services, OTHER_DOCTOR_PHONE, Role.DOCTOR)
    other_conversation = open_chat(services, other_patient, other_doctor)
    admin = login(services, DEMO_ADMIN[0], Role.ADMIN)
    return World(
        services,
        patient,
        doctor,
        view.conversation.id,
        other_patient,
        other_doctor,
        other_conversation,
        admin,
    )


# --- the server ----------------------------------------------------------------------------------


@define
class RunningChat:
    """A ``ChatServer`` serving on 127.0.0.1 (a port of the system's choosing) from an event
    loop of its own in a daemon thread."""

    chat: ChatServer
    loop: asyncio.AbstractEventLoop = field(factory=asyncio.new_event_loop)
    thread: threading.Thread | None = None
    server: Server | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{PATH}"

    def start(self) -> RunningChat:
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="chat-server-loop", daemon=True
        )
        self.thread.start()
        self.server = self.run(self.chat.start("127.0.0.1", 0))
        self.port = next(iter(self.server.sockets)).getsockname()[1]
        return self

    def run(self, work: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self.server is not None
            self.server.close()
            await self.server.wait_closed()
            await self.chat.stop()

        try:
            self.run(shutdown())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            assert self.thread is not None
            self.thread.join(10)
            self.loop.close()


@contextmanager
def running(
    services: Services, limits: ChatLimits = LIMITS, broker: Broker | None = None
) -> Iterator[RunningChat]:
    chat = ChatServer(services, broker or LocalBroker(), limits)
    served = RunningChat(chat).start()
    try:
        yield served
    finally:
        served.stop()


#: ``serve(limits)``: one more server over the test's world, with those limits (a fixture).
Serve = Callable[[ChatLimits], RunningChat]


# --- the client ----------------------------------------------------------------------------------


class ChatClient:
    """A synchronous websocket client of the chat; every frame it reads is parsed and kept."""

    def __init__(self, url: str) -> None:
        self._stack = ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(
                url, proxy=None, compression=None, open_timeout=WAIT, close_timeout=2, max_size=None
            )
        )
        #: Frames read but not yet taken by ``wait_for``/``take``.
        self.inbox: list[Frame] = []
        #: Every frame read, in the order it came.
        self.received: list[Frame] = []

    # sending

    def send(self, frame: Frame) -> None:
        self.ws.send(json.dumps(frame))

    def send_raw(self, data: str | bytes, *, text: bool | None = None) -> None:
        self.ws.send(data, text=text)

    def auth(self, token: str) -> Frame:
        self.send({"type": "auth", "token": token})
        return self.wait_for(lambda f: f["type"] == "ready")

    # reading

    def read(self, timeout: float) -> Frame:
        raw = self.ws.recv(timeout)
        assert isinstance(raw, str), f"the server sent a binary frame: {raw!r}"
        frame: Frame = json.loads(raw)
        self.received.append(frame)
        return frame

    def wait_for(self, wanted: Callable[[Frame], bool], timeout: float = WAIT) -> Frame:
        """The first frame (read before or now) that ``wanted`` accepts; the others stay in the
        inbox."""
        for i, frame in enumerate(self.inbox):
            if wanted(frame):
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no awaited frame within {timeout} s; read meanwhile: {self.inbox[-10:]}"
                )
            try:
                frame = self.read(left)
            except TimeoutError:
                continue
            if wanted(frame):
                return frame
            self.inbox.append(frame)

    def take(self, kind: str) -> list[Frame]:
        """The frames of that type in the inbox (removed from it)."""
        found = [f for f in self.inbox if f["type"] == kind]
        self.inbox = [f for f in self.inbox if f["type"] != kind]
        return found

    def request(self, frame: Frame, kind: str, timeout: float = WAIT) -> Frame:
        self.send(frame)
        return self.wait_for(lambda f: f["type"] == kind, timeout)

    def error_for(self, data: str | bytes | Frame, *, text: bool | None = None) -> Frame:
        """Send ``data`` (a frame, or raw text or bytes) and return the error frame it earns."""
        if isinstance(data, dict):
            self.send(data)
        else:
            self.send_raw(data, text=text)
        return self.wait_for(lambda f: f["type"] in ("error", "ack", "synced", "pong"))

    def ping(self, timeout: float = WAIT) -> None:
        """A round trip: every frame the server sent this connection before is read by now."""
        self.request({"type": "ping"}, "pong", timeout)

    def sync(self, after: int, timeout: float = WAIT) -> tuple[list[Frame], int]:
        """The ``message`` frames read from sending ``sync`` to its ``synced`` (in the order they
        came; a live one among them is counted too) and its ``last_id``."""
        self.send({"type": "sync", "after": after})
        got: list[Frame] = []
        before = len(self.received)
        synced = self.wait_for(lambda f: f["type"] == "synced", timeout)
        for frame in self.received[before:]:
            if frame["type"] == "message":
                got.append(frame)
        self.inbox = [f for f in self.inbox if not any(f is g for g in got)]
        return got, synced["last_id"]

    def closed_with(self, timeout: float = WAIT) -> int | None:
        """Read until the server closes the connection; its close code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.read(max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                continue
            except ConnectionClosed:
                return self.ws.close_code
        raise AssertionError(f"the connection is still open after {timeout} s")

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def connected(url: str, token: str | None = None) -> Iterator[ChatClient]:
    """A client, authenticated with ``token`` when one is given; closed after."""
    with ChatClient(url) as client:
        if token is not None:
            client.auth(token)
        yield client


def drain(client: ChatClient) -> None:
    """Read everything the server sent so far (a ping round trip)."""
    client.ping()
