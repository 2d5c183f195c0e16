"""What every context's SQL repositories share: a connection, and the inserts they all use."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.sql import Executable


def by_dialect(build: Callable[[str], Executable]) -> Callable[[Connection], Executable]:
    """A statement that is written differently for SQLite and MySQL, built once per dialect (by
    ``build(dialect_name)``) and then reused: ``connection.execute(STATEMENT(connection), …)``."""
    built = cache(build)

    def statement(connection: Connection) -> Executable:
        return built(connection.dialect.name)

    return statement


def insert_if_missing(connection: Connection, table: Table, values: dict[str, Any]) -> int | None:
    """Insert a row unless one with the same key exists; a racing insert of the same key is fine.
    Returns the new row's autoincrement id, or None when the row existed. (On a table without an
    autoincrement key it tells nothing on MySQL; use ``insert_or_count``.)"""
    dialect = connection.dialect.name
    result = connection.execute(_insert_if_missing(table, dialect, tuple(values)), values)
    # SQLite counts 1 for a new row, 0 for an existing one. MySQL counts 0 for an existing row
    # left unchanged, but 1 with CLIENT_FOUND_ROWS, which SQLAlchemy's MySQL drivers turn on: only
    # a new row has an autoincrement id there.
    if not result.lastrowid or result.rowcount != 1:
        return None
    return int(result.lastrowid)


@cache
def _insert_if_missing(table: Table, dialect: str, columns: tuple[str, ...]) -> Executable:
    """Built once per table, dialect and columns given, then run with the values as parameters."""
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    statement = mysql.insert(table)
    # A no-op update rather than INSERT IGNORE, which would also swallow foreign-key errors.
    return statement.on_duplicate_key_update({columns[0]: statement.inserted[columns[0]]})


def insert_or_count(
    connection: Connection, table: Table, values: dict[str, Any], counter: str
) -> bool:
    """Insert a row unless one with the same key exists, in which case add one to its ``counter``
    column (MySQL; SQLite leaves it). True when the row is new, also between racing inserts."""
    if connection.dialect.name == "sqlite":
        result = connection.execute(sqlite.insert(table).values(values).on_conflict_do_nothing())
        return result.rowcount == 1
    column = table.c[counter]
    result = connection.execute(
        mysql.insert(table).values(values).on_duplicate_key_update({counter: column + 1})
    )
    # MySQL counts 1 for a new row and 2 for an existing row it changed.
    return result.rowcount == 1


class Repository:
    """A repository works on the unit of work's connection, inside its transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _insert(self, table: Table, values: dict[str, Any]) -> int:
        result = self.connection.execute(insert(table).values(values))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])
