"""The SQL unit of work: one connection, one transaction, every context's repositories on it.

It implements ``medbook.ports.unit_of_work.UnitOfWork`` (every context's unit of work at once), so
that one transaction can span contexts: a leave cancels appointments and writes notifications.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from medbook.adapters.sql.accounts import SqlAdmins, SqlCredentials, SqlPatients
from medbook.adapters.sql.booking import SqlAppointments, SqlDailyCounts, SqlLeaves, SqlPlaces
from medbook.adapters.sql.booking_views import SqlAppointmentViews
from medbook.adapters.sql.calendar import SqlCalendarFeeds
from medbook.adapters.sql.chat import SqlConversations, SqlConversationViews, SqlMessages
from medbook.adapters.sql.contracts import SqlContracts
from medbook.adapters.sql.directory import SqlDepartments, SqlDoctors, SqlHospitals
from medbook.adapters.sql.engine import (
    READING,
    SQLITE_BUSY_TIMEOUT_MS,
    TRANSACTION_ENDED,
    reader_of,
    writers_queue,
)
from medbook.adapters.sql.errors import is_transient
from medbook.adapters.sql.hospital_policies import SqlHospitalPolicies
from medbook.adapters.sql.notifications import SqlNotifications
from medbook.adapters.sql.orders import (
    SqlCareServices,
    SqlOrders,
    SqlPaymentEvents,
    SqlRefunds,
    SqlServicePlaces,
)
from medbook.adapters.sql.records import (
    SqlAccessLog,
    SqlAttachments,
    SqlMedicalRecords,
    SqlRecordShares,
    SqlVitalSigns,
)
from medbook.adapters.sql.reminders import SqlReminders
from medbook.adapters.sql.waitlist import SqlWaitlist
from medbook.ports.transaction import TransientConflict

if TYPE_CHECKING:
    from medbook.ports.unit_of_work import UnitOfWork


class SqlUnitOfWork:
    """``with SqlUnitOfWork(engine) as uow:`` is one transaction; leaving it uncommitted rolls back.

    Deadlocks and lock timeouts leave as ``TransientConflict``, for the service to run the whole
    transaction again. Make one per transaction (they are cheap), never share one across threads.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None
        self._reading = False
        self._queued: threading.Lock | None = None

    def for_reading(self) -> Self:
        """Read only (``reader_of``): on MySQL each statement on its own, with no transaction
        and no ROLLBACK; on SQLite a DEFERRED transaction, which never waits for writers."""
        self._reading = True
        return self

    def __enter__(self) -> Self:
        queue = None if self._reading else writers_queue(self.engine)
        if queue is not None:
            if not queue.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
                raise TransientConflict("waited too long for the other writers of this process")
            self._queued = queue
        try:
            if self._reading:
                connection = reader_of(self.engine).connect().execution_options(**{READING: True})
            else:
                connection = self.engine.connect()
            try:
                connection.begin()
            except DBAPIError as error:
                connection.close()
                if is_transient(error):
                    raise TransientConflict(str(error.orig)) from error
                raise
        except BaseException:
            self._leave_queue()
            raise
        self.connection = connection
        # directory
        self.hospitals = SqlHospitals(connection)
        self.departments = SqlDepartments(connection)
        self.doctors = SqlDoctors(connection)
        # booking
        self.leaves = SqlLeaves(connection)
        self.places = SqlPlaces(connection)
        self.daily_counts = SqlDailyCounts(connection)
        self.appointments = SqlAppointments(connection)
        self.appointment_views = SqlAppointmentViews(connection)
        self.waitlist = SqlWaitlist(connection)
        # accounts
        self.credentials = SqlCredentials(connection)
        self.patients = SqlPatients(connection)
        self.admins = SqlAdmins(connection)
        # notifications
        self.notifications = SqlNotifications(connection)
        # chat
        self.conversations = SqlConversations(connection)
        self.messages = SqlMessages(connection)
        self.conversation_views = SqlConversationViews(connection)
        # orders
        self.care_services = SqlCareServices(connection)
        self.service_places = SqlServicePlaces(connection)
        self.orders = SqlOrders(connection)
        self.payment_events = SqlPaymentEvents(connection)
        self.refunds = SqlRefunds(connection)
        # contracts
        self.contracts = SqlContracts(connection)
        # records
        self.vitals = SqlVitalSigns(connection)
        self.access_log = SqlAccessLog(connection)
        self.records = SqlMedicalRecords(connection)
        self.attachments = SqlAttachments(connection)
        self.shares = SqlRecordShares(connection)
        # calendar
        self.calendar_feeds = SqlCalendarFeeds(connection)
        # reminders
        self.reminders = SqlReminders(connection)
        self.hospital_policies = SqlHospitalPolicies(connection)
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
            if exc is None:
                # Committed or rolled back just now, without error: the pool need not roll back.
                connection.info[TRANSACTION_ENDED] = True
        finally:
            try:
                connection.close()
            finally:
                self._leave_queue()
        if exc is not None and is_transient(exc):
            raise TransientConflict(str(getattr(exc, "orig", exc))) from exc

    def _leave_queue(self) -> None:
        queued, self._queued = self._queued, None
        if queued is not None:
            queued.release()

    def commit(self) -> None:
        assert self.connection is not None, "commit() outside a with block"
        self.connection.commit()

    def rollback(self) -> None:
        assert self.connection is not None, "rollback() outside a with block"
        self.connection.rollback()
        self.connection.begin()


if TYPE_CHECKING:

    def _implements_every_context(engine: Engine) -> UnitOfWork:
        return SqlUnitOfWork(engine)  # mypy: the one SQL unit of work satisfies every port
