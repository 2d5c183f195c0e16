"""An in-memory unit of work with real transaction semantics, over every context's repositories.

Transactions are serialised by one lock and work on a copy of the tables, which replaces the
committed tables on commit and is dropped on rollback. Entities are copied on the way in and out,
so a change made by a caller is only stored by ``save``/``add``, as with a database. Like the SQL
one, it implements ``medbook.ports.unit_of_work.UnitOfWork``: one transaction spans contexts.
"""

from __future__ import annotations

import itertools
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Self

from medbook.adapters.memory import (
    accounts,
    booking,
    calendar,
    chat,
    contracts,
    directory,
    hospital_policies,
    notifications,
    orders,
    records,
    reminders,
)
from medbook.adapters.memory.accounts import MemoryAdmins, MemoryCredentials, MemoryPatients
from medbook.adapters.memory.base import Tables
from medbook.adapters.memory.booking import (
    MemoryAppointments,
    MemoryAppointmentViews,
    MemoryDailyCounts,
    MemoryLeaves,
    MemoryPlaces,
    MemoryWaitlist,
)
from medbook.adapters.memory.calendar import MemoryCalendarFeeds
from medbook.adapters.memory.chat import (
    MemoryConversations,
    MemoryConversationViews,
    MemoryMessages,
)
from medbook.adapters.memory.contracts import MemoryContracts
from medbook.adapters.memory.directory import MemoryDepartments, MemoryDoctors, MemoryHospitals
from medbook.adapters.memory.hospital_policies import MemoryHospitalPolicies
from medbook.adapters.memory.notifications import MemoryNotifications
from medbook.adapters.memory.orders import (
    MemoryCareServices,
    MemoryOrders,
    MemoryPaymentEvents,
    MemoryRefunds,
    MemoryServicePlaces,
)
from medbook.adapters.memory.records import (
    MemoryAccessLog,
    MemoryAttachments,
    MemoryMedicalRecords,
    MemoryRecordShares,
    MemoryVitalSigns,
)
from medbook.adapters.memory.reminders import MemoryReminders

if TYPE_CHECKING:
    from medbook.ports.unit_of_work import UnitOfWork

#: Every context's tables.
TABLES = (
    *directory.TABLES,
    *booking.TABLES,
    *accounts.TABLES,
    *notifications.TABLES,
    *chat.TABLES,
    *orders.TABLES,
    *contracts.TABLES,
    *records.TABLES,
    *calendar.TABLES,
    *reminders.TABLES,
    *hospital_policies.TABLES,
)


class MemoryStore:
    """The committed state, shared by every unit of work made from it."""

    def __init__(self) -> None:
        self.tables: Tables = {name: {} for name in TABLES}
        self.lock = threading.RLock()
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def unit_of_work(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.staged: Tables = {}
        # directory
        self.hospitals = MemoryHospitals(self, "hospitals")
        self.departments = MemoryDepartments(self, "departments")
        self.doctors = MemoryDoctors(self, "doctors")
        # booking
        self.leaves = MemoryLeaves(self, "leaves")
        self.places = MemoryPlaces(self, "places")
        self.daily_counts = MemoryDailyCounts(self, "daily_counts")
        self.appointments = MemoryAppointments(self, "appointments")
        self.appointment_views = MemoryAppointmentViews(self)
        self.waitlist = MemoryWaitlist(self, "waitlist")
        # accounts
        self.credentials = MemoryCredentials(self, "credentials")
        self.patients = MemoryPatients(self, "patients")
        self.admins = MemoryAdmins(self, "admins")
        # notifications
        self.notifications = MemoryNotifications(self, "notifications")
        # chat
        self.conversations = MemoryConversations(self, "conversations")
        self.messages = MemoryMessages(self, "messages")
        self.conversation_views = MemoryConversationViews(self)
        # orders
        self.care_services = MemoryCareServices(self, "care_services")
        self.service_places = MemoryServicePlaces(self, "service_dates")
        self.orders = MemoryOrders(self, "service_orders")
        self.payment_events = MemoryPaymentEvents(self, "payment_events")
        self.refunds = MemoryRefunds(self, "refunds")
        # contracts
        self.contracts = MemoryContracts(self, "contracts")
        # records
        self.vitals = MemoryVitalSigns(self, "vital_signs")
        self.access_log = MemoryAccessLog(self, "access_log")
        self.records = MemoryMedicalRecords(self, "medical_records")
        self.attachments = MemoryAttachments(self, "record_attachments")
        self.shares = MemoryRecordShares(self, "record_shares")
        # calendar
        self.calendar_feeds = MemoryCalendarFeeds(self, "calendar_feeds")
        # reminders
        self.reminders = MemoryReminders(self, "reminders")
        self.hospital_policies = MemoryHospitalPolicies(self, "hospital_policies")

    def __enter__(self) -> Self:
        self.store.lock.acquire()
        self.staged = {name: dict(rows) for name, rows in self.store.tables.items()}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.staged = {}
        self.store.lock.release()

    def for_reading(self) -> Self:
        return self  # one transaction at a time: nothing to skip

    def commit(self) -> None:
        self.store.tables = self.staged
        self.staged = {name: dict(rows) for name, rows in self.staged.items()}

    def rollback(self) -> None:
        self.staged = {name: dict(rows) for name, rows in self.store.tables.items()}


if TYPE_CHECKING:

    def _implements_every_context(store: MemoryStore) -> UnitOfWork:
        return MemoryUnitOfWork(store)  # mypy: the one memory unit of work satisfies every port
