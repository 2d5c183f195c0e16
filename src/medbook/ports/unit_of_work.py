"""The unit of work of every context at once: what the concrete stores (SQL, memory) implement,
so that one transaction can span contexts (a leave cancels appointments and writes
notifications)."""

from __future__ import annotations

from typing import Protocol

from medbook.ports.accounts import AccountsUnitOfWork
from medbook.ports.booking import BookingUnitOfWork
from medbook.ports.calendar import CalendarUnitOfWork
from medbook.ports.chat import ChatUnitOfWork
from medbook.ports.contracts import ContractsUnitOfWork
from medbook.ports.directory import DirectoryUnitOfWork
from medbook.ports.files import FilesUnitOfWork
from medbook.ports.notifications import NotificationsUnitOfWork
from medbook.ports.orders import OrdersUnitOfWork
from medbook.ports.records import RecordsUnitOfWork
from medbook.ports.reminders import RemindersUnitOfWork


class UnitOfWork(
    AccountsUnitOfWork,
    BookingUnitOfWork,
    CalendarUnitOfWork,
    ChatUnitOfWork,
    ContractsUnitOfWork,
    DirectoryUnitOfWork,
    FilesUnitOfWork,
    NotificationsUnitOfWork,
    OrdersUnitOfWork,
    RecordsUnitOfWork,
    RemindersUnitOfWork,
    Protocol,
):
    """Every repository of every context, in one transaction."""
