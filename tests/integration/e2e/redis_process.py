"""A Redis server of a test's own, to kill and bring back: never the machine's shared one (6379).

``RedisProcess(directory)`` runs ``redis-server`` in the foreground on a free loopback port, with
its working directory (and log) under ``directory`` and nothing persisted (``--save ""``,
``--appendonly no``): a restart comes back empty, as a Redis used as a cache and a message bus
may. ``start()`` returns once it answers PING; ``kill()`` is a crash (SIGKILL); ``restart()``
starts it again on the same port::

    with RedisProcess(tmp_path) as server:
        url = server.url
        server.kill()
        server.restart()
"""

from __future__ import annotations

import os

import redis
from server_process import ServerProcess, ServerStartError

REDIS_SERVER = os.environ.get("MEDBOOK_TEST_REDIS_SERVER", "redis-server")


class RedisStartError(ServerStartError):
    """The server could not be started; the message carries the end of its log."""


class RedisProcess(ServerProcess):
    """A ``redis-server`` on 127.0.0.1:``port`` with its working directory under ``directory``."""

    name = "redis"
    startup_timeout = 20.0
    poll_interval = 0.02
    error = RedisStartError

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            REDIS_SERVER,
            *("--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),  # nothing persisted: a restart is empty
            *("--dir", str(self.directory), "--daemonize", "no"),
        ]

    def answers(self) -> str | None:
        client = redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1
        )
        try:
            return None if client.ping() else "no PONG"
        except redis.RedisError as error:
            return str(error)
        finally:
            client.close()
