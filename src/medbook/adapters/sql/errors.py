"""Database errors told apart by the codes the drivers report, never by their message text.

MySQL/MariaDB (PyMySQL, like mysqlclient) put the server's error number first in the exception's
``args``; Python's ``sqlite3`` (3.11+) gives the extended result code as ``sqlite_errorcode``.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError

ER_DUP_ENTRY = 1062
ER_LOCK_WAIT_TIMEOUT = 1205
ER_LOCK_DEADLOCK = 1213  # also a Galera certification failure: another node won the row
#: TiDB's own codes for "run the whole transaction again": a write conflict met by a
#: ``SELECT … FOR UPDATE`` (8002), a stale start timestamp (8005), a write conflict in TiKV
#: (9007). https://docs.pingcap.com/tidb/stable/error-codes
TIDB_RETRYABLE = frozenset({8002, 8005, 9007})
#: MySQL/MariaDB (and MySQL-compatible clusters') error codes after which the whole transaction
#: is worth running again.
MYSQL_RETRYABLE = frozenset({ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK}) | TIDB_RETRYABLE

#: SQLite primary result codes (the low byte of an extended code, e.g. SQLITE_BUSY_SNAPSHOT 517)
#: after which the transaction is worth running again: still busy after the busy timeout.
SQLITE_RETRYABLE = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
#: SQLite extended result codes of a unique key refusing a second row.
SQLITE_DUPLICATE = frozenset({2067, 1555})  # SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY


def _mysql_code(error: BaseException) -> int | None:
    orig = error.orig if isinstance(error, DBAPIError) else None
    if orig is None or isinstance(orig, sqlite3.Error):
        return None
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _sqlite_code(error: BaseException) -> int | None:
    orig = error.orig if isinstance(error, DBAPIError) else None
    if not isinstance(orig, sqlite3.Error):
        return None
    code = getattr(orig, "sqlite_errorcode", None)
    return code if isinstance(code, int) else None


def is_transient(error: BaseException) -> bool:
    """A deadlock, a lock wait timeout, or SQLite still busy after its timeout."""
    if (code := _mysql_code(error)) is not None:
        return code in MYSQL_RETRYABLE
    if (code := _sqlite_code(error)) is not None:
        return (code & 0xFF) in SQLITE_RETRYABLE
    return False


def is_duplicate_key(error: BaseException) -> bool:
    """A unique key (or primary key) refused the row; which one is for the caller to find out."""
    if (code := _mysql_code(error)) is not None:
        return code == ER_DUP_ENTRY
    if (code := _sqlite_code(error)) is not None:
        return code in SQLITE_DUPLICATE
    return False
