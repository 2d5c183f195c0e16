"""Chat throughput and latency: many clients talking at once through real ``medbook chat``
processes.

    python bench/chat.py --db sqlite  --clients 200 --messages 20
    python bench/chat.py --db mariadb --clients 200 --messages 20
    python bench/chat.py --db mariadb --clients 200 --messages 20 --processes 2   # Redis fan-out
    python bench/chat.py --db mariadb --clients 1000 --messages 10   # issue 13: flat out
    python bench/chat.py --db mariadb --clients 1000 --messages 30 --rate 3000   # issue 13: paced

Half the clients are patients, half doctors, in pairs that share a conversation. Every client
connects and authenticates; then all of them send ``--messages`` text messages each, one after
the other (the next once the previous is acknowledged, as a person's app does), while reading
what their counterpart sends. Measured: delivered messages per second over the whole exchange,
the latency from ``send`` to the ``ack`` (stored and committed) and from ``send`` to the
counterpart's ``message`` frame. The clients run in this process, on the same two cores as the
server; ``--processes 2`` puts patients on one chat process and doctors on the other, with
Redis (MEDBOOK_TEST_REDIS_URL, default redis://127.0.0.1:6379/15) between them. With ``--rate``
the clients send on a schedule instead (open loop: that many messages a second in all, whether
or not the last one was acknowledged), the load issue 13's latency target is stated at: a closed
loop of 1,000 clients always waiting has a latency of 1,000 ÷ the rate, whatever the server.

Also reported: the chat process's resident memory (``VmRSS`` in /proc/PID/status) before the
clients connect and once they all are connected, authenticated and idle (``--idle`` seconds),
as MB per 1,000 idle connections; and the CPU time the clients (this process) and the chat
process spent during the exchange, so that a client side that saturates shows (a client CPU near
one core means the bench, not the server, is the limit).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import gc
import json
import os
import random
import resource
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

#: The clients' collector thresholds: the chat server's own (entrypoints/chat/server.py).
GC_THRESHOLDS = (100_000, 50, 1000)
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
    # BENCH_CHAT_PROFILE=FILE: the chat process's event loop under cProfile, written to FILE.
    profile = os.environ.get("BENCH_CHAT_PROFILE")
    profiling = ["-m", "cProfile", "-o", profile] if profile else []
    bind = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, *profiling, "-m", "medbook.entrypoints.cli", "chat", "--bind", bind],
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


def _rss_kb(pid: int) -> int:
    """The process's resident memory in kB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _cpu_s(pid: int) -> float:
    """User plus system CPU seconds the process has used (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _mariadb_pid() -> int | None:
    """mariadbd's process id when it runs on this machine (its CPU is measured too)."""
    for status in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if status.read_text().strip() in ("mariadbd", "mysqld"):
                return int(status.parent.name)
    return None


def _batches(ports: list[int]) -> tuple[float, float]:
    """The chat processes' group-commit counters: transactions, and send frames they held."""
    transactions = frames = 0.0
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            for line in answer.read().decode().splitlines():
                if line.startswith("medbook_chat_send_batches_total "):
                    transactions += float(line.split()[1])
                elif line.startswith("medbook_chat_send_batched_total "):
                    frames += float(line.split()[1])
    return transactions, frames


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Talker:
    def __init__(self, token: str, conversation_id: int, messages: int) -> None:
        self.token = token
        self.conversation_id = conversation_id
        self.messages = messages
        self.acked: list[float] = []
        self.delivered: list[float] = []
        #: When each delivered message was sent (scheduled), for the steady-state figures.
        self.delivered_at: list[float] = []
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
                self.delivered_at.append(sent_at)
            elif frame["type"] == "error":
                self.acks.pop(frame.get("client_id", ""), asyncio.Future()).set_exception(
                    RuntimeError(f"the server refused a message: {frame}")
                )
            if len(self.delivered) == expected and self.done == self.messages:
                return

    async def talk(self, websocket: ClientConnection, every: float | None = None) -> None:
        """Send ``messages`` messages: each once the previous one is acknowledged (closed loop),
        or, with ``every``, one every ``every`` seconds whether or not the previous one is
        acknowledged yet (open loop, a random phase; latency counts from the scheduled time,
        so a client that falls behind its schedule shows as latency, not as a lower rate)."""
        loop = asyncio.get_running_loop()
        pending: list[asyncio.Task[None]] = []
        first = time.perf_counter() + (random.uniform(0, every) if every else 0.0)
        for n in range(self.messages):
            client_id = f"{uuid.uuid4().hex}-{n}"
            acked = loop.create_future()
            self.acks[client_id] = acked
            if every:
                started = first + n * every
                await asyncio.sleep(max(0.0, started - time.perf_counter()))
            else:
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
            if every:
                pending.append(asyncio.create_task(self._await_ack(acked, started)))
            else:
                await self._await_ack(acked, started)
        await asyncio.gather(*pending)

    async def _await_ack(self, acked: asyncio.Future[None], started: float) -> None:
        await asyncio.wait_for(acked, 60)
        self.acked.append(time.perf_counter() - started)


def _ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f} ms"


async def _tick(lags: list[float]) -> None:
    while True:
        planned = time.perf_counter() + 0.01
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - planned)


@dataclasses.dataclass
class Outcome:
    elapsed: float = 0.0
    connect_s: float = 0.0
    rss_before_kb: int = 0
    rss_idle_kb: int = 0
    rss_after_kb: int = 0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    db_cpu_s: float | None = None
    started: float = 0.0
    #: How late the clients' event loop woke a 10 ms timer, every 10 ms of the exchange.
    lags: list[float] = dataclasses.field(default_factory=list)
    transactions: float = 0.0
    batched: float = 0.0


async def _exchange(
    talkers: list[tuple[Talker, str]],
    messages: int,
    pids: list[int],
    ports: list[int],
    idle: float,
    rate: float | None,
) -> Outcome:
    outcome = Outcome()
    outcome.rss_before_kb = sum(_rss_kb(pid) for pid in pids)
    opening = asyncio.Semaphore(50)  # at most 50 handshakes in flight

    async def open_one(talker: Talker, url: str) -> ClientConnection:
        async with opening:
            return await talker.open(url)

    began = time.perf_counter()
    sockets = list(await asyncio.gather(*(open_one(t, url) for t, url in talkers)))
    outcome.connect_s = time.perf_counter() - began
    await asyncio.sleep(idle)  # every connection authenticated, nothing sent: idle
    outcome.rss_idle_kb = sum(_rss_kb(pid) for pid in pids)
    pairs = list(zip(talkers, sockets, strict=True))
    readers = [asyncio.create_task(t.read(ws, messages)) for (t, _), ws in pairs]
    client_cpu, server_cpu = _own_cpu_s(), sum(_cpu_s(pid) for pid in pids)
    db_pid = _mariadb_pid()
    db_cpu = _cpu_s(db_pid) if db_pid else 0.0
    transactions, batched = await asyncio.to_thread(_batches, ports)
    lags: list[float] = []
    ticking = asyncio.create_task(_tick(lags))
    started = time.perf_counter()
    outcome.started = started
    every = len(talkers) / rate if rate else None
    await asyncio.gather(*(t.talk(ws, every) for (t, _), ws in pairs))
    try:
        await asyncio.wait_for(asyncio.gather(*readers), 120)
    except TimeoutError:
        short = [(t.conversation_id, len(t.delivered), t.done) for t, _ in talkers]
        short = [s for s in short if s[1] < messages or s[2] < messages]
        raise SystemExit(
            f"not everything arrived: (conversation, delivered, acked) {short}"
        ) from None
    outcome.elapsed = time.perf_counter() - started
    ticking.cancel()
    outcome.lags = lags
    outcome.client_cpu_s = _own_cpu_s() - client_cpu
    outcome.server_cpu_s = sum(_cpu_s(pid) for pid in pids) - server_cpu
    outcome.db_cpu_s = _cpu_s(db_pid) - db_cpu if db_pid else None
    after = await asyncio.to_thread(_batches, ports)
    outcome.transactions, outcome.batched = after[0] - transactions, after[1] - batched
    outcome.rss_after_kb = sum(_rss_kb(pid) for pid in pids)
    await asyncio.gather(*(websocket.close() for websocket in sockets))
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--processes", type=int, choices=[1, 2], default=1)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="messages/s offered by all clients together, each client on its own schedule"
        " (open loop); without it each client sends its next message once the last is acked",
    )
    parser.add_argument(
        "--idle", type=float, default=3.0, help="seconds the connections sit idle before RSS"
    )
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
        pids = [process.pid for process in processes]
        # The clients' process holds 1,000 connections as well: CPython's default collector
        # thresholds stalled its event loop by up to ~190 ms (counted as latency), the same as
        # the chat server's (which tunes its own, GC_THRESHOLDS in entrypoints/chat/server.py).
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        outcome = asyncio.run(_exchange(talkers, args.messages, pids, ports, args.idle, args.rate))
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)
        resource.cleanup()  # type: ignore[attr-defined]
        folder.cleanup()

    elapsed = outcome.elapsed
    acked = [v for t, _ in talkers for v in t.acked]
    delivered = [v for t, _ in talkers for v in t.delivered]
    offered = f"{args.rate:.0f} messages/s offered" if args.rate else "closed loop"
    print(
        f"{args.db}, {args.processes} chat process(es), {len(talkers)} clients x {args.messages}"
        f" messages ({offered}): {len(delivered)} delivered in {elapsed:.1f} s ="
        f" {len(delivered) / elapsed:.0f} messages/s"
    )
    print(
        f"  send -> ack:      p50 {_ms(acked, 0.5)}  p95 {_ms(acked, 0.95)}  p99 {_ms(acked, 0.99)}"
    )
    print(
        f"  send -> delivery: p50 {_ms(delivered, 0.5)}  p95 {_ms(delivered, 0.95)}"
        f"  p99 {_ms(delivered, 0.99)}  (mean {statistics.fmean(delivered) * 1000:.1f} ms)"
    )
    half = outcome.started + elapsed / 2
    steady = [
        v
        for t, _ in talkers
        for v, at in zip(t.delivered, t.delivered_at, strict=True)
        if at >= half
    ]
    if steady:
        print(
            f"  send -> delivery, messages sent in the second half: p50 {_ms(steady, 0.5)}"
            f"  p95 {_ms(steady, 0.95)}  p99 {_ms(steady, 0.99)}"
        )
    if outcome.lags:
        print(
            f"  clients' event loop late by p50 {_ms(outcome.lags, 0.5)}"
            f"  p99 {_ms(outcome.lags, 0.99)}  max {max(outcome.lags) * 1000:.1f} ms"
            " (a 10 ms timer; that much of the latency is the clients')"
        )
    idle_mb = (outcome.rss_idle_kb - outcome.rss_before_kb) / 1024
    print(
        f"  chat RSS: {outcome.rss_before_kb / 1024:.1f} MB before connecting,"
        f" {outcome.rss_idle_kb / 1024:.1f} MB with {len(talkers)} idle connections"
        f" (+{idle_mb:.1f} MB = {idle_mb * 1000 / len(talkers):.1f} MB per 1,000),"
        f" {outcome.rss_after_kb / 1024:.1f} MB after the exchange;"
        f" {len(talkers)} connected in {outcome.connect_s:.1f} s"
    )
    print(
        f"  CPU during the exchange: chat process(es) {outcome.server_cpu_s:.1f} s"
        f" ({outcome.server_cpu_s / elapsed:.0%} of a core,"
        f" {outcome.server_cpu_s / max(1, len(delivered)) * 1000:.2f} ms per message),"
        f" clients {outcome.client_cpu_s:.1f} s ({outcome.client_cpu_s / elapsed:.0%} of a core);"
        f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs"
    )
    if outcome.db_cpu_s is not None:
        print(
            f"  mariadbd CPU during the exchange: {outcome.db_cpu_s:.1f} s"
            f" ({outcome.db_cpu_s / elapsed:.0%} of a core; all its clients, not only this bench)"
        )
    if outcome.transactions:
        print(
            f"  group commit: {outcome.batched:.0f} sends in {outcome.transactions:.0f}"
            f" transactions ({outcome.batched / outcome.transactions:.1f} per transaction)"
        )


if __name__ == "__main__":
    main()
