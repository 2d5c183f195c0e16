"""Booking a doctor: offered sessions, book, cancel, leave, attendance, listings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TypeVar

from attrs import define, field, frozen

from medbook.domain import (
    Appointment,
    BookingPolicy,
    CancelledBy,
    Doctor,
    Leave,
    OfferedSession,
    Period,
    Session,
)
from medbook.domain.booking.attendance import HospitalPolicy, NoShowRule
from medbook.domain.booking.policy import (
    daily_limit_reached,
    ensure_cancellable_time,
    ensure_doctor_bookable,
    ensure_leave_time,
    ensure_offered,
    ensure_session_started,
)
from medbook.domain.booking.reminders import ReminderPolicy
from medbook.domain.booking.sessions import offered_between
from medbook.domain.booking.waitlist import WaitlistEntry, WaitlistStatus
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    AlreadyBooked,
    AppointmentNotFound,
    InvalidValue,
    NoOffer,
    NotOffered,
    SessionFull,
    WaitlistEntryNotFound,
)
from medbook.ports.booking import AppointmentView, BookingUnitOfWork
from medbook.ports.clock import Clock
from medbook.services.authorization import require_admin_of, require_role
from medbook.services.directory import doctor_in_zone, doctor_of, hospital_of
from medbook.services.sessions import check_bookable, check_session
from medbook.services.transactions import read_only, transactionally
from medbook.services.waitlist import Refused, clear, settle, unrefused

T = TypeVar("T")

#: The longest range ``offered_sessions`` answers for at once.
MAX_LISTING_DAYS = 92


@frozen
class LeaveTaken:
    """A leave and the appointments it cancelled (so their patients can be told)."""

    leave: Leave
    cancelled: tuple[Appointment, ...]
    #: The waitlist entries the leave cleared (their patients are told too).
    cleared: tuple[WaitlistEntry, ...] = ()

    @property
    def affected_patient_ids(self) -> tuple[int, ...]:
        return tuple(a.patient_id for a in self.cancelled)


@frozen
class SessionState:
    """One session of a doctor at any date: its places, whether it is open for booking now, and
    whether the doctor took it off."""

    places: OfferedSession
    open: bool
    on_leave: bool


def _leave_notice(appointment: Appointment, doctor: Doctor, now: dt.datetime) -> Notification:
    when = f"{appointment.date.isoformat()} {appointment.period.value}"
    return Notification(
        Role.PATIENT,
        appointment.patient_id,
        NotificationKind.APPOINTMENT_CANCELLED_BY_LEAVE,
        title="Your appointment was cancelled",
        body=f"{doctor.name} is on leave on {when}; your appointment (number "
        f"{appointment.number}) was cancelled. Please book another session.",
        created_at=now,
        data={
            "appointment_id": appointment.id,
            "doctor_id": appointment.doctor_id,
            "date": appointment.date.isoformat(),
            "period": appointment.period.value,
        },
    )


def _appointment(uow: BookingUnitOfWork, appointment: Appointment) -> Appointment:
    return appointment


def _view(uow: BookingUnitOfWork, appointment: Appointment) -> AppointmentView:
    assert appointment.id is not None
    view = uow.appointment_views.one(appointment.id)
    assert view is not None, "the appointment was just read in this transaction"
    return view


def _give_back(uow: BookingUnitOfWork, doctor: Doctor, places: OfferedSession, count: int) -> None:
    """Release ``count`` places; a quota kept above the schedule for held places shrinks back.

    Lowering a schedule's quota never takes a place from a patient (the ledger keeps the quota at
    the places held), so each place given back in such a session goes, not back on offer.
    """
    uow.places.release(places.session, count)
    scheduled = doctor.schedule.quota(places.session.date, places.session.period)
    if places.quota > scheduled:
        uow.places.resize(places.session, scheduled)


@define
class BookingService:
    new_uow: Callable[[], BookingUnitOfWork]
    clock: Clock
    policy: BookingPolicy = field(factory=BookingPolicy)

    # --- queries ---------------------------------------------------------------------------------

    def offered_sessions(
        self, doctor_id: int, start: dt.date | None = None, end: dt.date | None = None
    ) -> list[OfferedSession]:
        """The bookable sessions of a doctor from ``start`` to ``end``, with the places left.

        Without dates: the whole booking window, in the hospital's time zone.
        """
        if start is not None and end is not None:
            if end < start:
                raise InvalidValue("to", "must not be before from")
            if (end - start).days > MAX_LISTING_DAYS:
                raise InvalidValue("to", f"at most {MAX_LISTING_DAYS} days after from")

        def query(uow: BookingUnitOfWork) -> list[OfferedSession]:
            doctor, tz = doctor_in_zone(uow, doctor_id)
            ensure_doctor_bookable(doctor_id, doctor.bookable)  # as private as the profile
            now = self.clock.now()
            first, last = self.policy.open_dates(now, tz)
            lo, hi = max(start or first, first), min(end or last, last)
            if lo > hi:
                return []
            ledger, leaves = uow.places.calendar(doctor_id, lo, hi)
            return offered_between(
                doctor_id,
                doctor.schedule,
                lo,
                hi,
                leaves=leaves,
                ledger=ledger,
                is_open=self.policy.bookable_times(now, tz),
            )

        return read_only(self.new_uow, query)

    def session_state(self, session: Session) -> SessionState | None:
        """A session of a doctor anyone may see, past, present or beyond the window: its places
        (the ledger's, else the schedule's quota and none held), whether it is open for booking
        now (as ``offered_sessions`` would list it), and whether the doctor is on leave. None
        when the doctor keeps no such session (off in the schedule, and never booked)."""

        def query(uow: BookingUnitOfWork) -> SessionState | None:
            doctor, tz = doctor_in_zone(uow, session.doctor_id)
            ensure_doctor_bookable(session.doctor_id, doctor.bookable)
            ledger, leaves = uow.places.calendar(session.doctor_id, session.date, session.date)
            key = (session.date, session.period)
            quota = doctor.schedule.quota(session.date, session.period)
            on_leave = key in leaves
            held = ledger.get(key)
            if held is None and quota <= 0 and not on_leave:
                return None
            places = held or OfferedSession(session, quota, 0)
            is_open = (
                quota > 0
                and not on_leave
                and self.policy.is_bookable_time(session, self.clock.now(), tz)
            )
            return SessionState(places, is_open, on_leave)

        return read_only(self.new_uow, query)

    def appointment(self, appointment_id: int) -> Appointment:
        def query(uow: BookingUnitOfWork) -> Appointment:
            found = uow.appointments.get(appointment_id)
            if found is None:
                raise AppointmentNotFound(f"no appointment {appointment_id}")
            return found

        return read_only(self.new_uow, query)

    def appointments_of_patient(
        self, patient_id: int, date: dt.date | None = None
    ) -> Sequence[Appointment]:
        return read_only(self.new_uow, lambda uow: uow.appointments.of_patient(patient_id, date))

    def appointments_of_doctor(
        self, doctor_id: int, date: dt.date | None = None
    ) -> Sequence[Appointment]:
        return read_only(self.new_uow, lambda uow: uow.appointments.of_doctor(doctor_id, date))

    # --- commands --------------------------------------------------------------------------------

    def book(self, patient_id: int, doctor_id: int, date: dt.date, period: Period) -> Appointment:
        """Give the patient a place, with the next queue number, in that session of the doctor."""
        return self._booking(patient_id, Session(doctor_id, date, period), _appointment)

    def _booking(
        self,
        patient_id: int,
        session: Session,
        answer: Callable[[BookingUnitOfWork, Appointment], T],
        accepting: int | None = None,
    ) -> T:
        """Book in one transaction, and ``answer`` from inside it (the appointment, or its view).

        Every booking of a session queues on the session's places row. The first booking of a
        session finds no row: the row is made in a short transaction of its own, and the booking
        runs again, so that racing bookings only ever queue on an existing row lock, never
        collide on a duplicate insert. A refusal that follows the waitlist's own moves (an offer
        lapsed, a place offered to the waiting) commits those before it is raised.
        """

        def book(uow: BookingUnitOfWork) -> tuple[T] | Refused | None:
            outcome = self._book(uow, session, patient_id, accepting)
            if outcome is None or isinstance(outcome, Refused):
                return outcome
            return (answer(uow, outcome),)

        booked = transactionally(self.new_uow, book)
        if booked is None:
            transactionally(self.new_uow, lambda uow: self._prepare(uow, session))
            booked = transactionally(self.new_uow, book)
        answered = unrefused(booked)
        assert answered is not None, "the session's places row exists once prepared"
        return answered[0]

    def _prepare(self, uow: BookingUnitOfWork, session: Session) -> None:
        doctor, _ = check_session(uow, self.policy, self.clock, session)
        quota = doctor.schedule.quota(session.date, session.period)
        ensure_offered(session, quota, on_leave=uow.leaves.exists(session))
        uow.places.ensure(session, quota)

    def _book(
        self,
        uow: BookingUnitOfWork,
        session: Session,
        patient_id: int,
        accepting: int | None = None,
    ) -> Appointment | Refused | None:
        """The booking's statements, fewest first: None (nothing written) when the session has
        no places row yet. Lock order: the doctor (shared), the session's places, the patient's
        day counter. A session with a waitlist is settled first (``services.waitlist.settle``):
        the waiting come before a newcomer, and a patient holding an offer books its place.
        ``accepting``: the waitlist entry whose offer this booking must take."""
        doctor, tz, places = check_bookable(uow, self.policy, self.clock, session, patient_id)
        if places is None:
            return None
        offer = None
        if places.waiting or places.held:
            now = self.clock.now()
            start = self.policy.session_start(session, tz)
            settled = settle(uow, self.policy, doctor, places, start, now)
            if settled.places.held:
                entry = uow.waitlist.active_of(patient_id, session)
                offer = entry if entry is not None and entry.offer_open(now) else None
        if accepting is not None and (offer is None or offer.id != accepting):
            return Refused(NoOffer(f"waitlist entry {accepting} holds no open offer of a place"))
        if offer is not None:
            uow.places.withdraw(session)  # the place held for the offer becomes the booking's
        number = uow.places.take(session)
        if number is None:
            if uow.appointments.held_by(patient_id, session) is not None:
                return Refused(AlreadyBooked(f"you already hold a place in session {session}"))
            return Refused(SessionFull(f"session {session} is full"))
        # A second place of the patient in the session is refused by the insert (a unique key),
        # before the day's limit is asked: the same refusal as a read first would give.
        appointment = uow.appointments.add(
            Appointment.book(session, patient_id, number, self.clock.now())
        )
        if not uow.daily_counts.add(patient_id, session.date, self.policy.max_active_per_day):
            raise daily_limit_reached(self.policy)
        if offer is not None:
            assert appointment.id is not None
            offer.book(appointment.id, self.clock.now())
            uow.waitlist.save(offer)
            uow.daily_counts.release_waiting(patient_id, session.date)
        return appointment

    def cancel(self, patient_id: int, appointment_id: int) -> Appointment:
        """The patient gives their place back, before the cancellation deadline."""
        return self._cancelling(patient_id, appointment_id, _appointment)

    def _cancelling(
        self,
        patient_id: int,
        appointment_id: int,
        answer: Callable[[BookingUnitOfWork, Appointment], T],
    ) -> T:
        def work(uow: BookingUnitOfWork) -> T:
            found = uow.appointments.get(appointment_id)
            if found is None or found.patient_id != patient_id:
                raise AppointmentNotFound(f"no appointment {appointment_id}")
            places = uow.places.lock(found.session)
            appointment = uow.appointments.get(appointment_id)  # current, now that we hold the lock
            assert appointment is not None
            doctor, tz = doctor_in_zone(uow, appointment.doctor_id)
            now = self.clock.now()
            ensure_cancellable_time(self.policy, appointment.session, now, tz)
            appointment.cancel(now, CancelledBy.PATIENT)
            uow.appointments.save(appointment)
            _give_back(uow, doctor, places, 1)
            uow.daily_counts.release(patient_id, appointment.date)
            if places.waiting or places.held:  # the freed place goes to the first waiting
                start = self.policy.session_start(appointment.session, tz)
                settle(uow, self.policy, doctor, uow.places.lock(appointment.session), start, now)
            return answer(uow, appointment)

        return transactionally(self.new_uow, work)

    def take_leave(self, doctor_id: int, date: dt.date, period: Period) -> LeaveTaken:
        """The doctor takes a session off: its appointments are cancelled, their patients named."""
        session = Session(doctor_id, date, period)

        def prepare(uow: BookingUnitOfWork) -> None:
            doctor = doctor_of(uow, doctor_id)
            uow.places.ensure(session, doctor.schedule.quota(date, period))

        def work(uow: BookingUnitOfWork) -> LeaveTaken:
            doctor, tz = doctor_in_zone(uow, doctor_id, for_share=True)
            now = self.clock.now()
            ensure_leave_time(self.policy, session, now, tz)
            places = uow.places.lock(session)
            if doctor.schedule.quota(date, period) <= 0 and places.booked == 0:
                raise NotOffered(
                    f"the doctor's schedule does not offer session {session}", field="period"
                )
            leave = Leave(doctor_id, date, period)
            uow.leaves.add(leave)
            cancelled = []
            # Patient order: concurrent leaves on one date lock the daily counters in one order.
            for appointment in sorted(
                uow.appointments.holding(session), key=lambda a: a.patient_id
            ):
                appointment.cancel(now, CancelledBy.DOCTOR_LEAVE)
                uow.appointments.save(appointment)
                uow.daily_counts.release(appointment.patient_id, date)
                uow.notifications.add(_leave_notice(appointment, doctor, now))
                cancelled.append(appointment)
            _give_back(uow, doctor, places, len(cancelled))
            cleared = clear(uow, doctor, places, now)
            return LeaveTaken(leave, tuple(cancelled), cleared)

        transactionally(self.new_uow, prepare)
        return transactionally(self.new_uow, work)

    def record_attendance(self, doctor_id: int, appointment_id: int, attended: bool) -> Appointment:
        """After the session has started, the doctor marks an appointment attended or no-show."""
        return self._attendance(
            appointment_id, attended, lambda a, d: a.doctor_id == doctor_id, _appointment
        )

    def record_attendance_as(
        self, actor: Actor, appointment_id: int, attended: bool
    ) -> AppointmentView:
        """The appointment's doctor, or an admin of the doctor's hospital, marks it attended or
        no-show once the session has started; anyone else finds no such appointment."""
        require_role(actor, Role.DOCTOR, Role.ADMIN)

        def may(appointment: Appointment, doctor: Doctor) -> bool:
            if actor.role is Role.DOCTOR:
                return appointment.doctor_id == actor.id
            return doctor.hospital_id is not None and doctor.hospital_id == actor.hospital_id

        return self._attendance(appointment_id, attended, may, _view)

    def _attendance(
        self,
        appointment_id: int,
        attended: bool,
        may: Callable[[Appointment, Doctor], bool],
        answer: Callable[[BookingUnitOfWork, Appointment], T],
    ) -> T:
        def work(uow: BookingUnitOfWork) -> T:
            appointment = uow.appointments.get(appointment_id)
            if appointment is None:
                raise AppointmentNotFound(f"no appointment {appointment_id}")
            doctor, tz = doctor_in_zone(uow, appointment.doctor_id)
            if not may(appointment, doctor):
                raise AppointmentNotFound(f"no appointment {appointment_id}")
            ensure_session_started(self.policy, appointment.session, self.clock.now(), tz)
            if attended:
                appointment.attend()
            else:
                appointment.mark_no_show()
            uow.appointments.save(appointment)
            return answer(uow, appointment)

        return transactionally(self.new_uow, work)

    # --- a hospital's own policy -----------------------------------------------------------------

    def hospital_policy(self, hospital_id: int) -> HospitalPolicy:
        """What the hospital set for itself (nothing set: the deployment's reminder times and no
        no-show rule). Public: patients may read the rules that apply to them."""

        def query(uow: BookingUnitOfWork) -> HospitalPolicy:
            hospital_of(uow, hospital_id)
            return uow.hospital_policies.get(hospital_id) or HospitalPolicy(hospital_id)

        return read_only(self.new_uow, query)

    def set_hospital_policy_as(
        self,
        actor: Actor,
        hospital_id: int,
        reminders: ReminderPolicy | None,
        no_shows: NoShowRule | None,
    ) -> HospitalPolicy:
        """An admin of the hospital sets its reminder times and no-show rule (None: the
        deployment's times; no rule)."""
        require_admin_of(actor, hospital_id)
        policy = HospitalPolicy(hospital_id, reminders, no_shows)

        def work(uow: BookingUnitOfWork) -> HospitalPolicy:
            hospital_of(uow, hospital_id)
            uow.hospital_policies.save(policy)
            return policy

        return transactionally(self.new_uow, work)

    # --- as an authenticated actor ---------------------------------------------------------------

    def view(self, appointment: Appointment) -> AppointmentView:
        return read_only(self.new_uow, lambda uow: _view(uow, appointment))

    def book_as(
        self, actor: Actor, doctor_id: int, date: dt.date, period: Period
    ) -> AppointmentView:
        require_role(actor, Role.PATIENT)
        return self._booking(actor.id, Session(doctor_id, date, period), _view)

    def accept_offer(self, patient_id: int, entry_id: int) -> Appointment:
        """Book the place a waitlist offer holds for the patient, under the booking's rules, in
        one transaction; ``no_offer`` when the entry holds no open offer (its hold lapsed)."""
        session = self._offered_session(patient_id, entry_id)
        return self._booking(patient_id, session, _appointment, accepting=entry_id)

    def accept_offer_as(self, actor: Actor, entry_id: int) -> AppointmentView:
        require_role(actor, Role.PATIENT)
        session = self._offered_session(actor.id, entry_id)
        return self._booking(actor.id, session, _view, accepting=entry_id)

    def _offered_session(self, patient_id: int, entry_id: int) -> Session:
        def query(uow: BookingUnitOfWork) -> Session:
            found = uow.waitlist.get(entry_id)
            if found is None or found.patient_id != patient_id:
                raise WaitlistEntryNotFound(f"no waitlist entry {entry_id}")
            if found.status is not WaitlistStatus.OFFERED:  # the booking asks again, locked
                raise NoOffer(f"waitlist entry {entry_id} is {found.status.value}: no offer")
            return found.session

        return read_only(self.new_uow, query)

    def cancel_as(self, actor: Actor, appointment_id: int) -> AppointmentView:
        require_role(actor, Role.PATIENT)
        return self._cancelling(actor.id, appointment_id, _view)

    def appointments_as(
        self, actor: Actor, date: dt.date | None = None
    ) -> Sequence[AppointmentView]:
        """A patient's own appointments, or the ones a doctor will see (one query)."""
        require_role(actor, Role.PATIENT, Role.DOCTOR)

        def query(uow: BookingUnitOfWork) -> Sequence[AppointmentView]:
            if actor.role is Role.PATIENT:
                return uow.appointment_views.of_patient(actor.id, date)
            return uow.appointment_views.of_doctor(actor.id, date)

        return read_only(self.new_uow, query)

    def appointment_as(self, actor: Actor, appointment_id: int) -> AppointmentView:
        """One of the caller's appointments: a patient's own, or one with the doctor; anyone
        else's is as absent as an id that names none."""
        require_role(actor, Role.PATIENT, Role.DOCTOR)

        def query(uow: BookingUnitOfWork) -> AppointmentView | None:
            return uow.appointment_views.one(appointment_id)

        view = read_only(self.new_uow, query)
        if view is None or actor.id != (
            view.appointment.patient_id
            if actor.role is Role.PATIENT
            else view.appointment.doctor_id
        ):
            raise AppointmentNotFound(f"no appointment {appointment_id}")
        return view

    def take_leave_as(self, actor: Actor, date: dt.date, period: Period) -> LeaveTaken:
        require_role(actor, Role.DOCTOR)
        return self.take_leave(actor.id, date, period)


__all__ = ["AppointmentView", "BookingService", "LeaveTaken", "SessionState"]
