"""Chat throughput and latency: many clients talking at once through real ``medbook chat``
processes.

    python bench/chat.py --db sqlite  --clients 200 --messages 20
    python bench/chat.py --db mariadb --clients 200 --messages 20
    python bench/chat.py --db mariadb --clients 200 --messages 20 --processes 2   # Redis fan-out

Half the clients are patients, half doctors, in pairs that share a conversation. Every client
connects and authenticates; then all of them send ``--messages`` text messages each, one after
the other (the next once the previous is acknowledged, as a person's app does), while reading
what their counterpart sends. Measured: delivered messages per second over the whole exchange,
the latency from ``send`` to the ``ack`` (stored and committed) and from ``send`` to the
counterpart's ``message`` frame. The clients run in this process, on the same two cores as the
server; ``--processes 2`` puts patients on one chat process and doctors on the other, with
Redis (MEDBOOK_TEST_REDIS_URL, default redis://127.0.0.1:6379/15) between them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from databases import throwaway_database
from websockets.asyncio.client import ClientConnection, connect

from medbook.adapters.security import Argon2Hasher, JwtTokens
from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql.migrate import upgrade
from medbook.bootstrap import build_services
from medbook.domain import Period, WeeklySchedule
from medbook.domain.shared.actors import Actor, Role

REDIS_URL = os.environ.get("MEDBOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _pairs(url: str, secret: str, count: int) -> list[tuple[str, str, int]]:
    """``count`` patient-doctor pairs with an appointment and a conversation: their tokens and
    the conversation id."""
    engine = make_engine(url)
    upgrade(engine)
    services = build_services(
        lambda: SqlUnitOfWork(engine), hasher=Argon2Hasher(memory_cost=8, time_cost=1)
    )
    tokens = JwtTokens(secret, lifetime=dt.timedelta(hours=2))
    now = dt.datetime.now(dt.UTC)
    directory = services.directory
    hospital = directory.add_hospital("Bench Hospital")
    department = directory.add_department(hospital.id, "Bench")
    tomorrow = (now + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    pairs = []
    for n in range(count):
        doctor = directory.add_doctor(
            hospital.id, department.id, name=f"Doctor {n}", phone=f"1380000{n:04d}"
        )
        directory.set_schedule(doctor.id, WeeklySchedule.every_day(5, 5))
        directory.set_verified(doctor.id, True)
        services.accounts.grant_login(Role.DOCTOR, doctor.id, f"1380000{n:04d}", "bench pass 1")
        patient = services.accounts.register_patient(f"1390000{n:04d}", f"P {n}", "bench pass 1")
        services.booking.book(patient.id, doctor.id, tomorrow, Period.MORNING)
        me = Actor(patient.id, Role.PATIENT)
        conversation = services.chat.start_conversation_as(me, doctor.id).conversation
        pairs.append(
            (
                tokens.issue(me, now),
                tokens.issue(Actor(doctor.id, Role.DOCTOR), now),
                conversation.id,
            )
        )
    engine.dispose()
    return pairs


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_chat(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "medbook.entrypoints.cli", "chat", "--bind", f"127.0.0.1:{port}"],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process, port
        time.sleep(0.1)
    process.kill()
    raise SystemExit("medbook chat did not start")


class Talker:
    def __init__(self, token: str, conversation_id: int, messages: int) -> None:
        self.token = token
        self.conversation_id = conversation_id
        self.messages = messages
        self.acked: list[float] = []
        self.delivered: list[float] = []
        self.acks: dict[str, asyncio.Future[None]] = {}
        self.done = 0

    async def open(self, url: str) -> ClientConnection:
        websocket = await connect(url, max_queue=None, compression=None)
        await websocket.send(json.dumps({"type": "auth", "token": self.token}))
        ready = json.loads(await websocket.recv())
        assert ready["type"] == "ready", ready
        return websocket

    async def read(self, websocket: ClientConnection, expected: int) -> None:
        """Until the counterpart's ``expected`` messages have arrived and every send is acked."""
        async for raw in websocket:
            frame = json.loads(raw)
            if frame["type"] == "ack":
                self.acks.pop(frame["client_id"]).set_result(None)
                self.done += 1
            elif frame["type"] == "message":
                sent_at = float(frame["message"]["content"])
                self.delivered.append(time.perf_counter() - sent_at)
            elif frame["type"] == "error":
                self.acks.pop(frame.get("client_id", ""), asyncio.Future()).set_exception(
                    RuntimeError(f"the server refused a message: {frame}")
                )
            if len(self.delivered) == expected and self.done == self.messages:
                return

    async def talk(self, websocket: ClientConnection) -> None:
        for n in range(self.messages):
            client_id = f"{uuid.uuid4().hex}-{n}"
            acked = asyncio.get_running_loop().create_future()
            self.acks[client_id] = acked
            started = time.perf_counter()
            await websocket.send(
                json.dumps(
                    {
                        "type": "send",
                        "conversation_id": self.conversation_id,
                        "client_id": client_id,
                        "kind": "text",
                        "content": repr(started),
                    }
                )
            )
            await asyncio.wait_for(acked, 60)
            self.acked.append(time.perf_counter() - started)


def _ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f} ms"


async def _exchange(talkers: list[tuple[Talker, str]], messages: int) -> float:
    sockets = [await t.open(url) for t, url in talkers]
    pairs = list(zip(talkers, sockets, strict=True))
    readers = [asyncio.create_task(t.read(ws, messages)) for (t, _), ws in pairs]
    started = time.perf_counter()
    await asyncio.gather(*(t.talk(ws) for (t, _), ws in pairs))
    try:
        await asyncio.wait_for(asyncio.gather(*readers), 120)
    except TimeoutError:
        short = [(t.conversation_id, len(t.delivered), t.done) for t, _ in talkers]
        short = [s for s in short if s[1] < messages or s[2] < messages]
        raise SystemExit(
            f"not everything arrived: (conversation, delivered, acked) {short}"
        ) from None
    elapsed = time.perf_counter() - started
    for websocket in sockets:
        await websocket.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--processes", type=int, choices=[1, 2], default=1)
    args = parser.parse_args()

    folder = tempfile.TemporaryDirectory()
    workdir = Path(folder.name)
    url, resource = throwaway_database(args.db)
    secret = secrets.token_urlsafe(48)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        pairs = _pairs(url, secret, args.clients // 2)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDBOOK_")}
        env |= {"MEDBOOK_DATABASE_URL": url, "MEDBOOK_JWT_SECRET": secret}
        if args.processes == 2:
            env |= {"MEDBOOK_REDIS_URL": REDIS_URL, "MEDBOOK_REDIS_PREFIX": uuid.uuid4().hex}
        ports = []
        for _ in range(args.processes):
            process, port = _start_chat(env, workdir)
            processes.append(process)
            ports.append(port)
        urls = [f"ws://127.0.0.1:{port}/v1/chat" for port in ports]
        talkers = []
        for patient, doctor, conversation in pairs:
            talkers.append((Talker(patient, conversation, args.messages), urls[0]))
            talkers.append((Talker(doctor, conversation, args.messages), urls[-1]))
        elapsed = asyncio.run(_exchange(talkers, args.messages))
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)
        resource.cleanup()  # type: ignore[attr-defined]
        folder.cleanup()

    acked = [v for t, _ in talkers for v in t.acked]
    delivered = [v for t, _ in talkers for v in t.delivered]
    print(
        f"{args.db}, {args.processes} chat process(es), {len(talkers)} clients x {args.messages}"
        f" messages: {len(delivered)} delivered in {elapsed:.1f} s ="
        f" {len(delivered) / elapsed:.0f} messages/s"
    )
    print(
        f"  send -> ack:      p50 {_ms(acked, 0.5)}  p95 {_ms(acked, 0.95)}  p99 {_ms(acked, 0.99)}"
    )
    print(
        f"  send -> delivery: p50 {_ms(delivered, 0.5)}  p95 {_ms(delivered, 0.95)}"
        f"  p99 {_ms(delivered, 0.99)}  (mean {statistics.fmean(delivered) * 1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
