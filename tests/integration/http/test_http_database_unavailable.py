"""A database that cannot be reached is a 503 the client may retry, not a 500; every other
database error (a refused key, a broken statement) stays a 500.

The app runs on services whose every unit of work fails with the error under test, as SQLAlchemy
would raise it on a real outage (the driver's exception wrapped, as PyMySQL and sqlite3 raise it).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any, NoReturn

import falcon.testing
import pymysql
import pytest
from http_support import fast_hasher
from sqlalchemy import exc

from medbook.bootstrap import build_services
from medbook.entrypoints.http.app import create_app

PROBLEM = "application/problem+json"
SQL = "SELECT hospitals.id FROM hospitals WHERE hospitals.name = %(name)s"
#: A parameter of the failed statement: it must not reach the client nor the log.
SECRET_PARAMETER = "13812345678"

UNAVAILABLE = {
    "refused": exc.OperationalError(
        SQL,
        {"name": SECRET_PARAMETER},
        pymysql.err.OperationalError(
            2003, "Can't connect to MySQL server on '127.0.0.1' ([Errno 111] Connection refused)"
        ),
    ),
    "lost mid-query": exc.OperationalError(
        SQL,
        {"name": SECRET_PARAMETER},
        pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
        connection_invalidated=True,
    ),
    "gone away": exc.OperationalError(
        SQL,
        {"name": SECRET_PARAMETER},
        pymysql.err.OperationalError(2006, "MySQL server has gone away"),
    ),
    "shutting down": exc.OperationalError(
        SQL,
        {"name": SECRET_PARAMETER},
        pymysql.err.OperationalError(1053, "Server shutdown in progress"),
    ),
    "too many connections": exc.OperationalError(
        SQL, {"name": SECRET_PARAMETER}, pymysql.err.OperationalError(1040, "Too many connections")
    ),
    "closed connection": exc.InterfaceError(
        SQL, {"name": SECRET_PARAMETER}, pymysql.err.InterfaceError(0, "")
    ),
    "invalidated, whatever the code": exc.DBAPIError(
        SQL,
        {"name": SECRET_PARAMETER},
        pymysql.err.Error("Already closed"),
        connection_invalidated=True,
    ),
    "pool exhausted": exc.TimeoutError(
        "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 5.00"
    ),
}

NOT_AN_OUTAGE = {
    "duplicate key": exc.IntegrityError(
        SQL, {"name": SECRET_PARAMETER}, pymysql.err.IntegrityError(1062, "Duplicate entry")
    ),
    "syntax error": exc.ProgrammingError(
        SQL, {"name": SECRET_PARAMETER}, pymysql.err.ProgrammingError(1064, "You have an error")
    ),
    # PyMySQL raises an unknown column as an OperationalError: a bug of ours, not an outage.
    "unknown column": exc.OperationalError(
        SQL, {"name": SECRET_PARAMETER}, pymysql.err.OperationalError(1054, "Unknown column 'x'")
    ),
    "access denied": exc.OperationalError(
        SQL, {"name": SECRET_PARAMETER}, pymysql.err.OperationalError(1045, "Access denied")
    ),
    "value out of range": exc.DataError(
        SQL, {"name": SECRET_PARAMETER}, pymysql.err.DataError(1264, "Out of range value")
    ),
    "sqlite: no such table": exc.OperationalError(
        SQL, {"name": SECRET_PARAMETER}, sqlite3.OperationalError("no such table: hospitals")
    ),
    "sqlite: wrong binding": exc.InterfaceError(
        SQL, {"name": SECRET_PARAMETER}, sqlite3.InterfaceError("Error binding parameter 1")
    ),
}


def client_failing_with(error: Exception) -> falcon.testing.TestClient:
    def new_uow() -> NoReturn:
        raise error

    services = build_services(new_uow, hasher=fast_hasher())
    return falcon.testing.TestClient(create_app(services))


@pytest.mark.parametrize("error", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
def test_an_unreachable_database_is_a_503_to_retry_later(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="medbook.http"):
        result = client_failing_with(error).simulate_get("/v1/hospitals")

    assert result.status_code == 503
    assert result.headers["content-type"] == PROBLEM
    body: dict[str, Any] = result.json
    assert body["status"] == 503 and body["code"] == "database_unavailable"
    assert int(result.headers["retry-after"]) > 0
    assert "SELECT" not in result.text and SECRET_PARAMETER not in result.text
    # One line each, at warning level: an outage must not flood the log with tracebacks.
    [record] = [r for r in caplog.records if r.name == "medbook.http"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "GET /v1/hospitals" in record.getMessage()
    assert SECRET_PARAMETER not in record.getMessage()


@pytest.mark.parametrize("error", NOT_AN_OUTAGE.values(), ids=NOT_AN_OUTAGE.keys())
def test_any_other_database_error_stays_a_500(error: Exception) -> None:
    result = client_failing_with(error).simulate_get("/v1/hospitals")

    assert result.status_code == 500
    assert result.headers["content-type"] == PROBLEM
    assert result.json["code"] == "internal_error"
    assert "retry-after" not in result.headers
