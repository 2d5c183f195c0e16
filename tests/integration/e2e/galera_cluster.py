"""A MariaDB Galera cluster of a test's own on loopback: never the machine's shared server.

``GaleraCluster(directory, size=3)`` runs ``size`` ``mariadbd`` processes with the galera-4
provider that comes with Debian's MariaDB 10.11. Each node has its own data directory, socket,
error log and four free 127.0.0.1 ports: SQL, group communication (``gmcast.listen_addr``),
incremental state transfer (``ist.recv_addr``) and snapshot state transfer (rsync)::

    cluster = GaleraCluster(Path(tempfile.mkdtemp())).start()  # the others join node 0 by SST
    url = cluster.url(1, "medbook")
    cluster.kill(2)    # SIGKILL: a crash, no goodbye to the group
    cluster.restart(2) # recovers its position, rejoins by IST
    cluster.stop()

Only node 0 is initialised with ``mariadb-install-db``; the others start empty and receive a
full copy (rsync SST) when they join. A restarted node first recovers its last committed
position from InnoDB (``mariadbd --wsrep-recover``, what Debian's ``galera_recovery`` does), so
that a donor can send it just the write sets it missed (IST) rather than a whole copy.

As root, the nodes run as the ``mysql`` user (``RUN_AS``), so their directory must be one that
user can reach: under ``/tmp``, not under pytest's ``tmp_path`` (private to root).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

import pymysql

MARIADBD = os.environ.get("MEDBOOK_TEST_MARIADBD", "/usr/sbin/mariadbd")
INSTALL_DB = os.environ.get("MEDBOOK_TEST_MARIADB_INSTALL_DB", "mariadb-install-db")
PROVIDER = os.environ.get("MEDBOOK_TEST_GALERA_PROVIDER", "/usr/lib/galera/libgalera_smm.so")
#: Seconds for a node to start and reach Synced (a state transfer included) on a loaded machine.
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.1

#: Small and fast: the tests hold a few thousand rows. The binary log is off (Galera replicates
#: without it) but its format must be ROW; interleaved auto-increment locks, as Galera requires.
SERVER_OPTIONS = (
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--innodb-flush-log-at-trx-commit=1",
    "--innodb-autoinc-lock-mode=2",
    "--default-storage-engine=InnoDB",
    "--binlog-format=ROW",
    "--skip-log-bin",
    "--skip-name-resolve",
    "--performance-schema=OFF",
    "--max-connections=200",
)
#: Group communication tuned for one machine: a killed node is declared gone after 3 s rather
#: than 5 s (the cluster's writes wait for that verdict); a small write-set cache that still holds
#: every write set a node misses while it is down, so that it rejoins by IST.
PROVIDER_OPTIONS = (
    "evs.suspect_timeout=PT3S",
    "evs.inactive_timeout=PT6S",
    "evs.install_timeout=PT6S",
    "gcache.size=64M",
)


#: As root, the nodes run as ``mysql``: the rsync SST's receiving daemon, started as root, would
#: switch to the user ``nobody`` and be refused the joiner's data directory.
RUN_AS = os.environ.get("MEDBOOK_TEST_GALERA_USER", "mysql") if os.geteuid() == 0 else ""
_USER_OPTION = (f"--user={RUN_AS}",) if RUN_AS else ()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GaleraError(RuntimeError):
    """A node could not be set up, started or synced; the message carries the end of its log."""


class GaleraNode:
    """One ``mariadbd`` of the cluster, with its directory and its four ports."""

    def __init__(self, number: int, directory: Path) -> None:
        self.number = number
        self.directory = directory
        self.port = free_port()
        self.gmcast_port = free_port()
        self.ist_port = free_port()
        self.sst_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "mariadb.err"

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def url(self, database: str = "") -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str | None = None, **options: object) -> pymysql.Connection:  # type: ignore[type-arg]
        """A plain PyMySQL connection as root (autocommit), for set-up and for looking at rows."""
        settings: dict[str, object] = {"connect_timeout": 3, "read_timeout": 30, **options}
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user="root",
            database=database,
            autocommit=True,
            **settings,  # type: ignore[arg-type]
        )

    def status(self, name: str) -> str | None:
        """A ``SHOW STATUS`` value (``wsrep_cluster_size``, ...); None when it cannot be asked."""
        try:
            with self.connect(read_timeout=5) as connection, connection.cursor() as cursor:
                cursor.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
                row = cursor.fetchone()
        except pymysql.err.Error:
            return None
        return None if row is None else str(row[1])

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text("utf-8", "replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no log)"

    def command(self, cluster_address: str, *extra: str) -> list[str]:
        provider_options = "; ".join(
            (
                f"gmcast.listen_addr=tcp://127.0.0.1:{self.gmcast_port}",
                f"ist.recv_addr=127.0.0.1:{self.ist_port}",
                f"base_port={self.gmcast_port}",
                *PROVIDER_OPTIONS,
            )
        )
        return [
            MARIADBD,
            "--no-defaults",  # nothing from /etc/mysql: that is the shared server's
            f"--datadir={self.datadir}",
            f"--socket={self.directory / 'mariadb.sock'}",
            f"--pid-file={self.directory / 'mariadb.pid'}",
            f"--log-error={self.log_path}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            *_USER_OPTION,
            *SERVER_OPTIONS,
            "--wsrep-on=ON",
            f"--wsrep-provider={PROVIDER}",
            f"--wsrep-cluster-address={cluster_address}",
            "--wsrep-cluster-name=medbook_test",
            f"--wsrep-node-name=node{self.number}",
            "--wsrep-node-address=127.0.0.1",
            f"--wsrep-provider-options={provider_options}",
            f"--wsrep-sst-receive-address=127.0.0.1:{self.sst_port}",
            "--wsrep-sst-method=rsync",
            "--wsrep-slave-threads=2",
            *extra,
        ]


class GaleraCluster:
    """``size`` Galera nodes on loopback; nodes are numbered from 0."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.directory = directory
        self.nodes = [GaleraNode(n, directory / f"node{n}") for n in range(size)]

    def url(self, node: int, database: str = "") -> str:
        """A SQLAlchemy URL for ``database`` on that node, over TCP as root."""
        return self.nodes[node].url(database)

    def urls(self, database: str = "") -> list[str]:
        return [node.url(database) for node in self.nodes]

    @property
    def cluster_address(self) -> str:
        return "gcomm://" + ",".join(f"127.0.0.1:{n.gmcast_port}" for n in self.nodes)

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bootstrap node 0 as a new cluster, then let the others join; returns when all are
        Synced in a primary component of ``size``."""
        _RUNNING.add(self)
        try:
            for directory in (self.directory, *(node.directory for node in self.nodes)):
                _make_directory(directory)
            first, *others = self.nodes
            self._install(first)
            self._launch(first, "--wsrep-new-cluster")
            self.wait_synced([first.number], cluster_size=1)
            for node in others:
                _make_directory(node.datadir)
                self._launch(node)
            self.wait_synced()
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, node: int) -> None:
        """Crash it: SIGKILL, and wait until it is gone."""
        process = self.nodes[node].process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            process.wait()

    def restart(self, node: int) -> None:
        """Start it again after ``kill()``: same ports and data. Its last committed position is
        recovered from InnoDB first, so that it can catch up by IST. Returns when every node is
        Synced again."""
        target = self.nodes[node]
        if target.is_running:
            raise GaleraError(f"node {node} is still running")
        position = self._recover(target)
        self._launch(target, f"--wsrep-start-position={position}")
        self.wait_synced()

    def stop(self) -> None:
        """Shut every node down (SIGTERM, then SIGKILL past STOP_TIMEOUT)."""
        for node in reversed(self.nodes):
            if node.is_running:
                assert node.process is not None
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                try:
                    node.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()
        _RUNNING.discard(self)

    def remove(self) -> None:
        """Delete the nodes' directories (after ``stop()``): a few hundred megabytes."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def wait_synced(self, nodes: list[int] | None = None, cluster_size: int | None = None) -> None:
        """Wait until each of ``nodes`` (all by default) is Synced in a primary component of
        ``cluster_size`` nodes (all of them by default); fails at once when one of them dies."""
        wanted = [self.nodes[n] for n in (nodes or range(len(self.nodes)))]
        size = str(cluster_size or len(self.nodes))
        deadline = time.monotonic() + STARTUP_TIMEOUT
        waiting = list(wanted)
        while waiting:
            for node in wanted:
                if node.process is None or node.process.poll() is not None:
                    raise GaleraError(f"node {node.number} is not running\n{node.log_tail()}")
            node = waiting[0]
            state = (
                node.status("wsrep_local_state_comment"),
                node.status("wsrep_cluster_size"),
                node.status("wsrep_cluster_status"),
            )
            if state == ("Synced", size, "Primary"):
                waiting.pop(0)
                continue
            if time.monotonic() > deadline:
                raise GaleraError(
                    f"node {node.number} is not Synced in a cluster of {size} "
                    f"after {STARTUP_TIMEOUT:.0f} s: {state}\n{node.log_tail()}"
                )
            time.sleep(POLL_INTERVAL)

    def wait_applied(self) -> None:
        """Wait until every running node has applied every write the cluster committed so far.
        Galera is only virtually synchronous: a commit on one node returns before the others
        have applied it, and a read on another node (``wsrep_sync_wait=0``, the default) may
        not see it yet."""
        for node in self.nodes:
            if node.is_running:
                with node.connect() as connection, connection.cursor() as cursor:
                    cursor.execute("SET SESSION wsrep_sync_wait = 1")
                    cursor.execute("SELECT 1")

    # --- helpers ---------------------------------------------------------------------------------

    def _launch(self, node: GaleraNode, *extra: str) -> None:
        node.process = subprocess.Popen(
            node.command(self.cluster_address, *extra),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C of the test run is not its signal
        )

    def _install(self, node: GaleraNode) -> None:
        command = [
            INSTALL_DB,
            "--no-defaults",
            f"--datadir={node.datadir}",
            "--auth-root-authentication-method=normal",  # root without a password
            "--skip-test-db",
            *_USER_OPTION,
            *SERVER_OPTIONS,
        ]
        _run(command)

    def _recover(self, node: GaleraNode) -> str:
        """The node's last committed ``uuid:seqno``, as ``mariadbd --wsrep-recover`` finds it in
        InnoDB after a crash (it writes it to the error log and exits)."""
        recovery_log = node.directory / "recover.err"
        recovery_log.unlink(missing_ok=True)
        command = [
            *node.command(self.cluster_address),
            "--wsrep-recover",
            f"--log-error={recovery_log}",
        ]
        _run(command)
        text = recovery_log.read_text("utf-8", "replace")
        found = re.findall(r"WSREP: Recovered position: (\S+:-?\d+)", text)
        if not found:
            raise GaleraError(f"node {node.number}: no position recovered\n{text[-3000:]}")
        return str(found[-1])


def _make_directory(path: Path) -> None:
    """A directory the nodes' user may write, in a tree it may walk."""
    path.mkdir(parents=True, exist_ok=True)
    if RUN_AS:
        shutil.chown(path, RUN_AS, RUN_AS)


def _run(command: list[str]) -> None:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=STARTUP_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GaleraError(f"`{' '.join(command)}` failed: {error}") from error
    if done.returncode != 0:
        raise GaleraError(
            f"`{' '.join(command)}` exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )


_RUNNING: set[GaleraCluster] = set()


@atexit.register
def _kill_leftovers() -> None:
    """A test run that dies mid-way leaves no node behind."""
    for cluster in list(_RUNNING):
        for node in range(len(cluster.nodes)):
            cluster.kill(node)
