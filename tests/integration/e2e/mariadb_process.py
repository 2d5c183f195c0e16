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

import os
import subprocess
from pathlib import Path
from typing import Any

import pymysql
from server_process import ServerProcess, ServerStartError

MARIADBD = os.environ.get("MEDBOOK_TEST_MARIADBD", "/usr/sbin/mariadbd")
INSTALL_DB = os.environ.get("MEDBOOK_TEST_MARIADB_INSTALL_DB", "mariadb-install-db")

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


class MariaDbError(ServerStartError):
    """The server could not be set up or started; the message carries the end of its log."""


class MariaDbProcess(ServerProcess):
    """A ``mariadbd`` on 127.0.0.1:``port`` with its data, socket and log under ``directory``."""

    name = "mariadbd"
    #: Initialising the data directory and crash recovery on a loaded CI machine.
    startup_timeout = 60.0
    stop_timeout = 30.0
    error = MariaDbError

    def __init__(
        self, directory: Path, port: int | None = None, options: tuple[str, ...] = ()
    ) -> None:
        super().__init__(directory, port)
        self.options = options

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

    def prepare(self) -> None:
        if not (self.datadir / "mysql").is_dir():
            self._install()

    def command(self) -> list[str]:
        return [
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

    def answers(self) -> str | None:
        try:
            with self.connect(connect_timeout=1) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                return None
        except pymysql.err.Error as error:
            return str(error)

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
                command, capture_output=True, text=True, timeout=self.startup_timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise MariaDbError(f"`{' '.join(command)}` failed: {error}") from error
        if done.returncode != 0:
            raise MariaDbError(
                f"`{' '.join(command)}` exited {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
