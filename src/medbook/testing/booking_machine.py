"""A state machine that books, cancels, takes leave, changes schedules and moves the clock at random
against any adapter, and checks the booking rules after every step.

Its oracle is its own model — what it asked for and what it was told, never what the store under
test says — so an adapter that answers a question wrongly (who holds a place, how many places are
left) cannot vouch for itself.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable

from attrs import define, field
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from medbook.adapters.memory.clock import ManualClock
from medbook.domain import (
    PERIODS,
    Appointment,
    AppointmentStatus,
    BookingPolicy,
    CancelledBy,
    OfferedSession,
    Period,
    Session,
    WeeklySchedule,
)
from medbook.domain.shared.errors import (
    AlreadyBooked,
    AlreadyOnLeave,
    AppointmentNotFound,
    DailyLimitReached,
    DomainError,
    InvalidTransition,
    NotCancellable,
    NotOffered,
    NotYetStarted,
    OutsideWindow,
    SessionFull,
)
from medbook.ports.unit_of_work import UnitOfWork
from medbook.services import BookingService, DirectoryService
from medbook.services.transactions import UnitOfWorkFactory
from medbook.testing.strategies import (
    aware_datetimes,
    booking_policies,
    periods,
    weekly_schedules,
)

TIMEZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
#: The machine's clock starts somewhere in these years.
MACHINE_EPOCH = dt.datetime(2024, 1, 1)  # noqa: DTZ001
MACHINE_EPOCH_END = dt.datetime(2030, 12, 31)  # noqa: DTZ001
PATIENT_IDS: tuple[int, ...] = (101, 102, 103, 104)
MAX_WINDOW_DAYS = 7
#: Booking and leave dates are drawn from yesterday to a little beyond the longest window.
DAYS_AHEAD = st.integers(-1, MAX_WINDOW_DAYS + 2)
#: Most bookings and leave go to a few sessions soon, so that sessions fill and daily limits bite.
SOON = st.integers(1, 2)
DOCTOR = st.integers(0, 2)  # an index into the machine's doctors, modulo their number
UNKNOWN_APPOINTMENT_ID = 2**31 - 1
CLOCK_STEPS = st.one_of(
    st.integers(1, 180).map(lambda n: dt.timedelta(minutes=n)),
    st.integers(1, 36).map(lambda n: dt.timedelta(hours=n)),
    st.integers(1, 3).map(lambda n: dt.timedelta(days=n)),
)


def _by_session(appointments: Iterable[Appointment]) -> dict[Session, list[Appointment]]:
    grouped: dict[Session, list[Appointment]] = defaultdict(list)
    for appointment in appointments:
        grouped[appointment.session].append(appointment)
    return grouped


def _holding(appointments: Iterable[Appointment]) -> list[Appointment]:
    return [a for a in appointments if a.holds_place]


@define
class ModelAppointment:
    """An appointment as the machine knows it: who booked which session, and what became of it."""

    patient_id: int
    session: Session
    status: AppointmentStatus = AppointmentStatus.BOOKED

    @property
    def holds_place(self) -> bool:
        return self.status is not AppointmentStatus.CANCELLED


@define
class BookingModel:
    """What the machine has done and been told, kept apart from the store under test.

    The machine decides whether a refusal was justified, and what must be true after a step, from
    this model alone; the store is only ever compared with it.
    """

    appointments: dict[int, ModelAppointment] = field(factory=dict)
    schedules: dict[int, WeeklySchedule] = field(factory=dict)
    leaves: set[Session] = field(factory=set)

    def booked(self, appointment_id: int, patient_id: int, session: Session) -> None:
        assert appointment_id not in self.appointments, f"id {appointment_id} handed out twice"
        self.appointments[appointment_id] = ModelAppointment(patient_id, session)

    def holding(self, session: Session) -> dict[int, ModelAppointment]:
        """The appointments holding a place in ``session``, by id."""
        return {
            appointment_id: appointment
            for appointment_id, appointment in self.appointments.items()
            if appointment.session == session and appointment.holds_place
        }

    def held_by(self, patient_id: int, session: Session) -> int | None:
        """The id of the appointment holding the patient's place in ``session``, if any."""
        held = [i for i, a in self.holding(session).items() if a.patient_id == patient_id]
        assert len(held) <= 1, f"the model has patient {patient_id} twice in {session}"
        return held[0] if held else None

    def held_on(self, patient_id: int, date: dt.date) -> int:
        """How many places the patient holds on ``date``."""
        return sum(
            1
            for appointment in self.appointments.values()
            if appointment.patient_id == patient_id
            and appointment.session.date == date
            and appointment.holds_place
        )

    def quota(self, session: Session) -> int:
        """The session's quota in the doctor's current schedule."""
        return self.schedules[session.doctor_id].quota(session.date, session.period)

    def places_left(self, session: Session) -> int:
        """Places a booking could take now (a quota lowered below the places held leaves none)."""
        return max(0, self.quota(session) - len(self.holding(session)))


class BookingStateMachine(RuleBasedStateMachine):
    """Random bookings, cancellations, leave, schedule changes and clock moves on one hospital.

    One hospital in Asia/Shanghai, two or three verified doctors with small quotas (0 to 3, so
    sessions fill up), four patients, and a policy drawn per example. Domain errors are expected
    outcomes: the machine checks that each one is justified by its own model (``self.model``:
    what each patient holds, the schedules, the leaves), never by asking the store under test. Any
    other exception is a bug.

    Subclass it and implement ``make_uow_factory``; if the factory holds resources (an engine, a
    file), release them in ``teardown``, which Hypothesis calls after every example, failed or
    not. For instance, with a fresh SQLite database per example::

        class SqliteBookingMachine(BookingStateMachine):
            def make_uow_factory(self) -> UnitOfWorkFactory:
                self.engine = make_engine("sqlite://")  # medbook.adapters.sql
                metadata.create_all(self.engine)  # medbook.adapters.sql.tables
                return lambda: SqlUnitOfWork(self.engine)

            def teardown(self) -> None:
                self.engine.dispose()
                super().teardown()

    Run it with ``hypothesis.stateful.run_state_machine_as_test(Subclass, settings=...)`` or
    ``TestSubclass = Subclass.TestCase``.
    """

    appointments: Bundle[int] = Bundle("appointments")

    clock: ManualClock
    policy: BookingPolicy
    directory: DirectoryService
    booking: BookingService
    first_date: dt.date

    def __init__(self) -> None:
        super().__init__()
        self.new_uow = self.make_uow_factory()
        self.doctor_ids: list[int] = []
        self.model = BookingModel()
        self.days_tried: set[tuple[int, dt.date]] = set()

    def make_uow_factory(self) -> UnitOfWorkFactory:
        """A factory of units of work over a fresh, empty store: called once per example."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_uow_factory")

    # --- set-up ----------------------------------------------------------------------------------

    @initialize(
        policy=booking_policies(
            min_window_days=1, max_window_days=MAX_WINDOW_DAYS, max_cancel_deadline_hours=6
        ),
        start=aware_datetimes(min_value=MACHINE_EPOCH, max_value=MACHINE_EPOCH_END),
        schedules=st.lists(weekly_schedules(max_quota=3), min_size=2, max_size=3),
    )
    def open_hospital(
        self, policy: BookingPolicy, start: dt.datetime, schedules: list[WeeklySchedule]
    ) -> None:
        self.clock = ManualClock(start)
        self.policy = policy
        self.directory = DirectoryService(self.new_uow, self.clock)
        self.booking = BookingService(self.new_uow, self.clock, policy)
        hospital = self.directory.add_hospital("Ruijin Hospital", timezone=TIMEZONE.key)
        assert hospital.id is not None
        department = self.directory.add_department(hospital.id, "Cardiology")
        assert department.id is not None
        for n, schedule in enumerate(schedules):
            doctor = self.directory.add_doctor(
                hospital.id, department.id, name=f"Dr {n}", phone=f"138{n:08d}"
            )
            assert doctor.id is not None
            self.directory.set_schedule(doctor.id, schedule)
            self.directory.set_verified(doctor.id, True)
            self.doctor_ids.append(doctor.id)
            self.model.schedules[doctor.id] = schedule
        self.first_date = self.today() - dt.timedelta(days=1)

    # --- helpers ---------------------------------------------------------------------------------

    def today(self) -> dt.date:
        return self.clock.now().astimezone(TIMEZONE).date()

    def last_date(self) -> dt.date:
        """No session the machine touches lies beyond this date."""
        return self.today() + dt.timedelta(days=MAX_WINDOW_DAYS + 2)

    def session(self, doctor: int, days_ahead: int, period: Period) -> Session:
        date = self.today() + dt.timedelta(days=days_ahead)
        return Session(self.doctor_ids[doctor % len(self.doctor_ids)], date, period)

    def starts_at(self, session: Session) -> dt.datetime:
        """Worked out here rather than by the policy, so that a wrong policy is caught."""
        start = self.policy.morning_start
        if session.period is Period.AFTERNOON:
            start = self.policy.afternoon_start
        return dt.datetime.combine(session.date, start, tzinfo=TIMEZONE)

    def within_window(self, session: Session, now: dt.datetime) -> bool:
        last = now.astimezone(TIMEZONE).date() + dt.timedelta(days=self.policy.window_days)
        return now < self.starts_at(session) and session.date <= last

    def places(self, uow: UnitOfWork, session: Session) -> OfferedSession | None:
        ledger = uow.places.between(session.doctor_id, session.date, session.date)
        return ledger.get((session.date, session.period))

    def holding(self, uow: UnitOfWork, session: Session) -> list[Appointment]:
        """The appointments the store says hold a place in ``session``."""
        appointments = uow.appointments.of_doctor(session.doctor_id, session.date)
        return [a for a in appointments if a.session == session and a.holds_place]

    def stored(self, appointment_id: int) -> Appointment:
        with self.new_uow() as uow:
            appointment = uow.appointments.get(appointment_id)
        assert appointment is not None, f"appointment {appointment_id} vanished"
        return appointment

    def offered(self, doctor_id: int) -> list[OfferedSession]:
        today = self.today()
        end = today + dt.timedelta(days=self.policy.window_days)
        return self.booking.offered_sessions(doctor_id, today, end)

    def bookable_sessions(self, doctor_id: int, schedule: WeeklySchedule) -> set[Session]:
        """What ``offered_sessions`` should list: from the schedule, the leaves and the clock."""
        now, today = self.clock.now(), self.today()
        candidates = (
            Session(doctor_id, today + dt.timedelta(days=n), period)
            for n in range(self.policy.window_days + 1)
            for period in PERIODS
        )
        return {
            session
            for session in candidates
            if schedule.quota(session.date, session.period) > 0
            and session not in self.model.leaves
            and self.within_window(session, now)
        }

    # --- rules -----------------------------------------------------------------------------------

    @rule(
        target=appointments,
        patient_id=st.sampled_from(PATIENT_IDS),
        doctor=DOCTOR,
        days_ahead=DAYS_AHEAD,
        period=periods(),
    )
    def book(
        self, patient_id: int, doctor: int, days_ahead: int, period: Period
    ) -> MultipleResults[int] | int:
        appointment_id = self.try_booking(patient_id, self.session(doctor, days_ahead, period))
        return multiple() if appointment_id is None else appointment_id

    @rule(
        target=appointments,
        patient_ids=st.lists(st.sampled_from(PATIENT_IDS), min_size=2, max_size=5),
        doctor=st.integers(0, 1),
        days_ahead=SOON,
        period=periods(),
    )
    def rush(
        self, patient_ids: list[int], doctor: int, days_ahead: int, period: Period
    ) -> MultipleResults[int]:
        """Several patients, maybe one of them twice, go for one session soon."""
        session = self.session(doctor, days_ahead, period)
        booked = [self.try_booking(patient_id, session) for patient_id in patient_ids]
        return multiple(
            *(appointment_id for appointment_id in booked if appointment_id is not None)
        )

    @rule(
        target=appointments,
        patient_id=st.sampled_from(PATIENT_IDS),
        doctor=DOCTOR,
        days_ahead=SOON,
        period=periods(),
    )
    def book_cancel_and_book_again(
        self, patient_id: int, doctor: int, days_ahead: int, period: Period
    ) -> MultipleResults[int]:
        """A patient books a session (or takes the place they hold), cancels, and books it again:
        a place given back may be taken again by the same patient, while places remain."""
        session = self.session(doctor, days_ahead, period)
        new: list[int] = []
        first = self.model.held_by(patient_id, session)
        if first is None:
            first = self.try_booking(patient_id, session)
            new += [] if first is None else [first]
        if first is None or not self.try_cancel(patient_id, first):
            return multiple(*new)
        places_left = self.model.places_left(session)
        again = self.try_booking(patient_id, session)
        if again is None:
            assert places_left == 0, (
                f"patient {patient_id} cancelled {session} and could not book it again, "
                f"with {places_left} places left"
            )
            return multiple(*new)
        event("book, cancel, book again: booked again")
        return multiple(*new, again)

    def try_booking(self, patient_id: int, session: Session) -> int | None:
        """The new appointment's id, or None when the booking was (rightly) refused."""
        period = session.period
        now = self.clock.now()
        self.days_tried.add((patient_id, session.date))
        try:
            appointment = self.booking.book(patient_id, session.doctor_id, session.date, period)
        except DomainError as refusal:
            event(f"book: {refusal.code}")
            self.check_booking_refused_for_a_reason(refusal, patient_id, session, now)
            return None
        event("book: booked")
        assert (appointment.patient_id, appointment.session) == (patient_id, session)
        assert appointment.status is AppointmentStatus.BOOKED and appointment.booked_at == now
        assert appointment.id is not None
        assert self.within_window(session, now), f"booked {session} outside the window at {now}"
        scheduled = self.model.quota(session)
        assert scheduled > 0, f"{session} is off"
        assert session not in self.model.leaves, f"booked {session} during leave"
        held = self.model.held_by(patient_id, session)
        assert held is None, f"patient {patient_id} booked {session} while holding {held}"
        held_that_day = self.model.held_on(patient_id, session.date)
        assert held_that_day < self.policy.max_active_per_day, (
            f"patient {patient_id} booked a place beyond the daily limit on {session.date}"
        )
        # Places held above a lowered quota are kept, never handed out again.
        assert self.model.places_left(session) > 0, (
            f"{session} is overbooked: {len(self.model.holding(session))} held before, "
            f"quota {scheduled}"
        )
        self.model.booked(appointment.id, patient_id, session)
        with self.new_uow() as uow:
            holding = self.holding(uow, session)
        assert appointment.id in {a.id for a in holding}
        return appointment.id

    def check_booking_refused_for_a_reason(
        self, refusal: DomainError, patient_id: int, session: Session, now: dt.datetime
    ) -> None:
        """Every reason is the model's, so a store that misreports what is held is caught."""
        quota = self.model.quota(session)
        reasons: dict[type[DomainError], bool] = {
            OutsideWindow: not self.within_window(session, now),
            NotOffered: quota <= 0 or session in self.model.leaves,
            AlreadyBooked: self.model.held_by(patient_id, session) is not None,
            DailyLimitReached: (
                self.model.held_on(patient_id, session.date) >= self.policy.max_active_per_day
            ),
            SessionFull: self.model.places_left(session) == 0,
        }
        assert reasons.get(type(refusal)), f"booking {session} refused for no reason: {refusal!r}"

    @rule(appointment_id=appointments, own=st.booleans(), other=st.sampled_from(PATIENT_IDS))
    def cancel(self, appointment_id: int, own: bool, other: int) -> None:
        owner = self.model.appointments[appointment_id].patient_id
        self.try_cancel(owner if own else other, appointment_id)

    def try_cancel(self, patient_id: int, appointment_id: int) -> bool:
        """Whether the patient cancelled the appointment (or was, rightly, refused)."""
        before = self.model.appointments[appointment_id]
        before_status, session = before.status, before.session
        now = self.clock.now()
        with self.new_uow() as uow:
            places_before = self.places(uow, session)
            count_before = uow.daily_counts.count(before.patient_id, session.date)
        assert places_before is not None, f"{session} holds places but has no ledger"
        scheduled = self.model.quota(session)
        in_time = now < self.starts_at(session) - self.policy.cancel_deadline
        try:
            cancelled = self.booking.cancel(patient_id, appointment_id)
        except DomainError as refusal:
            event(f"cancel: {refusal.code}")
            reasons: dict[type[DomainError], bool] = {
                AppointmentNotFound: patient_id != before.patient_id,
                NotCancellable: before_status is not AppointmentStatus.BOOKED or not in_time,
            }
            assert reasons.get(type(refusal)), f"cancel refused for no reason: {refusal!r}"
            assert self.stored(appointment_id).status is before_status
            return False
        event("cancel: cancelled")
        assert patient_id == before.patient_id, f"patient {patient_id} cancelled another's place"
        assert before_status is AppointmentStatus.BOOKED, f"cancelled a {before_status.value} place"
        assert in_time, f"cancelled {session} at {now}, after the deadline"
        assert cancelled.status is AppointmentStatus.CANCELLED
        assert (cancelled.cancelled_by, cancelled.cancelled_at) == (CancelledBy.PATIENT, now)
        before.status = AppointmentStatus.CANCELLED
        assert self.stored(appointment_id).status is AppointmentStatus.CANCELLED
        with self.new_uow() as uow:
            places_after = self.places(uow, session)
            count_after = uow.daily_counts.count(before.patient_id, session.date)
        assert places_after is not None
        assert places_after.booked == places_before.booked - 1, "a cancellation freed no place"
        if places_before.booked <= scheduled:
            assert places_after.remaining == places_before.remaining + 1, "no place on offer again"
        else:  # held above a lowered quota: the place goes rather than back on offer
            assert places_after.remaining == 0, f"{places_after}, schedule quota {scheduled}"
        assert count_after == count_before - 1, "a cancellation left the daily count as it was"
        return True

    @rule(patient_id=st.sampled_from(PATIENT_IDS))
    def cancel_unknown(self, patient_id: int) -> None:
        try:
            self.booking.cancel(patient_id, UNKNOWN_APPOINTMENT_ID)
        except AppointmentNotFound:
            return
        raise AssertionError("cancelled an appointment that does not exist")

    @rule(appointment_id=appointments)
    def take_leave(self, appointment_id: int) -> None:
        """The doctor takes off a session that someone booked (maybe since cancelled)."""
        session = self.model.appointments[appointment_id].session
        period = session.period
        now = self.clock.now()
        held_before = self.model.holding(session)
        try:
            taken = self.booking.take_leave(session.doctor_id, session.date, period)
        except DomainError as refusal:
            event(f"leave: {refusal.code}")
            reasons: dict[type[DomainError], bool] = {
                AlreadyOnLeave: session in self.model.leaves,
                OutsideWindow: now >= self.starts_at(session),
                NotOffered: self.model.quota(session) <= 0 and not held_before,
            }
            assert reasons.get(type(refusal)), f"leave refused for no reason: {refusal!r}"
            with self.new_uow() as uow:
                assert {a.id for a in self.holding(uow, session)} == set(held_before)
            return
        event(f"leave: taken, {len(taken.cancelled)} cancelled")
        assert session not in self.model.leaves, f"leave taken twice for {session}"
        assert now < self.starts_at(session), f"leave taken for {session} after its start"
        self.model.leaves.add(session)
        assert {a.id for a in taken.cancelled} == set(held_before)
        for held in held_before.values():
            held.status = AppointmentStatus.CANCELLED
        for appointment in taken.cancelled:
            assert appointment.id is not None
            stored = self.stored(appointment.id)
            assert stored.status is AppointmentStatus.CANCELLED
            assert stored.cancelled_by is CancelledBy.DOCTOR_LEAVE

    @rule(appointment_id=appointments, attended=st.booleans())
    def record_attendance(self, appointment_id: int, attended: bool) -> None:
        before = self.model.appointments[appointment_id]
        before_status = before.status
        started = self.clock.now() >= self.starts_at(before.session)
        try:
            self.booking.record_attendance(before.session.doctor_id, appointment_id, attended)
        except DomainError as refusal:
            event(f"attendance: {refusal.code}")
            reasons: dict[type[DomainError], bool] = {
                NotYetStarted: not started,
                InvalidTransition: before_status is not AppointmentStatus.BOOKED,
            }
            assert reasons.get(type(refusal)), f"attendance refused for no reason: {refusal!r}"
            return
        event("attendance: recorded")
        assert started, f"attendance recorded before {before.session} started"
        assert before_status is AppointmentStatus.BOOKED, f"a {before_status.value} place attended"
        before.status = AppointmentStatus.ATTENDED if attended else AppointmentStatus.NO_SHOW
        assert self.stored(appointment_id).status is before.status

    @rule(step=CLOCK_STEPS)
    def move_clock(self, step: dt.timedelta) -> None:
        self.clock.advance(step)

    @rule(doctor=DOCTOR, schedule=weekly_schedules(max_quota=3))
    def change_schedule(self, doctor: int, schedule: WeeklySchedule) -> None:
        doctor_id = self.doctor_ids[doctor % len(self.doctor_ids)]
        self.directory.set_schedule(doctor_id, schedule)
        self.model.schedules[doctor_id] = schedule

    # --- invariants, read from the store after every step -----------------------------------------

    @invariant()
    def the_store_holds_what_the_model_holds(self) -> None:
        """Every appointment, its patient, session and status are as the machine was told; and the
        store names the place each patient holds (and none once cancelled) as the model does."""
        expected = {
            appointment_id: (a.patient_id, a.session, a.status)
            for appointment_id, a in self.model.appointments.items()
        }
        with self.new_uow() as uow:
            stored = {
                a.id: (a.patient_id, a.session, a.status)
                for doctor_id in self.doctor_ids
                for a in uow.appointments.of_doctor(doctor_id)
            }
            assert stored == expected, f"the store holds {stored}, the model {expected}"
            for patient_id, session, _ in set(expected.values()):
                held = uow.appointments.held_by(patient_id, session)
                wanted = self.model.held_by(patient_id, session)
                assert (None if held is None else held.id) == wanted, (
                    f"held_by({patient_id}, {session}) gave {held}, but the place held is {wanted}"
                )
            for doctor_id, schedule in self.model.schedules.items():
                doctor = uow.doctors.get(doctor_id)
                assert doctor is not None and doctor.schedule == schedule, f"doctor {doctor_id}"

    @invariant()
    def no_session_is_overbooked(self) -> None:
        with self.new_uow() as uow:
            for doctor_id in self.doctor_ids:
                ledger = uow.places.between(doctor_id, self.first_date, self.last_date())
                grouped = _by_session(uow.appointments.of_doctor(doctor_id))
                for places in ledger.values():
                    holding = _holding(grouped.pop(places.session, []))
                    assert places.booked <= places.quota, (
                        f"{places.session} is overbooked: {places}"
                    )
                    assert places.booked == len(holding), f"{places} but {len(holding)} held"
                    model_held = len(self.model.holding(places.session))
                    assert places.booked == model_held, f"{places} but the model holds {model_held}"
                for session, appointments in grouped.items():
                    assert not _holding(appointments), f"{session} holds places but has no ledger"

    @invariant()
    def the_ledger_follows_the_schedule(self) -> None:
        """From today on a session's quota is the schedule's, or the places held when more."""
        with self.new_uow() as uow:
            for doctor_id in self.doctor_ids:
                schedule = self.model.schedules[doctor_id]
                ledger = uow.places.between(doctor_id, self.today(), self.last_date())
                for (date, period), places in ledger.items():
                    wanted = max(schedule.quota(date, period), places.booked)
                    assert places.quota == wanted, f"{places}, but the schedule asks for {wanted}"

    @invariant()
    def a_patient_holds_one_place_per_session(self) -> None:
        with self.new_uow() as uow:
            for doctor_id in self.doctor_ids:
                for session, appointments in _by_session(
                    uow.appointments.of_doctor(doctor_id)
                ).items():
                    holding = sorted(_holding(appointments), key=lambda a: a.number)
                    patients = [a.patient_id for a in holding]
                    assert len(patients) == len(set(patients)), f"{session}: twice in {patients}"
                    listed = [a.id for a in uow.appointments.holding(session)]
                    assert listed == [a.id for a in holding], f"{session}: holding() disagrees"

    @invariant()
    def queue_numbers_are_unique_within_a_session(self) -> None:
        with self.new_uow() as uow:
            for doctor_id in self.doctor_ids:
                for session, appointments in _by_session(
                    uow.appointments.of_doctor(doctor_id)
                ).items():
                    numbers = [a.number for a in appointments]
                    assert len(numbers) == len(set(numbers)), f"{session}: numbers {numbers}"
                    assert min(numbers) >= 1

    @invariant()
    def exactly_the_bookable_sessions_are_offered(self) -> None:
        for doctor_id in self.doctor_ids:
            bookable = self.bookable_sessions(doctor_id, self.model.schedules[doctor_id])
            offered = {listed.session for listed in self.offered(doctor_id)}
            assert offered == bookable, (
                f"offered {offered - bookable}, missing {bookable - offered}"
            )

    @invariant()
    def offered_sessions_show_the_places_left(self) -> None:
        for doctor_id in self.doctor_ids:
            for listed in self.offered(doctor_id):
                held = len(self.model.holding(listed.session))
                assert listed.booked == held, f"{listed} but {held} held"
                assert listed.remaining == listed.quota - held, f"{listed} but {held} held"

    @invariant()
    def daily_counts_match_the_places_held(self) -> None:
        with self.new_uow() as uow:
            days = self.days_tried | {
                (a.patient_id, a.session.date) for a in self.model.appointments.values()
            }
            for patient_id, date in days:
                count = uow.daily_counts.count(patient_id, date)
                held = self.model.held_on(patient_id, date)
                assert count == held, f"patient {patient_id} on {date}: {count}, holds {held}"
                assert count <= self.policy.max_active_per_day, (
                    f"{patient_id} holds {count} on {date}"
                )

    @invariant()
    def leave_empties_the_session_for_good(self) -> None:
        with self.new_uow() as uow:
            for session in self.model.leaves:
                assert uow.leaves.exists(session), f"the leave for {session} was lost"
                assert not self.holding(uow, session), f"{session} holds places during leave"


__all__ = [
    "CLOCK_STEPS",
    "DAYS_AHEAD",
    "DOCTOR",
    "MACHINE_EPOCH",
    "MACHINE_EPOCH_END",
    "MAX_WINDOW_DAYS",
    "PATIENT_IDS",
    "SOON",
    "TIMEZONE",
    "UNKNOWN_APPOINTMENT_ID",
    "BookingModel",
    "BookingStateMachine",
    "ModelAppointment",
    "UnitOfWorkFactory",
]
