"""The checks a booking and a join of a waitlist share, holding the session's places row."""

from __future__ import annotations

import datetime as dt

from attrs import evolve

from medbook.domain.booking.attendance import ensure_not_blocked
from medbook.domain.booking.policy import (
    BookingPolicy,
    ensure_doctor_bookable,
    ensure_offered,
    ensure_within_window,
)
from medbook.domain.booking.sessions import OfferedSession
from medbook.domain.directory.model import Doctor
from medbook.domain.shared.calendar import Session
from medbook.ports.booking import BookingUnitOfWork
from medbook.ports.clock import Clock
from medbook.services.directory import doctor_in_zone


def _check_attendance_record(
    uow: BookingUnitOfWork, clock: Clock, doctor: Doctor, patient_id: int, tz: dt.tzinfo
) -> None:
    """The hospital's no-show rule, when it set one: a patient who missed too many of its
    appointments lately may not book there for a while."""
    if doctor.hospital_id is None:
        return
    policy = uow.hospital_policies.get(doctor.hospital_id)
    rule = policy.no_shows if policy is not None else None
    if rule is None:
        return
    today = clock.now().astimezone(tz).date()
    missed = uow.appointments.no_shows(patient_id, doctor.hospital_id, today - rule.lookback)
    ensure_not_blocked(rule, missed, today)


def check_session(
    uow: BookingUnitOfWork, policy: BookingPolicy, clock: Clock, session: Session
) -> tuple[Doctor, dt.tzinfo]:
    """A verified doctor (locked shared, before the session's places) and a session in the
    booking window: what every booking, join and first places row of a session asks."""
    doctor, tz = doctor_in_zone(uow, session.doctor_id, for_share=True)
    ensure_doctor_bookable(session.doctor_id, doctor.bookable)
    ensure_within_window(policy, session, clock.now(), tz)
    return doctor, tz


def check_bookable(
    uow: BookingUnitOfWork,
    policy: BookingPolicy,
    clock: Clock,
    session: Session,
    patient_id: int,
) -> tuple[Doctor, dt.tzinfo, OfferedSession | None]:
    """What a booking and a join of a waitlist ask first: a verified doctor, a session in the
    window, a patient the hospital's no-show rule does not block, and the session offered; then
    the session's places, locked (None, nothing locked, when the session has no row yet), with
    a quota the schedule decides."""
    doctor, tz = check_session(uow, policy, clock, session)
    _check_attendance_record(uow, clock, doctor, patient_id, tz)
    places = uow.places.try_lock(session)  # every change to a session's places queues here
    if places is None:
        return doctor, tz, None
    quota = doctor.schedule.quota(session.date, session.period)
    ensure_offered(session, quota, on_leave=uow.leaves.exists(session))
    taken = places.booked + places.held
    if places.quota != max(quota, taken):
        # The row was made from a schedule that has changed since (a race with set_schedule,
        # or a leave's row made with quota 0): the schedule decides.
        uow.places.resize(session, quota)
        places = evolve(places, quota=max(quota, taken))
    return doctor, tz, places
