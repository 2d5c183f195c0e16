"""The MySQL pool's round trips (issue 13): no ping for a connection in constant use, no second
rollback after a unit of work has ended its transaction; and what they guarded stays guarded: a
connection dead while idle is replaced before use, and a transaction someone else left open is
still rolled back before the connection is handed out again. On PyMySQL and on mysqlclient."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import pymysql.connections
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql import engine as engine_module
from medbook.entrypoints.http.errors import is_database_unavailable

pytestmark = pytest.mark.mariadb


@pytest.fixture(params=["mariadb_database", "mysqldb_database"])
def database(request: pytest.FixtureRequest) -> str:
    """The run's MariaDB database through PyMySQL, then through mysqlclient."""
    return str(request.getfixturevalue(request.param))


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    made = make_engine(database, pool_size=1, max_overflow=0)
    yield made
    with made.begin() as connection:
        connection.execute(text("DELETE FROM patient_day_counts WHERE patient_id >= 900000"))
    made.dispose()


@pytest.fixture
def sent(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the driver sends from here on: the first word of each query, "ping", "COMMIT" and
    "ROLLBACK" (PyMySQL sends them all as commands; mysqlclient has calls of its own for the last
    three, not queries)."""
    commands: list[str] = []

    def first_word(sql: Any) -> str:
        words = (sql.decode() if isinstance(sql, bytes) else str(sql)).split()
        return words[0].upper() if words else ""

    if engine.dialect.driver == "pymysql":
        execute = pymysql.connections.Connection._execute_command

        def spy_command(connection: Any, command: int, sql: Any) -> Any:
            commands.append("ping" if command == 14 else first_word(sql))
            return execute(connection, command, sql)

        monkeypatch.setattr(pymysql.connections.Connection, "_execute_command", spy_command)
        return commands

    connection_class = importlib.import_module("MySQLdb.connections").Connection
    query = connection_class.query

    def spy_query(connection: Any, sql: Any) -> Any:
        commands.append(first_word(sql))
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


def _kill(database: str, connection_id: int) -> None:
    admin = make_engine(database)
    with admin.connect() as connection:
        connection.execute(text(f"KILL CONNECTION {connection_id}"))
    admin.dispose()


def test_a_unit_of_work_in_constant_use_costs_no_ping_and_no_second_rollback(
    engine: Engine, sent: list[str]
) -> None:
    _connection_id(engine)  # the pool's one connection, just used
    sent.clear()

    with SqlUnitOfWork(engine) as uow:
        uow.hospitals.get(1)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        uow.hospitals.get(1)

    assert sent == ["SELECT", "COMMIT", "SELECT", "ROLLBACK"]


def test_a_connection_idle_past_the_threshold_is_pinged_and_replaced_when_dead(
    engine: Engine, database: str, monkeypatch: pytest.MonkeyPatch, sent: list[str]
) -> None:
    before = _connection_id(engine)
    _kill(database, before)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # idle long enough
    sent.clear()

    after = _connection_id(engine)

    assert after != before
    assert sent[0] == "ping"


def test_without_the_ping_a_connection_that_died_idle_fails_its_first_statement(
    engine: Engine, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above depends on the ping: here it is off, and the dead connection is used."""
    _kill(database, _connection_id(engine))
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", float("inf"))

    with pytest.raises(OperationalError) as raised:
        _connection_id(engine)
    assert is_database_unavailable(raised.value)
    _connection_id(engine)  # the pool replaced it after the failure


def test_a_transaction_left_open_outside_a_unit_of_work_is_rolled_back_on_check_in(
    engine: Engine, database: str
) -> None:
    raw = engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute(
        "INSERT INTO patient_day_counts (patient_id, date, active) VALUES (900001, '2026-12-01', 1)"
    )
    raw.close()  # back to the pool with the insert neither committed nor rolled back
    with SqlUnitOfWork(engine) as uow:  # the same connection (pool of one), committing
        uow.commit()

    other = make_engine(database)
    with other.connect() as connection:
        leaked = connection.execute(
            text("SELECT COUNT(*) FROM patient_day_counts WHERE patient_id = 900001")
        ).scalar_one()
    other.dispose()
    assert leaked == 0
