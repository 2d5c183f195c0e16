"""Calendar feeds' ports: the feeds, and the unit of work a feed is read in (the appointments and
orders it shows, the directory that names and places them)."""

from __future__ import annotations

from typing import Protocol

from medbook.domain.calendar.feeds import CalendarFeed
from medbook.domain.shared.actors import Role
from medbook.ports.booking import AppointmentRepository
from medbook.ports.directory import DirectoryReads
from medbook.ports.orders import CareServiceRepository, OrderRepository
from medbook.ports.transaction import Transaction


class CalendarFeedRepository(Protocol):
    def replace(self, feed: CalendarFeed) -> CalendarFeed:
        """Store the owner's feed in place of the one they had (if any), and give it its id.
        The database keeps one feed per owner (a unique key): two racing replacements end with
        one feed, never two."""
        ...

    def by_hash(self, token_hash: str) -> CalendarFeed | None: ...

    def of_owner(self, role: Role, owner_id: int) -> CalendarFeed | None: ...

    def delete_of(self, role: Role, owner_id: int) -> bool:
        """Delete the owner's feed; False when they had none."""
        ...


class CalendarUnitOfWork(DirectoryReads, Transaction, Protocol):
    """A feed's transaction: the feeds, and what a feed shows."""

    @property
    def calendar_feeds(self) -> CalendarFeedRepository: ...
    @property
    def appointments(self) -> AppointmentRepository: ...
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def care_services(self) -> CareServiceRepository: ...
