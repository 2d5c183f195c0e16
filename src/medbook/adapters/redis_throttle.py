"""Throttle buckets in Redis (``MEDBOOK_REDIS_URL``): shared by every server, without a database
write per attempt. Each call is one Lua script, which Redis runs atomically.

When Redis cannot be reached (or does not answer within COMMAND_TIMEOUT_S), ``take`` raises
``ThrottleUnavailable``: no attempt is allowed that cannot be counted (fail-closed; a login
answers 503 with a Retry-After rather than check passwords without a limit). ``give_back`` and
``reset`` only ever make a bucket fuller, after the attempt succeeded: they log and go on, and
the bucket keeps the attempt. redis-py reconnects on the next call, so nothing needs a restart.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import redis

from medbook.domain.accounts import throttling
from medbook.domain.accounts.throttling import Bucket, epoch_ms
from medbook.domain.shared.errors import ThrottleUnavailable

log = logging.getLogger(__name__)

#: Seconds to open a connection to Redis, and to wait for an answer: what an unreachable Redis
#: costs a login at most (a stopped one refuses at once). Redis on the local network answers in
#: well under a millisecond; a hung one holds each worker a login reaches no longer than this, so
#: a burst of logins cannot hold the whole API (a live probe saw 2 s ones do so).
CONNECT_TIMEOUT_S = 0.5
COMMAND_TIMEOUT_S = 0.5
#: Seconds a client is asked to wait while Redis cannot be reached (a restart takes seconds).
RETRY_AFTER_S = 5
#: What an unreachable or failing Redis raises (redis-py wraps socket errors, mostly).
_UNREACHABLE = (redis.RedisError, OSError)

#: The GCRA rule of ``medbook.domain.throttling`` over every bucket of one attempt at once: when
#: one refuses, none is taken, and the answer is its index (1-based) and ``tat``; else 0. A key
#: expires when its bucket is full again, so nothing is left to sweep.
_TAKE = """
local now = tonumber(ARGV[1])
local tats = {}
for i, key in ipairs(KEYS) do
  local interval, tolerance = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat > now + tolerance then
    return {i, string.format('%d', tat)}
  end
  tats[i] = math.max(tat, now) + interval
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%d', tats[i]), 'PX', string.format('%d', tats[i] - now))
end
return {0, '0'}
"""

_GIVE_BACK = """
local now, interval = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) - interval
if tat > now then
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', string.format('%d', tat - now))
else
  redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisThrottle:
    """GCRA buckets as Redis strings (the ``tat`` in epoch milliseconds) under ``prefix``."""

    def __init__(self, client: redis.Redis, prefix: str = "medbook:throttle:") -> None:
        self._client = client
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)

    @classmethod
    def from_url(cls, url: str, prefix: str = "medbook:throttle:") -> RedisThrottle:
        # The pool checks an idle connection before handing it out (a Redis that restarted
        # closed it), so the first login after an outage already gets a new one.
        client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=COMMAND_TIMEOUT_S
        )
        return cls(client, prefix)

    def take(self, buckets: Sequence[Bucket], now: dt.datetime) -> int | None:
        if not buckets:
            return None
        at = epoch_ms(now)
        rates = [n for b in buckets for n in (b.rate.interval_ms, b.rate.tolerance_ms)]
        keys = [self._prefix + b.key for b in buckets]
        try:
            refused, tat = self._take(keys=keys, args=[at, *rates])
        except _UNREACHABLE as error:
            log.warning("throttle: Redis unreachable (%s); refusing the attempt", error)
            raise ThrottleUnavailable(RETRY_AFTER_S) from error
        if int(refused) == 0:
            return None
        return throttling.retry_after(int(tat), at, buckets[int(refused) - 1].rate)

    def give_back(self, bucket: Bucket, now: dt.datetime) -> None:
        try:
            self._give_back(
                keys=[self._prefix + bucket.key], args=[epoch_ms(now), bucket.rate.interval_ms]
            )
        except _UNREACHABLE as error:
            log.warning("throttle: Redis unreachable (%s); the attempt stays counted", error)

    def reset(self, key: str) -> None:
        try:
            self._client.delete(self._prefix + key)
        except _UNREACHABLE as error:
            log.warning("throttle: Redis unreachable (%s); the bucket stays as it was", error)

    def close(self) -> None:
        self._client.close()
