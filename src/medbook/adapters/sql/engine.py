"""Engines for the two supported databases, each set up so that concurrent writers queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

#: How long a SQLite writer waits for the write lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str | URL, **options: Any) -> Engine:
    """An engine for ``url``: ``sqlite:///path`` or ``mysql+pymysql://user:pw@host/db``.

    SQLite: WAL, a busy timeout, foreign keys on, and every transaction begins with
    ``BEGIN IMMEDIATE`` so writers take the write lock up front and queue instead of failing at
    commit. MySQL/MariaDB: READ COMMITTED (the invariants rest on row locks and conditional
    updates, not on repeatable-read snapshots, and gap locks would only add deadlocks) and utf8mb4.
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **options)
    if url.get_backend_name() in ("mysql", "mariadb"):
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        options.setdefault("isolation_level", "READ COMMITTED")
        options.setdefault("pool_pre_ping", True)
        options.setdefault("pool_recycle", 3600)
        return create_engine(url, **options)
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or mysql")


def _sqlite_engine(url: URL, **options: Any) -> Engine:
    connect_args = options.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    if url.database in (None, "", ":memory:"):
        # One shared connection, so that every unit of work sees the same in-memory database.
        options.setdefault("poolclass", StaticPool)
    engine = create_engine(url, connect_args=connect_args, **options)

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
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
