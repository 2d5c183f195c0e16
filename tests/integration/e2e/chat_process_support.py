"""Helpers for the end-to-end chat tests: ``medbook chat`` run as a subprocess next to a
``medbook serve`` (same working directory and environment, so the same database and token
secret), and a small websocket client on ``websockets.sync.client`` that reads frames until it
finds the one it wants.

Frames interleave (a live ``message`` can arrive between a ``presence`` and a ``read``), so a
test never assumes which frame comes next: ``ChatClient.expect`` reads, with a timeout, until a
frame matches, and keeps the frames it passed over for later ``expect`` calls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from ssl import SSLContext
from typing import Any, NoReturn

import jwt
import pytest
from e2e_support import (
    LOGS,
    STOP_TIMEOUT,
    Account,
    Deployment,
    HttpClient,
    free_port,
    medbook_command,
    wait_healthy,
)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

Frame = dict[str, Any]
Predicate = Callable[[Frame], bool]

FRAME_TIMEOUT = 5.0

# --- the chat process ----------------------------------------------------------------------------

#: Every chat process started and not stopped: their output goes into failure messages.
LIVE_CHATS: list[ChatProcess] = []


@dataclass(eq=False)
class ChatProcess:
    """A ``medbook chat --bind 127.0.0.1:PORT`` process. ``restart`` keeps the port, so clients
    reconnect to the same address; the output of every run is appended to one file."""

    workdir: Path
    env: dict[str, str]
    name: str = "chat"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def beside(
        cls, deployment: Deployment, name: str, extra: Mapping[str, str] | None = None
    ) -> ChatProcess:
        """A chat process with the working directory and environment of the deployment's HTTP
        server (so the same SQLite file or MariaDB URL and the same JWT secret), plus ``extra``."""
        server = deployment.server
        return cls(server.workdir, {**server.env, **(extra or {})}, name)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/chat"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.port}.log"

    def start(self) -> ChatProcess:
        command = [*medbook_command(), "chat", "--bind", f"127.0.0.1:{self.port}"]
        with self.log_path.open("ab") as log:
            log.write(f"=== {' '.join(command)} at {dt.datetime.now(dt.UTC)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # the file stays open in the child
                command,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self not in LIVE_CHATS:
            LIVE_CHATS.append(self)
        if self.log_path not in LOGS:
            LOGS.append(self.log_path)
        try:
            self._wait_healthy()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        health = f"http://127.0.0.1:{self.port}/healthz"
        wait_healthy(self.process, health, f"medbook chat ({self.name})", self.output)

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL to the process group past STOP_TIMEOUT); the exit status."""
        if self in LIVE_CHATS:
            LIVE_CHATS.remove(self)
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._killpg()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash or ``kill -9`` would; no goodbyes."""
        self._killpg()

    def restart(self) -> ChatProcess:
        if self.process is not None and self.process.poll() is None:
            self.stop()
        return self.start()

    def _killpg(self) -> None:
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)

    def output(self, max_lines: int = 80) -> str:
        text = self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""
        lines = text.splitlines()
        if len(lines) > max_lines:
            lines = [f"... ({len(lines) - max_lines} earlier lines)", *lines[-max_lines:]]
        return f"--- medbook chat {self.name} ({self.url})\n" + "\n".join(lines)


def chat_outputs() -> str:
    return "\n".join(chat.output() for chat in LIVE_CHATS)


# --- the websocket client ------------------------------------------------------------------------


class ChatClient:
    """One websocket connection to ``/v1/chat``. Every frame received is kept in ``frames``;
    those no ``expect`` has matched yet wait in ``pending``."""

    _names = itertools.count(1)

    def __init__(self, url: str, name: str | None = None, *, ssl: SSLContext | None = None) -> None:
        self.url = url
        self.name = name or f"client-{next(self._names)}"
        self.frames: list[Frame] = []
        self.pending: list[Frame] = []
        self.closed: ConnectionClosed | None = None
        # websockets 17 wants connect() entered as a context manager; close() exits it.
        self._exits = contextlib.ExitStack()
        self.ws: ClientConnection = self._exits.enter_context(
            connect(
                url,
                open_timeout=10,
                close_timeout=3,
                compression=None,
                max_size=2**20,
                ssl=ssl,
            )
        )

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._exits.close()

    # --- reading ---------------------------------------------------------------------------------

    def _receive(self, timeout: float) -> Frame | None:
        """The next frame, or None when none came within ``timeout``; raises ConnectionClosed."""
        if self.closed is not None:
            raise self.closed
        try:
            raw = self.ws.recv(timeout=max(timeout, 0))
        except TimeoutError:
            return None
        except ConnectionClosed as closed:
            self.closed = closed
            raise
        assert isinstance(raw, str), f"{self.name}: a binary frame {raw!r}"
        frame = json.loads(raw)
        assert isinstance(frame, dict), f"{self.name}: a frame that is not an object: {raw}"
        self.frames.append(frame)
        return frame

    def expect(
        self, predicate: Predicate, timeout: float = FRAME_TIMEOUT, what: str = "a frame"
    ) -> Frame:
        """The first frame (already received and unmatched, or arriving within ``timeout``) for
        which ``predicate`` holds; it is removed from ``pending``. Fails the test otherwise."""
        for waiting in self.pending:
            if predicate(waiting):
                self.pending.remove(waiting)
                return waiting
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                frame = self._receive(left) if left > 0 else None
            except ConnectionClosed as closed:
                self.fail(f"the connection closed ({_close_of(closed)}) while waiting for {what}")
            if frame is None:
                self.fail(f"waited {timeout:g} s for {what}: it did not come")
            if predicate(frame):
                return frame
            self.pending.append(frame)

    def expect_type(self, kind: str, timeout: float = FRAME_TIMEOUT, **fields: Any) -> Frame:
        """The next frame of type ``kind`` whose top-level fields equal ``fields``."""

        def match(frame: Frame) -> bool:
            return frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items())

        shown = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        return self.expect(match, timeout, f"a {kind!r} frame {shown}".rstrip())

    def expect_message(self, message_id: int, timeout: float = FRAME_TIMEOUT) -> Frame:
        """The live ``message`` frame of message ``message_id``; its ``message``."""
        frame = self.expect(
            lambda f: f.get("type") == "message" and f["message"]["id"] == message_id,
            timeout,
            f"the 'message' frame of message {message_id}",
        )
        return dict(frame["message"])

    def expect_presence(self, user_id: int, role: str, online: bool) -> Frame:
        return self.expect_type("presence", user_id=user_id, role=role, online=online)

    def closed_with(self, timeout: float = FRAME_TIMEOUT) -> tuple[int | None, str]:
        """Read until the server closes the connection; its close code and reason."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"the server did not close the connection within {timeout:g} s")
            try:
                self._receive(left)
            except ConnectionClosed as closed:
                return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")

    def drain(self, timeout: float = FRAME_TIMEOUT) -> ConnectionClosed:
        """Read every frame until the connection is gone (the server died); how it ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._receive(deadline - time.monotonic())
            except ConnectionClosed as closed:
                return closed
        self.fail(f"the connection was still open after {timeout:g} s")

    def fail(self, why: str) -> NoReturn:
        seen = "\n".join(f"  {json.dumps(f)}" for f in self.frames[-40:]) or "  (none)"
        pytest.fail(
            f"{self.name} ({self.url}): {why}\nframes it received (last 40):\n{seen}\n"
            f"{chat_outputs()}",
            pytrace=False,
        )

    # --- writing ---------------------------------------------------------------------------------

    def send_frame(self, frame: Frame) -> None:
        self.ws.send(json.dumps(frame))

    def auth(self, token: str | None) -> Frame:
        """Authenticate; the ``ready`` frame."""
        self.send_frame({"type": "auth", "token": token})
        return self.expect_type("ready")

    def send(
        self,
        conversation_id: int,
        content: str,
        *,
        client_id: str | None = None,
        kind: str = "text",
        timeout: float = FRAME_TIMEOUT,
    ) -> Frame:
        """Send a message and wait for its ``ack``; the acknowledged message."""
        client_id = client_id or uuid.uuid4().hex
        self.send_frame(
            {
                "type": "send",
                "conversation_id": conversation_id,
                "client_id": client_id,
                "kind": kind,
                "content": content,
            }
        )
        answer = self.expect(
            lambda f: f.get("type") in {"ack", "error"} and f.get("client_id") == client_id,
            timeout,
            f"the ack of {client_id!r}",
        )
        if answer["type"] != "ack":
            self.fail(f"sending {client_id!r} was refused: {answer}")
        return dict(answer["message"])

    def ping(self) -> None:
        """A round trip: every frame the server sent before the pong has been received."""
        self.send_frame({"type": "ping"})
        self.expect_type("pong")

    def sync(self, after: int, timeout: float = FRAME_TIMEOUT) -> tuple[list[Frame], int]:
        """``sync`` from ``after``: the messages of the ``message`` frames received up to the
        ``synced`` frame (other frames stay pending), and its ``last_id``."""
        self.pending = [f for f in self.pending if f.get("type") != "message"]
        self.send_frame({"type": "sync", "after": after})
        messages: list[Frame] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                frame = self._receive(left) if left > 0 else None
            except ConnectionClosed as closed:
                self.fail(f"the connection closed ({_close_of(closed)}) during a sync")
            if frame is None:
                self.fail(f"no 'synced' within {timeout:g} s of sync after {after}")
            if frame.get("type") == "synced":
                return messages, int(frame["last_id"])
            if frame.get("type") == "message":
                messages.append(dict(frame["message"]))
            else:
                self.pending.append(frame)

    def message_frames(self) -> list[Frame]:
        """Every ``message`` frame this connection received."""
        return [f for f in self.frames if f.get("type") == "message"]


def _close_of(closed: ConnectionClosed) -> str:
    if closed.rcvd is None:
        return "no close frame"
    return f"code {closed.rcvd.code}, {closed.rcvd.reason!r}"


def open_client(chat: ChatProcess, account: Account, name: str) -> ChatClient:
    """A connection of ``account``, authenticated."""
    client = ChatClient(chat.url, name)
    try:
        ready = client.auth(account.token)
    except BaseException:
        client.close()
        raise
    assert (ready["user_id"], ready["role"]) == (account.id, account.role), ready
    return client


# --- the people who chat -------------------------------------------------------------------------


@dataclass
class Consultation:
    """A patient with an appointment with a doctor, and their conversation."""

    patient: Account
    doctor: Account
    conversation_id: int


def a_later_session(http: HttpClient, doctor_id: int) -> dict[str, Any]:
    """An offered session at least two days ahead (never one that could start mid-test)."""
    sessions = http.expect(200, "GET", f"/v1/doctors/{doctor_id}/sessions")
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    later = [s for s in sessions if dt.date.fromisoformat(s["date"]) >= soon and s["remaining"]]
    assert later, f"doctor {doctor_id} offers nothing bookable: {sessions}"
    return dict(later[0])


def start_conversation(deployment: Deployment, patient: Account, doctor: Account) -> int:
    """Book the doctor for the patient over HTTP, then start their conversation; its id."""
    http = deployment.http
    assert doctor.id is not None
    session = a_later_session(http, doctor.id)
    wanted = {"doctor_id": doctor.id, "date": session["date"], "period": session["period"]}
    http.expect(201, "POST", "/v1/appointments", wanted, token=patient.token)
    started = http.expect(
        201, "POST", "/v1/conversations", {"doctor_id": doctor.id}, token=patient.token
    )
    assert (started["doctor_id"], started["patient_id"]) == (doctor.id, patient.id), started
    return int(started["id"])


def new_consultation(deployment: Deployment) -> Consultation:
    """A new verified doctor and a new patient who booked them and opened a conversation."""
    doctor, _ = deployment.verified_doctor(quota=5, name="Dr Chat")
    patient = deployment.register("patient", "Chat Patient")
    return Consultation(patient, doctor, start_conversation(deployment, patient, doctor))


def http_messages(deployment: Deployment, token: str | None, conversation_id: int) -> list[Frame]:
    """Every message of the conversation over HTTP, oldest first, page by page."""
    found: list[Frame] = []
    after = 0
    while True:
        page = deployment.http.expect(
            200,
            "GET",
            f"/v1/conversations/{conversation_id}/messages?after={after}&limit=100",
            token=token,
        )
        found.extend(page)
        if len(page) < 100:
            return found
        after = page[-1]["id"]


def forged_token(
    secret: str, user_id: int, role: str, *, expires_in: dt.timedelta = dt.timedelta(hours=1)
) -> str:
    """A token with medbook's claims (adapters/security.py), signed with ``secret``; issued an
    hour before it expires (so a negative ``expires_in`` makes an expired one)."""
    now = dt.datetime.now(dt.UTC)
    expires = now + expires_in
    issued = min(now, expires - dt.timedelta(hours=1))
    claims = {
        "sub": str(user_id),
        "role": role,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "iss": "medbook",
        "aud": "medbook-api",
        "jti": secrets.token_urlsafe(16),
    }
    return str(jwt.encode(claims, secret, algorithm="HS256"))
