"""A server of a test's own, to crash and bring back: never one of the machine's shared services.

``ServerProcess`` is what the outage tests' MariaDB, Redis and S3 (moto) have in common: a
process on a free loopback port, with its files under a directory of the test's; ``start()``
returns once it answers; ``kill()`` is a crash (SIGKILL, then the port refuses at once);
``stop()`` a clean shutdown (SIGTERM, killed past ``stop_timeout``); ``restart()`` starts it
again on the same port. A test run that dies mid-way leaves none behind (``atexit``). A subclass
says how to run it (``command``), how to tell it answers (``answers``) and what to set up before
the first start (``prepare``)::

    with RedisProcess(tmp_path) as redis_server:
        redis_server.kill()
        redis_server.restart()
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self, TypeVar

import pytest

_RUNNING: set[ServerProcess] = set()
S = TypeVar("S", bound="ServerProcess")


def free_port() -> int:
    """A TCP port nobody listens on right now (bind port 0, let the kernel choose, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerStartError(RuntimeError):
    """The server could not be set up or started; the message carries the end of its log."""


class ServerProcess:
    #: What it is called in messages and in the name of its output file.
    name: ClassVar[str] = "server"
    #: Seconds to answer after a start (crash recovery and imports included) on a loaded machine.
    startup_timeout: ClassVar[float] = 60.0
    #: Seconds a clean shutdown may take before the process is killed.
    stop_timeout: ClassVar[float] = 10.0
    poll_interval: ClassVar[float] = 0.05
    error: ClassVar[type[ServerStartError]] = ServerStartError

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # --- what a subclass says --------------------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def answers(self) -> str | None:
        """None once the server answers; else why not yet (for the error past the timeout)."""
        raise NotImplementedError

    def prepare(self) -> None:
        """What the first start needs (a data directory, say)."""

    @property
    def output_path(self) -> Path:
        """Where its standard output and error go."""
        return self.directory / f"{self.name}-{self.port}.log"

    @property
    def log_path(self) -> Path:
        """The log ``log_tail`` reads: its output, unless it writes a log of its own."""
        return self.output_path

    # --- life cycle ------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Self:
        if self.is_running:
            raise self.error(f"{self.name} on port {self.port} is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with self.output_path.open("ab") as output:
            self.process = subprocess.Popen(  # the file stays open in the child
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run is not its signal
            )
        self.starts += 1
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
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            process.wait(self.stop_timeout)
        _RUNNING.discard(self)

    def pause(self) -> None:
        """Hang it (SIGSTOP): its port still takes connections, and nothing answers."""
        assert self.process is not None and self.process.poll() is None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server go on (SIGCONT)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Shut it down cleanly (SIGTERM); killed if it takes longer than ``stop_timeout``."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused server could not hear SIGTERM
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        _RUNNING.discard(self)

    def restart(self) -> Self:
        """Start it again after ``kill()`` or ``stop()``, on the same port."""
        if self.is_running:
            self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self.error(
                    f"{self.name} exited with {self.process.returncode} on port {self.port}\n"
                    + self.log_tail()
                )
            why = self.answers()
            if why is None:
                return
            last = why
            time.sleep(self.poll_interval)  # polling for readiness, bounded by the deadline
        raise self.error(
            f"{self.name} on port {self.port} did not answer within "
            f"{self.startup_timeout:.0f} s ({last})\n{self.log_tail()}"
        )


@contextlib.contextmanager
def running(server: S) -> Iterator[S]:
    """``server`` started for the ``with`` block, then stopped; a server that cannot start fails
    the test (it never skips)."""
    try:
        server.start()
    except ServerStartError as error:
        pytest.fail(f"could not start {server.name} of the test's own: {error}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@atexit.register
def _kill_leftovers() -> None:
    """A test run that dies mid-way leaves no server behind."""
    for server in list(_RUNNING):
        server.kill()
