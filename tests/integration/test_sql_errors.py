"""Database errors are told apart by the codes the drivers report, never by their message text."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pymysql
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.errors import is_duplicate_key, is_transient
from medbook.domain import Department, Hospital
from medbook.domain.accounts.model import Credential
from medbook.domain.shared.actors import Role
from medbook.domain.shared.errors import DepartmentExists, PhoneTaken
from medbook.ports.transaction import TransientConflict

# --- what the codes say, whatever the text -------------------------------------------------------


def _sqlite(code: int, message: str, kind: type[DBAPIError] = OperationalError) -> DBAPIError:
    driver = sqlite3.IntegrityError if kind is IntegrityError else sqlite3.OperationalError
    orig = driver(message)
    orig.sqlite_errorcode = code  # type: ignore[attr-defined]
    return kind("statement", {}, orig)


def _mysql(code: int, message: str, kind: type[DBAPIError] = OperationalError) -> DBAPIError:
    driver = pymysql.err.IntegrityError if kind is IntegrityError else pymysql.err.OperationalError
    return kind("statement", {}, driver(code, message))


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_mysql(1213, "no text to go by"), True),  # ER_LOCK_DEADLOCK
        (_mysql(1205, "no text to go by"), True),  # ER_LOCK_WAIT_TIMEOUT
        (_mysql(1064, "Deadlock found when trying to get lock"), False),
        # TiDB: SELECT FOR UPDATE met a write conflict, stale start timestamp, TiKV write conflict
        (_mysql(8002, "no text to go by"), True),
        (_mysql(8005, "no text to go by"), True),
        (_mysql(9007, "no text to go by"), True),
        (_mysql(8004, "Write conflict: transaction too large"), False),  # not worth a retry
        (_sqlite(5, "no text to go by"), True),  # SQLITE_BUSY
        (_sqlite(6, "no text to go by"), True),  # SQLITE_LOCKED
        (_sqlite(517, "no text to go by"), True),  # SQLITE_BUSY_SNAPSHOT
        (_sqlite(1, "database is locked"), False),  # SQLITE_ERROR, whatever it says
        (_sqlite(2067, "database is busy"), False),
        (ValueError("database is locked"), False),
    ],
)
def test_transient_errors_are_known_by_their_code(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


@pytest.mark.parametrize(
    ("error", "duplicate"),
    [
        # ER_DUP_ENTRY; then ER_NO_REFERENCED_ROW_2 (a foreign key), whatever its text says
        (_mysql(1062, "no text to go by", IntegrityError), True),
        (_mysql(1452, "Duplicate entry '1' for key 'PRIMARY'", IntegrityError), False),
        # SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY; then _NOTNULL and _FOREIGNKEY
        (_sqlite(2067, "no text to go by", IntegrityError), True),
        (_sqlite(1555, "no text to go by", IntegrityError), True),
        (_sqlite(1299, "UNIQUE constraint failed: t.a", IntegrityError), False),
        (_sqlite(787, "UNIQUE constraint failed: t.a", IntegrityError), False),
    ],
)
def test_duplicate_keys_are_known_by_their_code(error: BaseException, duplicate: bool) -> None:
    assert is_duplicate_key(error) is duplicate


# --- the real errors of both databases -----------------------------------------------------------


def _give_up_waiting_at_once(engine: Engine) -> None:
    """Make the engine's connections give up on a lock (almost) at once instead of queueing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA busy_timeout=0")
        else:
            cursor.execute("SET SESSION innodb_lock_wait_timeout=1")
        cursor.close()


def _lock_the_hospital(uow: SqlUnitOfWork, hospital_id: int) -> None:
    """Lock the hospital's row (MariaDB); on SQLite the open transaction holds the write lock."""
    assert uow.connection is not None
    if uow.connection.dialect.name != "sqlite":
        statement = text("SELECT id FROM hospitals WHERE id = :id FOR UPDATE")
        uow.connection.execute(statement, {"id": hospital_id})


def test_a_writer_that_cannot_get_its_lock_leaves_with_a_transient_conflict(
    engine_factory: Callable[..., Engine],
) -> None:
    holder, waiter = engine_factory(), engine_factory()
    _give_up_waiting_at_once(waiter)
    with SqlUnitOfWork(holder) as uow:
        hospital = uow.hospitals.add(Hospital("Ruijin Hospital"))
        uow.commit()
    assert hospital.id is not None
    with SqlUnitOfWork(holder) as first:
        _lock_the_hospital(first, hospital.id)
        with pytest.raises(TransientConflict), SqlUnitOfWork(waiter) as second:
            _lock_the_hospital(second, hospital.id)


def test_a_taken_phone_is_phone_taken_in_that_role_only(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.credentials.add(Credential(Role.PATIENT, "13800000001", 7, "hash"))
        with pytest.raises(PhoneTaken):
            uow.credentials.add(Credential(Role.PATIENT, "13800000001", 8, "hash"))
        uow.credentials.add(Credential(Role.DOCTOR, "13800000001", 7, "hash"))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.credentials.find(Role.PATIENT, "13800000001").user_id == 7  # type: ignore[union-attr]
        assert uow.credentials.find(Role.DOCTOR, "13800000001") is not None


def test_a_second_login_for_one_user_is_not_reported_as_a_taken_phone(engine: Engine) -> None:
    # The phone is free: telling the user it is taken would be false, and would hide the bug that
    # gave one user two logins of one role.
    with SqlUnitOfWork(engine) as uow:
        uow.credentials.add(Credential(Role.PATIENT, "13800000001", 7, "hash"))
        with pytest.raises(IntegrityError) as raised:
            uow.credentials.add(Credential(Role.PATIENT, "13800000002", 7, "hash"))
        assert not isinstance(raised.value, PhoneTaken)
        assert uow.credentials.find(Role.PATIENT, "13800000002") is None


def test_a_department_error_that_is_not_a_duplicate_is_not_department_exists(
    engine: Engine,
) -> None:
    with SqlUnitOfWork(engine) as uow:
        hospital = uow.hospitals.add(Hospital("Ruijin Hospital"))
        assert hospital.id is not None
        uow.departments.add(Department(hospital.id, "Cardiology"))
        with pytest.raises(DepartmentExists):
            uow.departments.add(Department(hospital.id, "Cardiology"))
        nameless = Department(hospital.id, "Paediatrics")
        object.__setattr__(nameless, "name", None)  # what no caller can build: a missing name
        # The database's message names the column "name"; it is still no duplicate.
        with pytest.raises(IntegrityError):
            uow.departments.add(nameless)
