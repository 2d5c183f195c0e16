"""The broker contract, the same for every adapter: ``LocalBroker`` (one process) and
``RedisBroker`` on a real Redis, where several chat processes share presence and pub/sub.

Redis is required (``MEDBOOK_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/15``): when it
cannot be reached its tests fail, they never skip. Each test uses a prefix of its own and deletes
its keys after. The brokers are async: each test runs one coroutine with ``asyncio.run``."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

import pytest
import redis

from medbook.adapters.broker import LocalBroker, RedisBroker
from medbook.domain.chat.model import Party
from medbook.domain.shared.actors import Role
from medbook.ports.broker import Broker

REDIS_URL = os.environ.get("MEDBOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

PATIENT = Party(Role.PATIENT, 7)
DOCTOR = Party(Role.DOCTOR, 7)  # the same id in another role: another party
OTHER = Party(Role.PATIENT, 8)
#: How long a test waits for a frame to arrive (pub/sub is asynchronous).
WAIT = 2.0


@pytest.fixture(scope="session")
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


class Inbox:
    """What a broker's ``deliver`` callback received, in order."""

    def __init__(self) -> None:
        self.frames: list[tuple[Party, str]] = []

    def __call__(self, party: Party, frame: str) -> None:
        self.frames.append((party, frame))

    async def wait_for(self, count: int, timeout: float = WAIT) -> list[tuple[Party, str]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.frames) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(self.frames)} frames of {count}: {self.frames}")
            await asyncio.sleep(0.01)
        return self.frames

    async def stays(self, count: int, settle: float = 0.3) -> list[tuple[Party, str]]:
        """The frames once nothing more arrives for ``settle`` seconds; there must be
        ``count``."""
        await asyncio.sleep(settle)
        assert len(self.frames) == count, self.frames
        return self.frames


#: ``await processes(ttl=…)``: another started broker on the shared store, with its inbox
#: (for the local adapter, the one process there is).
Processes = Callable[..., Awaitable[tuple[Broker, Inbox]]]
Scenario = Callable[[Processes], Coroutine[Any, Any, None]]
#: ``run(scenario)``: run the scenario against the adapter, closing every broker it made.
Runner = Callable[[Scenario], None]


@pytest.fixture(params=["local", "redis"])
def run(request: pytest.FixtureRequest) -> Iterator[Runner]:
    kind = request.param
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    prefix = f"medbook-test:{uuid.uuid4().hex[:12]}:chat"

    def runner(scenario: Scenario) -> None:
        async def main() -> None:
            made: list[Broker] = []
            shared: list[tuple[Broker, Inbox]] = []

            async def processes(ttl: float = 30) -> tuple[Broker, Inbox]:
                if kind == "local":
                    if not shared:
                        broker = LocalBroker()
                        inbox = Inbox()
                        await broker.start(inbox)
                        made.append(broker)
                        shared.append((broker, inbox))
                    return shared[0]
                broker = RedisBroker.from_url(url, prefix=prefix, ttl=ttl)
                inbox = Inbox()
                await broker.start(inbox)
                made.append(broker)
                return broker, inbox

            try:
                await scenario(processes)
            finally:
                for broker in made:
                    await broker.close()

        asyncio.run(main())

    yield runner
    if kind == "redis":
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def test_join_is_true_only_for_a_partys_first_connection(run: Runner) -> None:
    async def scenario(processes: Processes) -> None:
        broker, _ = await processes()
        assert await broker.join(PATIENT, "a") is True
        assert await broker.join(PATIENT, "b") is False
        assert await broker.join(DOCTOR, "a") is True  # another party, the same connection id
        assert await broker.join(OTHER, "c") is True

    run(scenario)


def test_leave_is_true_only_for_a_partys_last_connection(run: Runner) -> None:
    async def scenario(processes: Processes) -> None:
        broker, _ = await processes()
        await broker.join(PATIENT, "a")
        await broker.join(PATIENT, "b")
        await broker.join(DOCTOR, "c")

        assert await broker.leave(PATIENT, "a") is False
        assert await broker.online([PATIENT, DOCTOR]) == {PATIENT, DOCTOR}
        assert await broker.leave(PATIENT, "b") is True
        assert await broker.online([PATIENT, DOCTOR]) == {DOCTOR}
        assert await broker.leave(PATIENT, "b") is False  # gone already
        assert await broker.leave(OTHER, "never") is False  # never joined
        assert await broker.join(PATIENT, "a") is True  # online again

    run(scenario)


def test_online_names_only_the_parties_asked_about_that_have_a_connection(run: Runner) -> None:
    async def scenario(processes: Processes) -> None:
        broker, _ = await processes()
        assert await broker.online([]) == set()
        assert await broker.online([PATIENT, DOCTOR]) == set()
        await broker.join(DOCTOR, "d")

        assert await broker.online([PATIENT, DOCTOR, OTHER]) == {DOCTOR}
        assert await broker.online([PATIENT]) == set()
        assert await broker.online(iter([DOCTOR])) == {DOCTOR}

    run(scenario)


def test_every_process_sees_who_is_online_anywhere(run: Runner) -> None:
    async def scenario(processes: Processes) -> None:
        first, _ = await processes()
        second, _ = await processes()

        assert await first.join(PATIENT, "on-first") is True
        assert await second.join(PATIENT, "on-second") is False  # already online on the first
        assert await second.online([PATIENT, DOCTOR]) == {PATIENT}
        assert await first.leave(PATIENT, "on-first") is False  # still on the second
        assert await first.online([PATIENT]) == {PATIENT}
        assert await second.leave(PATIENT, "on-second") is True
        assert await first.online([PATIENT]) == set()

    run(scenario)


def test_a_frame_reaches_the_process_where_the_party_joined_and_no_other(run: Runner) -> None:
    async def scenario(processes: Processes) -> None:
        first, first_inbox = await processes()
        second, second_inbox = await processes()
        await first.join(PATIENT, "p")
        await second.join(DOCTOR, "d")
        await first.join(OTHER, "o")

        await second.publish(PATIENT, "to the patient")  # from the other process
        await first.publish(DOCTOR, "to the doctor")
        await first.publish(Party(Role.DOCTOR, 99), "to nobody")

        if first is second:  # one process: both parties are here
            frames = await first_inbox.wait_for(2)
            assert sorted(frames, key=str) == [
                (DOCTOR, "to the doctor"),
                (PATIENT, "to the patient"),
            ]
            await first_inbox.stays(2)
            return
        assert await first_inbox.wait_for(1) == [(PATIENT, "to the patient")]
        assert await second_inbox.wait_for(1) == [(DOCTOR, "to the doctor")]
        await first_inbox.stays(1)
        await second_inbox.stays(1)

    run(scenario)


def test_a_party_on_two_processes_gets_the_frame_on_both_once(run: Runner) -> None:
    async def scenario(processes: Processes) -> None:
        first, first_inbox = await processes()
        second, second_inbox = await processes()
        third, third_inbox = await processes()
        await first.join(PATIENT, "phone")
        await second.join(PATIENT, "laptop")
        await first.join(PATIENT, "tablet")  # two connections on one process: one delivery

        await third.publish(PATIENT, "hello")

        if first is second:
            assert await first_inbox.wait_for(1) == [(PATIENT, "hello")]
            await first_inbox.stays(1)
            return
        assert await first_inbox.wait_for(1) == [(PATIENT, "hello")]
        assert await second_inbox.wait_for(1) == [(PATIENT, "hello")]
        await first_inbox.stays(1)
        await second_inbox.stays(1)
        await third_inbox.stays(0)

    run(scenario)


def test_frames_of_one_party_arrive_in_the_order_published(run: Runner) -> None:
    async def scenario(processes: Processes) -> None:
        receiver, inbox = await processes()
        sender, _ = await processes()
        await receiver.join(PATIENT, "p")

        for n in range(50):
            await sender.publish(PATIENT, f"frame {n}\nwith a line break")

        frames = await inbox.wait_for(50)
        assert frames == [(PATIENT, f"frame {n}\nwith a line break") for n in range(50)]

    run(scenario)


def test_after_the_last_leave_nothing_is_delivered(run: Runner) -> None:
    async def scenario(processes: Processes) -> None:
        receiver, inbox = await processes()
        sender, _ = await processes()
        await receiver.join(PATIENT, "a")
        await receiver.join(PATIENT, "b")
        await receiver.leave(PATIENT, "a")

        await sender.publish(PATIENT, "still here")
        await inbox.wait_for(1)
        await receiver.leave(PATIENT, "b")
        await sender.publish(PATIENT, "gone")

        assert await inbox.stays(1) == [(PATIENT, "still here")]

    run(scenario)


def test_a_closed_broker_delivers_nothing(run: Runner) -> None:
    async def scenario(processes: Processes) -> None:
        broker, inbox = await processes()
        await broker.join(PATIENT, "a")
        await broker.close()

        other, _ = await processes()
        if other is not broker:
            await other.publish(PATIENT, "after close")
        await inbox.stays(0)

    run(scenario)


def test_the_presence_of_a_process_that_died_expires_after_the_ttl(redis_url: str) -> None:
    """A process killed without closing its connections (no leave): they count as online for
    ``ttl`` seconds at most; the live process re-arms its own connections meanwhile."""
    prefix = f"medbook-test:{uuid.uuid4().hex[:12]}:chat"
    ttl = 1.0

    async def main() -> None:
        dying = RedisBroker.from_url(redis_url, prefix=prefix, ttl=ttl)
        living = RedisBroker.from_url(redis_url, prefix=prefix, ttl=ttl)
        observer = RedisBroker.from_url(redis_url, prefix=prefix, ttl=ttl)
        for broker in (dying, living, observer):
            await broker.start(Inbox())
        try:
            assert await dying.join(PATIENT, "orphan") is True
            assert await living.join(DOCTOR, "kept") is True
            # The dying process stops re-arming (as if killed) but never leaves.
            for task in dying._tasks:
                task.cancel()
            assert await observer.online([PATIENT, DOCTOR]) == {PATIENT, DOCTOR}

            await asyncio.sleep(ttl * 2.5)

            assert await observer.online([PATIENT, DOCTOR]) == {DOCTOR}  # re-armed: kept
            assert await observer.join(PATIENT, "back") is True  # the orphan is not counted
            assert await observer.leave(PATIENT, "back") is True
        finally:
            for broker in (dying, living, observer):
                await broker.close()

    try:
        asyncio.run(main())
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def test_brokers_under_different_prefixes_do_not_meet(redis_url: str) -> None:
    """Two installations on one Redis (pub/sub ignores database numbers)."""
    prefixes = [f"medbook-test:{uuid.uuid4().hex[:12]}:chat" for _ in range(2)]

    async def main() -> None:
        ours = RedisBroker.from_url(redis_url, prefix=prefixes[0])
        theirs = RedisBroker.from_url(redis_url, prefix=prefixes[1])
        our_inbox, their_inbox = Inbox(), Inbox()
        await ours.start(our_inbox)
        await theirs.start(their_inbox)
        try:
            await ours.join(PATIENT, "a")
            assert await theirs.join(PATIENT, "b") is True
            assert await theirs.online([PATIENT]) == {PATIENT}
            await theirs.leave(PATIENT, "b")
            assert await theirs.online([PATIENT]) == set()
            await theirs.publish(PATIENT, "theirs")
            await our_inbox.stays(0)
        finally:
            await ours.close()
            await theirs.close()

    try:
        asyncio.run(main())
    finally:
        client = redis.Redis.from_url(redis_url)
        for prefix in prefixes:
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)
        client.close()


def test_a_frame_published_as_soon_as_join_returns_is_delivered(run: Runner) -> None:
    """The chat server sends ``ready`` once ``join`` returns, and the other party may publish
    at once: the subscription must be in force by then. (Without Redis confirming it, frames
    were lost to a subscription still in flight; found by bench/chat.py with two processes.)"""

    async def scenario(processes: Processes) -> None:
        here, inbox = await processes()
        there, _ = await processes()
        parties = [Party(Role.PATIENT, 1000 + n) for n in range(50)]
        for party in parties:
            await here.join(party, f"c-{party.id}")
            await there.publish(party, f"hello {party.id}")
        frames = await inbox.wait_for(len(parties))
        assert sorted(frames, key=str) == sorted(((p, f"hello {p.id}") for p in parties), key=str)

    run(scenario)


def test_a_burst_of_publishes_waits_for_connections_instead_of_failing(run: Runner) -> None:
    """Hundreds of senders at once (bench/chat.py's 200 clients) made the Redis adapter's
    default pool answer "Too many connections"; a message was then stored but never delivered."""

    async def scenario(processes: Processes) -> None:
        here, inbox = await processes()
        there, _ = await processes()
        await here.join(PATIENT, "p")
        await asyncio.gather(*(there.publish(PATIENT, f"burst {n}") for n in range(400)))
        frames = await inbox.wait_for(400, timeout=10)
        assert sorted(frame for _, frame in frames) == sorted(f"burst {n}" for n in range(400))

    run(scenario)
