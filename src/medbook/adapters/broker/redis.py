"""The broker over Redis: several chat processes (or hosts) reach each other's connections.

- Fan-out: one pub/sub channel per party (``<prefix>:party:<role>:<id>``); a process subscribes
  to a party's channel while it holds a connection of theirs, so a frame travels only to the
  processes that can use it.
- Presence: one sorted set per party of its open connections, each scored with the time it
  expires (Redis's own clock, inside Lua scripts, so hosts need not agree on the time). Every
  process re-arms its connections every ``ttl / 3`` seconds; a process killed without closing
  them leaves them counted for ``ttl`` seconds at most.

Pub/sub delivers at most once and not to a process that was disconnected at the time: the
database stays the source of truth, and a client's ``sync`` repairs what a lost frame missed.

When Redis is away, the process keeps working on its own: a frame for a party connected here is
handed to ``deliver`` directly (never through Redis: the copy that comes back is recognised by
this process's ``origin`` and dropped), joins and leaves are kept here, ``online`` answers for
this process's connections, and nothing raises. The listener reconnects by itself (every
RECONNECT_MAX_S at most), subscribes to every party joined here and records their connections
again (a restarted Redis may have lost them); what other processes published meanwhile is lost
to this one, and its clients' ``sync`` repairs that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from medbook.domain.chat.model import Party
from medbook.domain.shared.actors import Role
from medbook.ports.broker import Deliver

log = logging.getLogger(__name__)

#: Seconds to wait for Redis to confirm a subscription.
SUBSCRIBE_TIMEOUT = 5.0
#: Seconds to open a connection to Redis, and to wait for the answer to a command: what an
#: unreachable Redis costs a caller at most (a stopped one refuses at once).
CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 5.0
#: Seconds between two attempts to reconnect after Redis was lost: the first, doubling up to
#: the last.
RECONNECT_FIRST_S = 0.25
RECONNECT_MAX_S = 2.0
#: Seconds between two warnings while Redis stays unreachable.
WARN_EVERY_S = 60.0
#: Seconds a presence question may take: the sender of a message waits on it (is the recipient
#: online, or is an inbox notice due?); past it the recipient counts as absent, and a notice
#: too many is the worst that happens.
ONLINE_TIMEOUT_S = 1.0
#: Frames waiting to be published to Redis. Publishing never holds up a conversation: a Redis
#: that hangs (rather than refuses) would cost every frame its command timeouts, one after the
#: other. Past this many waiting frames, new ones are not sent to Redis (``sync`` repairs).
OUTBOX_LIMIT = 10_000
#: What an unreachable or failing Redis raises (redis-py wraps socket errors, mostly).
_UNREACHABLE = (RedisError, OSError)

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 "
_JOIN = (
    _NOW + "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) "
    "redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(ARGV[2]) * 2000)) "
    "return redis.call('ZCARD', KEYS[1])"
)
_LEAVE = (
    _NOW + "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
    "local removed = redis.call('ZREM', KEYS[1], ARGV[1]) "
    "return {removed, redis.call('ZCARD', KEYS[1])}"
)
_ONLINE = (
    _NOW + "local found = {} "
    "for i, key in ipairs(KEYS) do found[i] = redis.call('ZCOUNT', key, now, '+inf') end "
    "return found"
)
# ARGV: ttl, then the connection ids, one per key (XX: a connection that left stays gone).
_REARM = (
    _NOW + "local ttl = tonumber(ARGV[1]) "
    "for i, key in ipairs(KEYS) do "
    "redis.call('ZADD', key, 'XX', now + ttl, ARGV[i + 1]) "
    "redis.call('PEXPIRE', key, math.floor(ttl * 2000)) end "
    "return #KEYS"
)
# The same without XX: after a reconnect, a Redis that restarted empty learns them again.
_RESTORE = _REARM.replace("'XX', ", "")


class RedisBroker:
    def __init__(self, client: aioredis.Redis, *, prefix: str = "medbook:chat", ttl: float = 30):
        self._redis = client
        self._prefix = prefix
        self._ttl = ttl
        self._join = client.register_script(_JOIN)
        self._leave = client.register_script(_LEAVE)
        self._online = client.register_script(_ONLINE)
        self._rearm = client.register_script(_REARM)
        self._restore = client.register_script(_RESTORE)
        # This process, on every frame it publishes: it delivers its own frames directly.
        self._origin = uuid.uuid4().hex
        # This process's own channel: the subscription is never empty, so listening never ends.
        self._own = f"{prefix}:process:{self._origin}"
        #: The subscriber while it is connected (None while Redis is away).
        self._pubsub: PubSub | None = None
        self._mine: dict[Party, set[str]] = {}
        self._deliver: Deliver | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed: dict[Party, asyncio.Future[None]] = {}
        self._pongs: dict[str, asyncio.Future[None]] = {}
        #: When the last warning of an outage was logged (monotonic), or None.
        self._warned_at: float | None = None
        #: (channel, payload) waiting for Redis, sent in order by one task (``_send_out``).
        self._outbox: asyncio.Queue[tuple[str, str]] | None = None

    @classmethod
    def from_url(cls, url: str, *, max_connections: int = 32, **options: Any) -> RedisBroker:
        # A blocking pool: a burst of publishes waits for a free connection instead of failing
        # with "Too many connections" (the default pool's answer under load).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=10,
            health_check_interval=10,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=COMMAND_TIMEOUT_S,
            # Once Redis is back, the pool's idle connections are dead: the first command on
            # each fails with "Connection closed by server" (a publish lost for nothing) unless
            # it is sent again at once on a new connection.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        return cls(aioredis.Redis(connection_pool=pool), **options)

    async def start(self, deliver: Deliver) -> None:
        """Raises when Redis cannot be reached now (a wrong URL shows at once); once started,
        the broker outlives Redis outages."""
        self._deliver = deliver
        pubsub = await self._connect()
        self._outbox = asyncio.Queue(OUTBOX_LIMIT)
        self._tasks = [
            asyncio.create_task(self._listen(pubsub), name="broker-listen"),
            asyncio.create_task(self._keep_alive(), name="broker-rearm"),
            asyncio.create_task(self._send_out(self._outbox), name="broker-publish"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._deliver = None
        if self._pubsub is not None:
            await self._drop(self._pubsub)
        await self._redis.aclose()

    async def join(self, party: Party, connection_id: str) -> bool:
        """Returns once this process receives what is published to the party: a client told it
        is connected must not miss a frame published a moment later. Without Redis: at once,
        True when it is the party's first connection here."""
        mine = self._mine.setdefault(party, set())
        first_here = not mine
        mine.add(connection_id)
        if self._pubsub is None:
            return first_here  # subscribed and recorded when Redis is back (``_connect``)
        subscribed = self._subscribed.get(party)
        if subscribed is None or _failed(subscribed):
            subscribed = self._subscribed[party] = asyncio.ensure_future(self._subscribe(party))
        try:
            await asyncio.shield(subscribed)
            count = await self._join(
                keys=[self._online_key(party)], args=[connection_id, self._ttl]
            )
        except _UNREACHABLE as error:
            self._unreachable(error)
            return first_here
        return int(count) == 1

    async def leave(self, party: Party, connection_id: str) -> bool:
        mine = self._mine.get(party, set())
        was_here = connection_id in mine
        mine.discard(connection_id)
        if not mine:
            self._mine.pop(party, None)
            self._subscribed.pop(party, None)
        if self._pubsub is not None:
            try:
                if not mine:
                    await self._pubsub.unsubscribe(self._channel(party))
                removed, left = await self._leave(
                    keys=[self._online_key(party)], args=[connection_id]
                )
                return int(removed) == 1 and int(left) == 0
            except _UNREACHABLE as error:
                self._unreachable(error)
        return was_here and not mine

    async def online(self, parties: Iterable[Party]) -> set[Party]:
        """The parties connected here, and those Redis knows elsewhere (asked for at most
        ``ONLINE_TIMEOUT_S``: a message's sender waits on this answer); without Redis, the
        parties connected here."""
        wanted = list(parties)
        here = {party for party in wanted if party in self._mine}
        asked = [party for party in wanted if party not in here]
        if not asked or self._pubsub is None:
            return here
        try:
            counts = await asyncio.wait_for(
                self._online(keys=[self._online_key(p) for p in asked]), ONLINE_TIMEOUT_S
            )
        except (*_UNREACHABLE, TimeoutError) as error:
            self._unreachable(error)
            return here
        return here | {party for party, n in zip(asked, counts, strict=True) if int(n) > 0}

    async def publish(self, party: Party, frame: str) -> None:
        """The party's connections here get the frame at once; the other processes through
        Redis, when it can be reached, in the order published, without waiting for it (never
        raises: ``sync`` repairs what they miss)."""
        if party in self._mine and self._deliver is not None:
            self._deliver(party, frame)
        if self._pubsub is None or self._outbox is None:
            return
        try:
            self._outbox.put_nowait((self._channel(party), f"{self._origin}\n{frame}"))
        except asyncio.QueueFull:
            self._unreachable(RedisError(f"{OUTBOX_LIMIT} frames wait for Redis: dropped"))

    async def _send_out(self, outbox: asyncio.Queue[tuple[str, str]]) -> None:
        while True:
            channel, payload = await outbox.get()
            try:
                await self._redis.publish(channel, payload)
            except _UNREACHABLE as error:
                self._unreachable(error)

    # --- the subscriber --------------------------------------------------------------------------

    async def _connect(self) -> PubSub:
        """A new subscriber: this process's channel and those of every party joined here, whose
        connections Redis is told of again. Joins from now on subscribe themselves."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._own)
            # From here on no await until the parties are listed: a join either comes before
            # (and is listed) or after (and subscribes itself on this subscriber).
            self._pubsub = pubsub
            parties = list(self._mine)
            for party in parties:
                done = self._subscribed[party] = asyncio.get_running_loop().create_future()
                done.set_result(None)
            if parties:
                await pubsub.subscribe(*(self._channel(party) for party in parties))
            await self._record_connections(self._restore)
        except BaseException:
            await self._drop(pubsub)
            raise
        return pubsub

    async def _drop(self, pubsub: PubSub) -> None:
        """Forget a subscriber that failed: joins wait for the next one; pending ones fail."""
        if self._pubsub is pubsub:
            self._pubsub = None
        for pong in self._pongs.values():
            if not pong.done():
                pong.set_exception(RedisConnectionError("lost the connection to Redis"))
        with contextlib.suppress(Exception):
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _subscribe(self, party: Party) -> None:
        """SUBSCRIBE, then a PING on the same connection: its PONG comes back once Redis has
        processed the SUBSCRIBE (one connection's commands run in order)."""
        pubsub = self._pubsub
        if pubsub is None:
            raise RedisConnectionError("no connection to Redis")
        await pubsub.subscribe(self._channel(party))
        token = uuid.uuid4().hex
        pong = asyncio.get_running_loop().create_future()
        self._pongs[token] = pong
        try:
            await pubsub.ping(token)
            await asyncio.wait_for(pong, SUBSCRIBE_TIMEOUT)
        finally:
            self._pongs.pop(token, None)

    def _channel(self, party: Party) -> str:
        return f"{self._prefix}:party:{party.role.value}:{party.id}"

    def _online_key(self, party: Party) -> str:
        return f"{self._prefix}:online:{party.role.value}:{party.id}"

    def _party_of(self, channel: str) -> Party | None:
        _, _, rest = channel.partition(f"{self._prefix}:party:")
        role, _, user_id = rest.partition(":")
        try:
            return Party(Role(role), int(user_id))
        except ValueError:
            return None

    async def _listen(self, pubsub: PubSub | None) -> None:
        """Hand what arrives to ``deliver``; when Redis is lost, reconnect until it is back."""
        delay = RECONNECT_FIRST_S
        while True:
            try:
                if pubsub is None:
                    pubsub = await self._connect()
                    log.info("chat broker: Redis is back; delivering across processes again")
                    self._warned_at = None
                    delay = RECONNECT_FIRST_S
                async for message in pubsub.listen():
                    self._received(message)
            except _UNREACHABLE as error:
                self._unreachable(error)
            except Exception:  # never die silently: a dead listener would end delivery here
                log.exception("chat broker: the listener failed; reconnecting")
            if pubsub is not None:
                await self._drop(pubsub)
                pubsub = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _received(self, message: dict[str, Any]) -> None:
        if message.get("type") == "pong":
            pong = self._pongs.get(_text(message["data"]))
            if pong is not None and not pong.done():
                pong.set_result(None)
            return
        if message.get("type") != "message":
            return
        origin, _, frame = _text(message["data"]).partition("\n")
        if origin == self._origin:
            return  # published here, and delivered here already
        party = self._party_of(_text(message["channel"]))
        if party is not None and party in self._mine and self._deliver is not None:
            self._deliver(party, frame)

    def _unreachable(self, error: BaseException) -> None:
        """A warning a minute at most while Redis is away, not one per call."""
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at > WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "chat broker: Redis unreachable (%s); this process delivers to its own "
                "connections only until it is back, and clients' sync repairs the rest",
                error,
            )

    async def _record_connections(self, script: AsyncScript) -> None:
        pairs = [(party, cid) for party, ids in self._mine.items() for cid in ids]
        if pairs:
            await script(
                keys=[self._online_key(party) for party, _ in pairs],
                args=[self._ttl, *[cid for _, cid in pairs]],
            )

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            if self._pubsub is None:
                continue  # recorded again on reconnecting
            try:
                await self._record_connections(self._rearm)
            except _UNREACHABLE as error:
                self._unreachable(error)


def _failed(future: asyncio.Future[None]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
