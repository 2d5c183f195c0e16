"""A MariaDB server of a test's own, to kill and bring back: never the machine's shared one.

``MariaDbProcess(directory)`` initialises a data directory under ``directory`` (once, with
``mariadb-install-db``) and runs ``mariadbd`` on a free loopback port with its socket in that
directory, small buffers so that it starts in about a second, and ``root`` without a password
(over TCP from 127.0.0.1 as over the socket). ``start()`` returns once the server answers a query;
``kill()`` is a crash (SIGKILL: no shutdown, InnoDB recovers at the next start); ``stop()`` is a
clean shutdown; ``restart()`` starts it again on the same port and data directory::

    with MariaDbProcess(tmp_path) as db:
        url = db.url("medbook")
        db.kill()
        db.restart()

Commits are durable (``innodb_flush_log_at_trx_commit=1``, the default, spelt out): what a
client was told is committed survives ``kill()``.
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
from typing import Any, Self

import pymysql

MARIADBD = os.environ.get("MEDBOOK_TEST_MARIADBD", "/usr/sbin/mariadbd")
INSTALL_DB = os.environ.get("MEDBOOK_TEST_MARIADB_INSTALL_DB", "mariadb-install-db")
#: Seconds for the data directory to be initialised, and for the server to answer after a start
#: (crash recovery included) on a loaded CI machine; it usually takes well under one.
STARTUP_TIMEOUT = 60.0
#: Seconds a clean shutdown may take before the server is killed.
STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.05

#: Small and fast: the tests hold a few hundred rows. Binary log off (no replication here).
SERVER_OPTIONS = (
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--innodb-flush-log-at-trx-commit=1",
    "--skip-log-bin",
    "--skip-name-resolve",
    "--performance-schema=OFF",
    "--max-connections=200",
)

_RUNNING: set[MariaDbProcess] = set()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MariaDbError(RuntimeError):
    """The server could not be set up or started; the message carries the end of its log."""


class MariaDbProcess:
    """A ``mariadbd`` on 127.0.0.1:``port`` with its data, socket and log under ``directory``."""

    def __init__(
        self, directory: Path, port: int | None = None, options: tuple[str, ...] = ()
    ) -> None:
        self.directory = directory
        self.port = port or _free_port()
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return self.directory / "data"

    @property
    def socket_path(self) -> Path:
        return self.directory / "mariadb.sock"

    @property
    def log_path(self) -> Path:
        return self.directory / "mariadb.err"

    def url(self, database: str = "") -> str:
        """A SQLAlchemy URL for ``database`` on this server, over TCP as root."""
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Initialise the data directory if need be, start the server, wait until it answers."""
        if self.is_running:
            raise MariaDbError(f"the server on port {self.port} is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        if not (self.datadir / "mysql").is_dir():
            self._install()
        command = [
            MARIADBD,
            "--no-defaults",  # nothing from /etc/mysql: that is the shared server's
            f"--datadir={self.datadir}",
            f"--socket={self.socket_path}",
            f"--pid-file={self.directory / 'mariadb.pid'}",
            f"--log-error={self.log_path}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            *(["--user=root"] if os.geteuid() == 0 else []),
            *SERVER_OPTIONS,
            *self.options,
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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
            process.wait()
        _RUNNING.discard(self)

    def stop(self) -> None:
        """Shut it down cleanly (SIGTERM); killed if it takes longer than STOP_TIMEOUT."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        _RUNNING.discard(self)

    def restart(self) -> Self:
        """Start it again after ``kill()`` or ``stop()``: same port, same data."""
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

    # --- helpers ---------------------------------------------------------------------------------

    def connect(self, database: str | None = None, **options: Any) -> Any:
        """A plain PyMySQL connection as root (autocommit), for set-up and for looking at rows."""
        settings: dict[str, Any] = {"connect_timeout": 5, "read_timeout": 30, **options}
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user="root",
            database=database,
            autocommit=True,
            **settings,
        )

    def create_database(self, name: str) -> str:
        """``CREATE DATABASE name`` (utf8mb4); its URL."""
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return self.url(name)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:])

    def _install(self) -> None:
        command = [
            INSTALL_DB,
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--auth-root-authentication-method=normal",  # root without a password
            "--skip-test-db",
            *(["--user=root"] if os.geteuid() == 0 else []),
            # Passed on to the bootstrap server: the log file is sized at creation.
            *SERVER_OPTIONS,
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=STARTUP_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise MariaDbError(f"`{' '.join(command)}` failed: {error}") from error
        if done.returncode != 0:
            raise MariaDbError(
                f"`{' '.join(command)}` exited {done.returncode}\n{done.stdout}\n{done.stderr}"
            )

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MariaDbError(
                    f"mariadbd exited with {self.process.returncode} on port {self.port}\n"
                    + self.log_tail()
                )
            try:
                with self.connect(connect_timeout=1) as connection, connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    return
            except pymysql.err.Error as error:
                last = str(error)
            time.sleep(POLL_INTERVAL)
        raise MariaDbError(
            f"mariadbd on port {self.port} did not answer within {STARTUP_TIMEOUT:.0f} s "
            f"({last})\n{self.log_tail()}"
        )


@atexit.register
def _kill_leftovers() -> None:
    """A test run that dies mid-way leaves no server behind."""
    for server in list(_RUNNING):
        server.kill()
