"""Calendar feeds: a patient or doctor makes a secret URL their calendar app subscribes to, and
revokes it; whoever holds the URL reads the owner's events (``Feed``) through ``feed``.

A patient's feed shows their appointments (doctor, department, hospital, at the hospital's
address) and their home-visit orders (all-day, at home or at the hospital); a doctor's feed shows
their appointments *without the patient's name* — calendar apps copy a feed to their makers'
servers — as "Clinic: patient no. 3", the patient's queue number. Both reach back ``PAST_DAYS``
days and forward without end. Sessions run from ``BookingPolicy.session_start`` to
``session_end`` in the hospital's time zone.

Each event's ``sequence`` is the step of its object's lifecycle (``APPOINTMENT_LIFECYCLE``,
``ORDER_LIFECYCLE``): statuses only move forward, so it only grows, as RFC 5545 asks of a
changed event; a cancelled one stays in the feed, ``CANCELLED``.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from attrs import define, field, frozen

from medbook.domain.booking.appointments import Appointment, AppointmentStatus, CancelledBy
from medbook.domain.booking.policy import BookingPolicy
from medbook.domain.calendar.feeds import (
    OWNERS,
    CalendarEvent,
    CalendarFeed,
    EventStatus,
    Feed,
    is_token,
    new_token,
    token_hash,
    window_start,
)
from medbook.domain.directory.model import DEFAULT_TIMEZONE, Department, Doctor, Hospital
from medbook.domain.orders.model import OrderStatus, Place, ServiceOrder
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.calendar import Period
from medbook.domain.shared.errors import CalendarFeedNotFound
from medbook.domain.shared.geo import GeoPoint
from medbook.ports.calendar import CalendarUnitOfWork
from medbook.ports.clock import Clock
from medbook.services.authorization import require_role
from medbook.services.transactions import read_only, transactionally

FEED_PATH = "/v1/calendar-feeds/"
#: The host in events' UIDs when no public URL is set.
FALLBACK_HOST = "medbook"
#: The most orders one feed reads (newest first), as the order listing does at most.
MAX_ORDERS = 500

#: Each status's place in an appointment's lifecycle: the event's STATUS and SEQUENCE.
APPOINTMENT_LIFECYCLE: Mapping[AppointmentStatus, tuple[EventStatus, int]] = {
    AppointmentStatus.BOOKED: (EventStatus.CONFIRMED, 0),
    AppointmentStatus.CANCELLED: (EventStatus.CANCELLED, 1),
    AppointmentStatus.ATTENDED: (EventStatus.CONFIRMED, 1),
    AppointmentStatus.NO_SHOW: (EventStatus.CONFIRMED, 1),
}
#: ... and in an order's.
ORDER_LIFECYCLE: Mapping[OrderStatus, tuple[EventStatus, int]] = {
    OrderStatus.PENDING_PAYMENT: (EventStatus.TENTATIVE, 0),
    OrderStatus.PAID: (EventStatus.CONFIRMED, 1),
    OrderStatus.COMPLETED: (EventStatus.CONFIRMED, 2),
    OrderStatus.CANCELLED: (EventStatus.CANCELLED, 2),
    OrderStatus.REFUNDED: (EventStatus.CANCELLED, 2),
    OrderStatus.EXPIRED: (EventStatus.CANCELLED, 2),
}
_PERIODS = {Period.MORNING: "Morning", Period.AFTERNOON: "Afternoon"}
T = TypeVar("T")


@frozen
class NewFeed:
    """A new feed and its token: the only moment the token exists in clear."""

    feed: CalendarFeed
    token: str
    url: str


@frozen
class _Venue:
    """Where a hospital's events happen."""

    name: str
    address: str
    location: GeoPoint | None
    timezone: str

    @classmethod
    def of(cls, hospital: Hospital | None) -> _Venue:
        if hospital is None:
            return cls("", "", None, DEFAULT_TIMEZONE)
        return cls(hospital.name, hospital.address, hospital.location, hospital.timezone)

    @property
    def location_text(self) -> str:
        return ", ".join(part for part in (self.name, self.address) if part)


@define
class CalendarService:
    new_uow: Callable[[], CalendarUnitOfWork]
    clock: Clock
    policy: BookingPolicy = field(factory=BookingPolicy)
    #: This API's public base URL: feeds' URLs start with it, events' UIDs end with its host.
    public_url: str = field(default="", kw_only=True)

    def create_feed_as(self, actor: Actor) -> NewFeed:
        """A new feed URL for the patient or doctor; the one they had stops working."""
        require_role(actor, *OWNERS)
        token = new_token()
        feed = CalendarFeed.create(actor.role, actor.id, token, self.clock.now())
        stored = transactionally(self.new_uow, lambda uow: uow.calendar_feeds.replace(feed))
        return NewFeed(stored, token, self.feed_url(token))

    def revoke_feed_as(self, actor: Actor) -> None:
        """The feed URL stops working at once (revoking when there is none is fine)."""
        require_role(actor, *OWNERS)
        transactionally(
            self.new_uow, lambda uow: uow.calendar_feeds.delete_of(actor.role, actor.id)
        )

    def feed_url(self, token: str) -> str:
        return f"{self.public_url}{FEED_PATH}{token}"

    @property
    def host(self) -> str:
        """The host events' UIDs end with (``appointment-12@<host>``)."""
        return urllib.parse.urlsplit(self.public_url).hostname or FALLBACK_HOST

    def feed(self, token: str) -> Feed:
        """The events of the feed of that token, for whoever holds it (an unknown, revoked or
        replaced token: ``CalendarFeedNotFound``)."""
        now = self.clock.now()
        since = window_start(now)

        def work(uow: CalendarUnitOfWork) -> Feed:
            found = uow.calendar_feeds.by_hash(token_hash(token)) if is_token(token) else None
            if found is None:
                raise CalendarFeedNotFound("no such calendar feed")
            if found.owner_role is Role.DOCTOR:
                events = self._doctor_events(uow, found.owner_id, since)
                return Feed("Clinics (medbook)", now, since, events)
            events = [
                *self._patient_appointments(uow, found.owner_id, since),
                *self._patient_orders(uow, found.owner_id, since),
            ]
            return Feed("Hospital appointments (medbook)", now, since, _in_order(events))

        return read_only(self.new_uow, work)

    # --- events ----------------------------------------------------------------------------------

    def _doctor_events(
        self, uow: CalendarUnitOfWork, doctor_id: int, since: dt.date
    ) -> list[CalendarEvent]:
        doctor = uow.doctors.get(doctor_id)
        hospital = uow.hospitals.get(doctor.hospital_id) if doctor and doctor.hospital_id else None
        department = (
            uow.departments.get(doctor.department_id) if doctor and doctor.department_id else None
        )
        venue = _Venue.of(hospital)
        events = []
        for a in uow.appointments.of_doctor(doctor_id, since=since):
            # No name, phone or id of the patient: the queue number is what the doctor calls.
            details = [
                f"{_PERIODS[a.period]} session, patient no. {a.number}.",
                f"{department.name}." if department else "",
                _cancelled_note(a),
            ]
            events.append(
                self._appointment_event(a, f"Clinic: patient no. {a.number}", details, venue)
            )
        return events

    def _patient_appointments(
        self, uow: CalendarUnitOfWork, patient_id: int, since: dt.date
    ) -> list[CalendarEvent]:
        found = uow.appointments.of_patient(patient_id, since=since)
        doctors = _each({a.doctor_id for a in found}, lambda i: uow.doctors.get(i))
        hospitals = uow.hospitals.many({d.hospital_id for d in doctors.values() if d.hospital_id})
        departments = _each(
            {d.department_id for d in doctors.values() if d.department_id},
            lambda i: uow.departments.get(i),
        )
        events = []
        for a in found:
            doctor = doctors.get(a.doctor_id)
            hospital = hospitals.get(doctor.hospital_id or 0) if doctor else None
            department = departments.get(doctor.department_id or 0) if doctor else None
            events.append(self._patient_appointment(a, doctor, department, hospital))
        return events

    def _patient_appointment(
        self,
        a: Appointment,
        doctor: Doctor | None,
        department: Department | None,
        hospital: Hospital | None,
    ) -> CalendarEvent:
        venue = _Venue.of(hospital)
        who = f"Dr. {doctor.name}" if doctor else "a doctor"
        summary = f"{department.name}: {who}" if department else f"Appointment with {who}"
        details = [
            ", ".join(p for p in (venue.name, department.name if department else "", who) if p)
            + ".",
            f"{_PERIODS[a.period]} session, queue number {a.number}.",
            _cancelled_note(a),
        ]
        return self._appointment_event(a, summary, details, venue)

    def _appointment_event(
        self, a: Appointment, summary: str, details: Sequence[str], venue: _Venue
    ) -> CalendarEvent:
        assert a.id is not None
        status, sequence = APPOINTMENT_LIFECYCLE[a.status]
        tz = zoneinfo.ZoneInfo(venue.timezone)
        return CalendarEvent(
            key=f"appointment-{a.id}",
            summary=summary,
            description="\n".join(d for d in details if d),
            start=self.policy.session_start(a.session, tz),
            end=self.policy.session_end(a.session, tz),
            location=venue.location_text,
            geo=venue.location,
            status=status,
            sequence=sequence,
            created=a.booked_at,
            last_modified=_appointment_changed(a),
        )

    def _patient_orders(
        self, uow: CalendarUnitOfWork, patient_id: int, since: dt.date
    ) -> list[CalendarEvent]:
        found = [o for o in uow.orders.of_patient(patient_id, limit=MAX_ORDERS) if o.date >= since]
        services = uow.care_services.many({o.service_id for o in found})
        hospitals = uow.hospitals.many({o.hospital_id for o in found})
        events = []
        for order in found:
            service = services.get(order.service_id)
            name = service.name if service else "Home-visit service"
            events.append(_order_event(order, name, _Venue.of(hospitals.get(order.hospital_id))))
        return events


def _order_event(order: ServiceOrder, name: str, venue: _Venue) -> CalendarEvent:
    assert order.id is not None
    status, sequence = ORDER_LIFECYCLE[order.status]
    at_home = order.place is Place.HOME
    where = "at home" if at_home else f"at {venue.name or 'the hospital'}"
    return CalendarEvent(
        key=f"order-{order.id}",
        summary=f"{name} ({where})",
        description="\n".join(
            [
                f"Order {order.id}, {order.status.value.replace('_', ' ')}.",
                f"Provided by {venue.name}." if venue.name else "",
            ]
        ).strip(),
        start=order.date,
        end=order.date + dt.timedelta(days=1),
        location=order.address if at_home else venue.location_text,
        geo=order.location if at_home else venue.location,
        status=status,
        sequence=sequence,
        created=order.created_at,
        last_modified=_order_changed(order),
    )


def _appointment_changed(a: Appointment) -> dt.datetime | None:
    """When the appointment's status last changed, where it keeps that (attended and no-show
    marks keep no time)."""
    if a.status is AppointmentStatus.BOOKED:
        return a.booked_at
    return a.cancelled_at


def _order_changed(order: ServiceOrder) -> dt.datetime | None:
    if order.status is OrderStatus.PENDING_PAYMENT:
        return order.created_at
    if order.status is OrderStatus.PAID:
        return order.paid_at
    return order.ended_at


def _cancelled_note(a: Appointment) -> str:
    if a.status is not AppointmentStatus.CANCELLED:
        return ""
    if a.cancelled_by is CancelledBy.DOCTOR_LEAVE:
        return "Cancelled: the doctor is on leave."
    return "Cancelled."


def _each(ids: Iterable[int], get: Callable[[int], T | None]) -> dict[int, T]:
    """Each of ``ids`` that exists, by id: one lookup per distinct id."""
    found = {i: get(i) for i in sorted(ids)}
    return {i: v for i, v in found.items() if v is not None}


def _in_order(events: list[CalendarEvent]) -> list[CalendarEvent]:
    """By the day each starts, then by start (all-day events first), then by key."""

    def key(e: CalendarEvent) -> tuple[dt.date, int, str, str]:
        if isinstance(e.start, dt.datetime):
            return (e.start.date(), 1, e.start.isoformat(), e.key)
        return (e.start, 0, "", e.key)

    return sorted(events, key=key)
