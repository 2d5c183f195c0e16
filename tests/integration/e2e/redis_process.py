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

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis

REDIS_SERVER = os.environ.get("MEDBOOK_TEST_REDIS_SERVER", "redis-server")
#: Seconds for the server to answer PING after a start; it usually takes a few milliseconds.
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.02

_RUNNING: set[RedisProcess] = set()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisStartError(RuntimeError):
    """The server could not be started; the message carries the end of its log."""


class RedisProcess:
    """A ``redis-server`` on 127.0.0.1:``port`` with its working directory under ``directory``."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.directory / f"redis-{self.port}.log"

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Self:
        if self.is_running:
            raise RedisStartError(f"the server on port {self.port} is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--daemonize",
            "no",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # the file stays open in the child
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run is not its signal
            )
        _RUNNING.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def kill(self) -> None:
        """Crash it: SIGKILL, and wait until it is gone (its port closed)."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            process.wait(STOP_TIMEOUT)
        _RUNNING.discard(self)

    def restart(self) -> Self:
        """Start it again after ``kill()``: the same port, and (nothing persisted) empty."""
        if self.is_running:
            self.kill()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisStartError(
                    f"redis-server exited with {self.process.returncode} on port {self.port}\n"
                    + self.log_tail()
                )
            client = redis.Redis(
                host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1
            )
            try:
                if client.ping():
                    return
            except redis.RedisError as error:
                last = str(error)
            finally:
                client.close()
            time.sleep(POLL_INTERVAL)
        raise RedisStartError(
            f"redis-server on port {self.port} did not answer PING within "
            f"{STARTUP_TIMEOUT:.0f} s ({last})\n{self.log_tail()}"
        )


@atexit.register
def _kill_leftovers() -> None:
    """A test run that dies mid-way leaves no server behind."""
    for server in list(_RUNNING):
        server.kill()
