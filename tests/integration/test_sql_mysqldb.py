"""mysqlclient (MySQLdb), the optional C driver, beside PyMySQL: what the rest of the MariaDB tests
check on PyMySQL alone, here on mysqlclient (the modules in ``conftest.ON_MYSQLDB`` run on both).

The driver's errors are told apart by the same codes; the engine's settings reach the server; the
pool's round trips are as few (counted in mysqlclient's connection, where ``test_sql_pool.py``
counts PyMySQL's); and the booking state machine holds.
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql import engine as engine_module
from medbook.adapters.sql.engine import MYSQL_LOCK_WAIT_TIMEOUT_S, make_migration_engine
from medbook.adapters.sql.errors import is_duplicate_key, is_transient
from medbook.adapters.sql.schema import metadata
from medbook.entrypoints.http.errors import is_database_unavailable
from medbook.testing import BookingStateMachine, UnitOfWorkFactory

pytestmark = pytest.mark.mariadb


@pytest.fixture
def mysqldb(mysqldb_database: str) -> Any:
    """The MySQLdb module (the fixture fails, never skips, when mysqlclient is missing)."""
    return importlib.import_module("MySQLdb")


@pytest.fixture
def engine(mysqldb_database: str) -> Iterator[Engine]:
    made = make_engine(mysqldb_database, pool_size=1, max_overflow=0)
    assert made.dialect.driver == "mysqldb"
    yield made
    with made.begin() as connection:
        connection.execute(text("DELETE FROM patient_day_counts WHERE patient_id >= 900000"))
    made.dispose()


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


# --- the pool's round trips ----------------------------------------------------------------------


@pytest.fixture
def sent(mysqldb: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What mysqlclient sends from here on: the first word of each query, "ping", "COMMIT" and
    "ROLLBACK" (the last three are calls of their own in its C API, not queries)."""
    commands: list[str] = []
    connection_class = mysqldb.connections.Connection
    query = connection_class.query

    def spy_query(connection: Any, sql: Any) -> Any:
        words = (sql.decode() if isinstance(sql, bytes) else str(sql)).split()
        commands.append(words[0].upper() if words else "")
        return query(connection, sql)

    def spy(name: str, word: str) -> Callable[..., Any]:
        original = getattr(connection_class, name)

        def call(connection: Any, *args: Any) -> Any:
            commands.append(word)
            return original(connection, *args)

        return call

    monkeypatch.setattr(connection_class, "query", spy_query)
    for name, word in (("ping", "ping"), ("commit", "COMMIT"), ("rollback", "ROLLBACK")):
        monkeypatch.setattr(connection_class, name, spy(name, word))
    return commands


def _connection_id(engine: Engine) -> int:
    with SqlUnitOfWork(engine) as uow:
        assert uow.connection is not None
        return int(uow.connection.execute(text("SELECT CONNECTION_ID()")).scalar_one())


def _kill(url: str, connection_id: int) -> None:
    admin = make_engine(url)
    with admin.connect() as connection:
        connection.execute(text(f"KILL CONNECTION {connection_id}"))
    admin.dispose()


def test_a_unit_of_work_in_constant_use_costs_no_ping_and_no_second_rollback(
    engine: Engine, sent: list[str]
) -> None:
    _connection_id(engine)
    sent.clear()

    with SqlUnitOfWork(engine) as uow:
        uow.hospitals.get(1)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        uow.hospitals.get(1)

    assert sent == ["SELECT", "COMMIT", "SELECT", "ROLLBACK"]


def test_a_connection_idle_past_the_threshold_is_pinged_and_replaced_when_dead(
    engine: Engine, mysqldb_database: str, monkeypatch: pytest.MonkeyPatch, sent: list[str]
) -> None:
    before = _connection_id(engine)
    _kill(mysqldb_database, before)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    sent.clear()

    after = _connection_id(engine)

    assert after != before
    assert sent[0] == "ping"


def test_without_the_ping_a_connection_that_died_idle_fails_its_first_statement(
    engine: Engine, mysqldb_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kill(mysqldb_database, _connection_id(engine))
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", float("inf"))

    with pytest.raises(OperationalError) as raised:
        _connection_id(engine)
    assert is_database_unavailable(raised.value)
    _connection_id(engine)  # the pool replaced it after the failure


def test_a_transaction_left_open_outside_a_unit_of_work_is_rolled_back_on_check_in(
    engine: Engine, mysqldb_database: str
) -> None:
    raw = engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute("INSERT INTO patient_day_counts VALUES (900001, '2026-12-01', 1)")
    raw.close()
    with SqlUnitOfWork(engine) as uow:
        uow.commit()

    other = make_engine(mysqldb_database)
    with other.connect() as connection:
        leaked = connection.execute(
            text("SELECT COUNT(*) FROM patient_day_counts WHERE patient_id = 900001")
        ).scalar_one()
    other.dispose()
    assert leaked == 0


# --- the booking state machine -------------------------------------------------------------------


def test_the_booking_invariants_hold_on_mysqlclient(mysqldb_database: str) -> None:
    engine = make_engine(mysqldb_database)

    class MysqldbBookingMachine(BookingStateMachine):
        """The run's MariaDB database through mysqlclient, emptied after every example."""

        def make_uow_factory(self) -> UnitOfWorkFactory:
            return lambda: SqlUnitOfWork(engine)

        def teardown(self) -> None:
            _empty(engine)
            super().teardown()

    try:
        run_state_machine_as_test(
            MysqldbBookingMachine,
            settings=settings(  # type: ignore[arg-type]
                max_examples=10,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        _empty(engine)
        engine.dispose()


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
