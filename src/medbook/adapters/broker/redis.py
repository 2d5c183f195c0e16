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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from medbook.domain.chat.model import Party
from medbook.domain.shared.actors import Role
from medbook.ports.broker import Deliver

log = logging.getLogger(__name__)

#: Seconds to wait for Redis to confirm a subscription.
SUBSCRIBE_TIMEOUT = 5.0

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


class RedisBroker:
    def __init__(self, client: aioredis.Redis, *, prefix: str = "medbook:chat", ttl: float = 30):
        self._redis = client
        self._prefix = prefix
        self._ttl = ttl
        self._join = client.register_script(_JOIN)
        self._leave = client.register_script(_LEAVE)
        self._online = client.register_script(_ONLINE)
        self._rearm = client.register_script(_REARM)
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        # This process's own channel: the subscription is never empty, so listening never ends.
        self._own = f"{prefix}:process:{uuid.uuid4().hex}"
        self._mine: dict[Party, set[str]] = {}
        self._deliver: Deliver | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed: dict[Party, asyncio.Future[None]] = {}
        self._pongs: dict[str, asyncio.Future[None]] = {}

    @classmethod
    def from_url(cls, url: str, *, max_connections: int = 32, **options: Any) -> RedisBroker:
        # A blocking pool: a burst of publishes waits for a free connection instead of failing
        # with "Too many connections" (the default pool's answer under load).
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=10, health_check_interval=10
        )
        return cls(aioredis.Redis(connection_pool=pool), **options)

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        await self._pubsub.subscribe(self._own)
        self._tasks = [
            asyncio.create_task(self._listen(), name="broker-listen"),
            asyncio.create_task(self._keep_alive(), name="broker-rearm"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._redis.aclose()

    async def join(self, party: Party, connection_id: str) -> bool:
        """Returns once this process receives what is published to the party: a client told it
        is connected must not miss a frame published a moment later."""
        mine = self._mine.setdefault(party, set())
        first_here = not mine
        mine.add(connection_id)
        if first_here:
            self._subscribed[party] = asyncio.ensure_future(self._subscribe(party))
        await asyncio.shield(self._subscribed[party])
        count = await self._join(keys=[self._online_key(party)], args=[connection_id, self._ttl])
        return int(count) == 1

    async def leave(self, party: Party, connection_id: str) -> bool:
        mine = self._mine.get(party, set())
        mine.discard(connection_id)
        if not mine:
            self._mine.pop(party, None)
            self._subscribed.pop(party, None)
            await self._pubsub.unsubscribe(self._channel(party))
        removed, left = await self._leave(keys=[self._online_key(party)], args=[connection_id])
        return int(removed) == 1 and int(left) == 0

    async def online(self, parties: Iterable[Party]) -> set[Party]:
        asked = list(parties)
        if not asked:
            return set()
        counts = await self._online(keys=[self._online_key(p) for p in asked])
        return {party for party, count in zip(asked, counts, strict=True) if int(count) > 0}

    async def publish(self, party: Party, frame: str) -> None:
        await self._redis.publish(self._channel(party), frame)

    async def _subscribe(self, party: Party) -> None:
        """SUBSCRIBE, then a PING on the same connection: its PONG comes back once Redis has
        processed the SUBSCRIBE (one connection's commands run in order)."""
        await self._pubsub.subscribe(self._channel(party))
        token = uuid.uuid4().hex
        pong = asyncio.get_running_loop().create_future()
        self._pongs[token] = pong
        try:
            await self._pubsub.ping(token)
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

    async def _listen(self) -> None:
        while True:
            try:
                async for message in self._pubsub.listen():
                    if message.get("type") == "pong":
                        pong = self._pongs.get(_text(message["data"]))
                        if pong is not None and not pong.done():
                            pong.set_result(None)
                        continue
                    if message.get("type") != "message":
                        continue
                    party = self._party_of(_text(message["channel"]))
                    if party is not None and party in self._mine and self._deliver is not None:
                        self._deliver(party, _text(message["data"]))
            except RedisError as error:
                # redis-py reconnects and resubscribes on the next read; frames published
                # meanwhile are lost to this process, and its clients' sync repairs that.
                log.warning("chat broker: lost Redis (%s); reconnecting", error)
                await asyncio.sleep(1)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            pairs = [(party, cid) for party, ids in self._mine.items() for cid in ids]
            if not pairs:
                continue
            try:
                await self._rearm(
                    keys=[self._online_key(party) for party, _ in pairs],
                    args=[self._ttl, *[cid for _, cid in pairs]],
                )
            except RedisError as error:
                log.warning("chat broker: could not re-arm presence (%s)", error)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
