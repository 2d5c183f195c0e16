"""The SQL unit of work: one connection, one transaction."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from medbook.adapters.sql.repositories import (
    SqlAdmins,
    SqlAppointments,
    SqlCredentials,
    SqlDailyCounts,
    SqlDepartments,
    SqlDoctors,
    SqlHospitals,
    SqlLeaves,
    SqlNotifications,
    SqlPatients,
    SqlPlaces,
)
from medbook.ports.transaction import TransientConflict

#: MySQL/MariaDB error codes after which the whole transaction is worth running again.
MYSQL_RETRYABLE = {
    1205,  # ER_LOCK_WAIT_TIMEOUT
    1213,  # ER_LOCK_DEADLOCK
}


def is_transient(error: BaseException) -> bool:
    """A deadlock, a lock wait timeout, or SQLite still busy after its timeout."""
    if not isinstance(error, DBAPIError) or error.orig is None:
        return False
    args = getattr(error.orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in MYSQL_RETRYABLE:
        return True
    message = str(error.orig).lower()
    return "database is locked" in message or "database is busy" in message


class SqlUnitOfWork:
    """``with SqlUnitOfWork(engine) as uow:`` is one transaction; leaving it uncommitted rolls back.

    Deadlocks and lock timeouts leave as ``TransientConflict``, for the service to run the whole
    transaction again. Make one per transaction (they are cheap), never share one across threads.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None

    def __enter__(self) -> Self:
        connection = self.engine.connect()
        try:
            connection.begin()
        except DBAPIError as error:
            connection.close()
            if is_transient(error):
                raise TransientConflict(str(error.orig)) from error
            raise
        self.connection = connection
        self.hospitals = SqlHospitals(connection)
        self.departments = SqlDepartments(connection)
        self.doctors = SqlDoctors(connection)
        self.leaves = SqlLeaves(connection)
        self.places = SqlPlaces(connection)
        self.daily_counts = SqlDailyCounts(connection)
        self.appointments = SqlAppointments(connection)
        self.credentials = SqlCredentials(connection)
        self.patients = SqlPatients(connection)
        self.admins = SqlAdmins(connection)
        self.notifications = SqlNotifications(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self.connection = self.connection, None
        assert connection is not None
        try:
            if connection.in_transaction():
                connection.rollback()
        finally:
            connection.close()
        if exc is not None and is_transient(exc):
            raise TransientConflict(str(getattr(exc, "orig", exc))) from exc

    def commit(self) -> None:
        assert self.connection is not None, "commit() outside a with block"
        self.connection.commit()

    def rollback(self) -> None:
        assert self.connection is not None, "rollback() outside a with block"
        self.connection.rollback()
        self.connection.begin()
