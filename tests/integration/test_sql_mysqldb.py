"""mysqlclient (MySQLdb), the optional C driver, beside PyMySQL: what the rest of the MariaDB tests
check on PyMySQL alone, here on mysqlclient (the modules in ``conftest.ON_MYSQLDB`` run on both).

The driver's errors are told apart by the same codes, and the engine's settings reach the server.
The pool's round trips (``test_sql_pool.py``) and the booking state machine
(``test_sql_booking_machine.py``) are tested on both drivers where they are.
"""

from __future__ import annotations

import importlib
import socket
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from medbook.adapters.sql import make_engine
from medbook.adapters.sql.engine import MYSQL_LOCK_WAIT_TIMEOUT_S, make_migration_engine
from medbook.adapters.sql.errors import is_duplicate_key, is_transient
from medbook.entrypoints.http.errors import is_database_unavailable

pytestmark = pytest.mark.mariadb


@pytest.fixture
def mysqldb(mysqldb_database: str) -> Any:
    """The MySQLdb module (the fixture fails, never skips, when mysqlclient is missing)."""
    return importlib.import_module("MySQLdb")


# --- the driver's errors, by their codes ---------------------------------------------------------


def test_mysqlclient_errors_are_known_by_their_codes(mysqldb: Any) -> None:
    def wrapped(kind: type[DBAPIError], orig: Exception) -> DBAPIError:
        return kind("statement", {}, orig)

    assert is_transient(wrapped(OperationalError, mysqldb.OperationalError(1213, "x")))
    assert is_transient(wrapped(OperationalError, mysqldb.OperationalError(1205, "x")))
    assert is_transient(wrapped(OperationalError, mysqldb.OperationalError(9007, "x")))
    assert not is_transient(wrapped(OperationalError, mysqldb.OperationalError(1064, "Deadlock")))
    assert is_duplicate_key(wrapped(IntegrityError, mysqldb.IntegrityError(1062, "x")))
    assert not is_duplicate_key(wrapped(IntegrityError, mysqldb.IntegrityError(1452, "Duplicate")))
    for code in (2002, 2003, 2006, 2013, 1040, 1053):
        outage = mysqldb.OperationalError(code, "")
        assert is_database_unavailable(wrapped(OperationalError, outage))
    assert is_database_unavailable(wrapped(InterfaceError, mysqldb.InterfaceError(0, "")))
    # mysqlclient raises an unknown column as an OperationalError too: a bug, not an outage.
    assert not is_database_unavailable(
        wrapped(OperationalError, mysqldb.OperationalError(1054, "Unknown column 'x'"))
    )


def test_a_server_that_refuses_is_unavailable(mysqldb_database: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = make_url(mysqldb_database).set(host="127.0.0.1", port=port)
    refused = make_engine(url)
    with pytest.raises(OperationalError) as raised, refused.connect():
        pass
    refused.dispose()
    assert is_database_unavailable(raised.value)


def test_a_statement_past_the_read_timeout_is_unavailable(mysqldb_database: str) -> None:
    """The read timeout holds (given in the URL's query, as a string mysqlclient must get as an
    int), and a server that does not answer in time is an outage."""
    slow = make_engine(make_url(mysqldb_database).update_query_dict({"read_timeout": "1"}))
    with pytest.raises(OperationalError) as raised, slow.connect() as connection:
        connection.execute(text("SELECT SLEEP(5)"))
    slow.dispose()
    assert is_database_unavailable(raised.value)


def test_the_engines_settings_reach_the_server(mysqldb_database: str) -> None:
    for made in (make_engine(mysqldb_database), make_migration_engine(mysqldb_database)):
        # The migration engine's unbounded read timeout is no None for mysqlclient to refuse.
        with made.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT @@session.innodb_lock_wait_timeout, @@character_set_client, "
                    "@@session.tx_isolation"
                )
            ).one()
        made.dispose()
        assert tuple(row) == (MYSQL_LOCK_WAIT_TIMEOUT_S, "utf8mb4", "READ-COMMITTED")
