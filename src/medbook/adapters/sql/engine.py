"""Engines for the two supported databases, each set up so that concurrent writers queue."""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, make_url
from sqlalchemy.engine import URL
from sqlalchemy.pool import PoolResetState, StaticPool

#: How long a SQLite writer waits for the write lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000

# MySQL/MariaDB: every wait on the database is bounded, so that a database that is down or hung
# is answered with a 503 well inside gunicorn's 30 s worker timeout, never by a killed worker.
# A hung server can cost a request a pre-ping (a read) and a reconnect (the connect, then the
# server's greeting, a read): 3 + 10 + 10 = 23 s at worst, under 30 s. A server that is down
# refuses at once and costs nothing like that.

#: Seconds to open the TCP connection. A LAN database accepts in milliseconds; 3 s still covers
#: a lost SYN (the first retransmission is after 1 s).
MYSQL_CONNECT_TIMEOUT_S = 3
#: Seconds a statement may wait on the server's answer, or the server on ours. It must exceed the
#: longest legitimate statement, lock waits included: MYSQL_LOCK_WAIT_TIMEOUT_S plus a listing
#: (milliseconds on the indexed queries medbook runs). Migrations run without it
#: (``make_migration_engine``): rebuilding a big table takes minutes.
MYSQL_READ_TIMEOUT_S = 10
MYSQL_WRITE_TIMEOUT_S = 10
#: Seconds a transaction waits for a row lock (InnoDB's default is 50). medbook's transactions
#: hold their locks for milliseconds; a wait of seconds means a stuck transaction, and the
#: service runs the whole transaction again after a lock wait timeout.
MYSQL_LOCK_WAIT_TIMEOUT_S = 5
#: Seconds a request waits for a free connection of the pool before it gives up (503).
POOL_TIMEOUT_S = 5
#: A pooled MySQL connection that has been idle this long is pinged before it is handed out (a
#: dead one is replaced, so that a database restarted while nobody asked costs no request).
#: A connection in constant use is not: a ping per request was a round trip in ten of a booking.
PING_AFTER_IDLE_S = 1.0

#: Set in a pooled connection's ``info`` by whoever has just ended its transaction (committed or
#: rolled back: ``SqlUnitOfWork``), so that the pool does not roll back once more on check-in.
TRANSACTION_ENDED = "medbook.transaction_ended"
_IDLE_SINCE = "medbook.idle_since"


def make_engine(url: str | URL, **options: Any) -> Engine:
    """An engine for ``url``: ``sqlite:///path``, ``mysql+pymysql://user:pw@host/db``, or
    ``mysql+mysqldb://…`` (mysqlclient, the optional C driver: the same settings, less CPU).

    SQLite: WAL, a busy timeout, foreign keys on, and every transaction begins with
    ``BEGIN IMMEDIATE`` so writers take the write lock up front and queue instead of failing at
    commit. MySQL/MariaDB: READ COMMITTED (the invariants rest on row locks and conditional
    updates, not on repeatable-read snapshots, and gap locks would only add deadlocks), utf8mb4,
    and bounded waits (``MYSQL_*_TIMEOUT_S``, ``POOL_TIMEOUT_S``); a value given in the URL's
    query (``?read_timeout=60``, ``?init_command=…``) or in ``connect_args`` wins over ours.
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **options)
    if url.get_backend_name() in ("mysql", "mariadb"):
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        options.setdefault("isolation_level", "READ COMMITTED")
        options.setdefault("pool_recycle", 3600)
        options.setdefault("pool_timeout", POOL_TIMEOUT_S)
        options["connect_args"] = _mysql_connect_args(url, options.get("connect_args", {}))
        ping_idle = "pool_pre_ping" not in options
        reset_ended = "pool_reset_on_return" not in options
        if reset_ended:
            options["pool_reset_on_return"] = None  # _reset_unless_ended does it
        engine = create_engine(url, **options)
        if ping_idle:
            _ping_when_idle(engine)
        if reset_ended:
            event.listen(engine, "reset", _reset_unless_ended)
        if options.get("isolation_level") != "AUTOCOMMIT":
            reader = make_engine(
                url,
                **{**options, "isolation_level": "AUTOCOMMIT", "skip_autocommit_rollback": True},
            )
            _READERS[engine] = reader
            event.listen(engine, "engine_disposed", lambda _: reader.dispose())
        return engine
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or mysql")


#: The engine each MySQL engine's read-only units of work use (``reader_of``).
_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def reader_of(engine: Engine) -> Engine:
    """Where a read-only unit of work runs. MySQL: a pool of its own, of autocommit connections
    with the same settings. Under READ COMMITTED each statement reads its own snapshot anyway, so
    a read needs no transaction, and then no ROLLBACK to end one: a round trip in four of a
    listing. (Leaving a read transaction open instead would hold its tables' metadata locks while
    the connection idles in the pool, and stall every migration.) SQLite: the engine itself;
    its read-only transactions begin DEFERRED, so WAL readers never wait for the write lock."""
    return _READERS.get(engine, engine)


#: The execution option a read-only unit of work sets on its connection (SQLite: BEGIN DEFERRED).
READING = "medbook_reading"

#: One lock per SQLite engine, held by a writing unit of work from before its BEGIN IMMEDIATE to
#: after its COMMIT or ROLLBACK (``writers_queue``).
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def writers_queue(engine: Engine) -> threading.Lock | None:
    """SQLite: the lock that the writing transactions of this process queue on. SQLite lets one
    writer in at a time; the others wait in its busy handler, which sleeps in growing steps (up to
    100 ms) and lets a newcomer overtake a writer that has waited long: 0.2-0.6 s at p99 under
    8 threads (docs/performance.md). Waiting on this lock instead, a writer is woken the moment
    the one before commits. Other processes on the same file still meet in the busy handler.
    None for MySQL, whose writers queue on row locks."""
    return _WRITERS.get(engine)


def make_migration_engine(url: str | URL) -> Engine:
    """An engine for ``medbook migrate``: as ``make_engine``, but a MySQL statement may take as
    long as it needs (an ``ALTER TABLE`` rebuilding a big table takes minutes), unless the URL
    says otherwise. Connecting stays bounded."""
    url = make_url(url)
    if url.get_backend_name() not in ("mysql", "mariadb"):
        return make_engine(url)
    unbounded = {k: None for k in ("read_timeout", "write_timeout") if k not in url.query}
    return make_engine(url, connect_args=unbounded)


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, for connections idle at least ``PING_AFTER_IDLE_S`` only:
    a ping that fails as a disconnect makes the pool replace the connection and try again."""

    @event.listens_for(engine, "connect")
    def _new(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _back(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError(str(error)) from error
            raise


def _reset_unless_ended(dbapi_connection: Any, record: Any, state: PoolResetState) -> None:
    """What ``pool_reset_on_return="rollback"`` does, less the round trip when the transaction
    is known to be over already (``TRANSACTION_ENDED``): a rollback after every commit, and a
    second one after every rollback, were two round trips in ten of a listing."""
    ended = record is not None and record.info.pop(TRANSACTION_ENDED, False)
    if state.terminate_only or state.transaction_was_reset or ended:
        return
    dbapi_connection.rollback()


def _mysql_connect_args(url: URL, given: dict[str, Any]) -> dict[str, Any]:
    """``given``, completed with our bounded waits wherever neither it nor the URL sets one.

    Both drivers take the same names (PyMySQL copied mysqlclient's). A wait given as ``None``
    means none: PyMySQL takes ``None`` for it, mysqlclient does not (its ``read_timeout=None`` is
    a TypeError) and waits without limit when the option is not set at all, so there it is left
    out."""
    ours: dict[str, Any] = {
        "connect_timeout": MYSQL_CONNECT_TIMEOUT_S,
        "read_timeout": MYSQL_READ_TIMEOUT_S,
        "write_timeout": MYSQL_WRITE_TIMEOUT_S,
        "init_command": f"SET SESSION innodb_lock_wait_timeout = {MYSQL_LOCK_WAIT_TIMEOUT_S}",
    }
    # SQLAlchemy lets connect_args override the URL's query: leave out what the URL sets.
    args = {**{k: v for k, v in ours.items() if k not in url.query}, **given}
    if url.get_driver_name() == "mysqldb":
        args = {k: v for k, v in args.items() if v is not None}
    return args


def _sqlite_engine(url: URL, **options: Any) -> Engine:
    connect_args = options.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    if url.database in (None, "", ":memory:"):
        # One shared connection, so that every unit of work sees the same in-memory database.
        options.setdefault("poolclass", StaticPool)
    engine = create_engine(url, connect_args=connect_args, **options)
    _WRITERS[engine] = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        reading = connection.get_execution_options().get(READING, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine
