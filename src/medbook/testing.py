"""Hypothesis strategies for medbook's domain, and a state machine that runs against any adapter.

Hospital systems built on medbook reuse the strategies in their own property tests::

    from hypothesis import given
    from medbook.testing import weekly_schedules

    @given(weekly_schedules(max_quota=40))
    def test_roster_export_round_trips(schedule): ...

``BookingStateMachine`` books, cancels, takes leave, changes schedules and moves the clock at
random, and checks the booking invariants straight from the store after every step. Subclass it
with the unit-of-work factory of the adapter under test (see ``make_uow_factory``).

Needs the ``testing`` extra (``pip install medbook[testing]``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

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
    Doctor,
    Gender,
    GeoPoint,
    Hospital,
    OfferedSession,
    Period,
    Rank,
    Session,
    WeeklySchedule,
)
from medbook.domain.shared.calendar import MAX_QUOTA
from medbook.domain.shared.errors import (
    AlreadyBooked,
    AlreadyOnLeave,
    AppointmentNotFound,
    DailyLimitReached,
    DomainError,
    InvalidTransition,
    InvalidValue,
    NotCancellable,
    NotOffered,
    NotYetStarted,
    OutsideWindow,
    SessionFull,
)
from medbook.domain.shared.text import ADDRESS, SPECIALTY, STAFF_NUMBER, TextRule
from medbook.ports.booking_ledger import Places
from medbook.ports.unit_of_work import UnitOfWork
from medbook.services import BookingService, DirectoryService
from medbook.services.transactions import UnitOfWorkFactory

#: Real zones hospitals are generated in: China's two, neighbours, and a few with summer time.
HOSPITAL_TIMEZONES: tuple[str, ...] = (
    "Asia/Shanghai",
    "Asia/Urumqi",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Tokyo",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
)

# Hypothesis takes naive wall-clock bounds and adds the zone itself.
#: The bounds of ``aware_datetimes`` unless told otherwise.
EARLIEST = dt.datetime(2000, 1, 1)  # noqa: DTZ001
LATEST = dt.datetime(2099, 12, 31, 23, 59, 59)  # noqa: DTZ001

_NAMES = st.sampled_from(
    ("Ruijin Hospital", "北京协和医院", "华山医院", "West China Hospital", "St. Mary's")
)
_TEXT = st.characters(codec="utf-8", categories=("L", "N", "Zs", "Pd", "Po"))


def _accepted_by(rule: TextRule) -> Callable[[str], bool]:
    """Keeps the examples ``rule`` accepts (a letter may look blank, or grow under NFC)."""

    def accepted(text: str) -> bool:
        try:
            rule.check(text, "text")
        except InvalidValue:
            return False
        return True

    return accepted


_MORNING_STARTS = tuple(dt.time(hour, minute) for hour in range(7, 12) for minute in (0, 30))
_AFTERNOON_STARTS = tuple(dt.time(hour, minute) for hour in range(12, 16) for minute in (0, 30))


# --- strategies ----------------------------------------------------------------------------------


def periods() -> st.SearchStrategy[Period]:
    """Morning or afternoon."""
    return st.sampled_from(PERIODS)


def weekly_schedules(
    *, min_quota: int = 0, max_quota: int = MAX_QUOTA
) -> st.SearchStrategy[WeeklySchedule]:
    """Valid weekly schedules: 14 quotas from ``min_quota`` to ``max_quota`` (0 = session off).

    Small quotas (``max_quota=3``) make sessions fill up, which is where booking bugs live.
    """
    if not 0 <= min_quota <= max_quota <= MAX_QUOTA:
        raise ValueError(f"need 0 <= min_quota <= max_quota <= {MAX_QUOTA}")
    quotas = st.integers(min_quota, max_quota)
    return st.tuples(*[quotas] * 14).map(WeeklySchedule)


def booking_policies(
    *, min_window_days: int = 0, max_window_days: int = 60, max_cancel_deadline_hours: int = 48
) -> st.SearchStrategy[BookingPolicy]:
    """Policies a hospital could configure.

    A window of ``min_window_days`` to ``max_window_days`` days; mornings starting from 07:00 to
    11:30 and afternoons from 12:00 to 15:30, on the half-hour; a cancellation deadline of 0 to
    ``max_cancel_deadline_hours`` hours, by quarter-hours; 1 to 5 appointments a patient may hold
    on one date.
    """
    if not 0 <= min_window_days <= max_window_days <= 366:
        raise ValueError("need 0 <= min_window_days <= max_window_days <= 366")
    if max_cancel_deadline_hours < 0:
        raise ValueError("max_cancel_deadline_hours must not be negative")
    return st.builds(
        BookingPolicy,
        window_days=st.integers(min_window_days, max_window_days),
        morning_start=st.sampled_from(_MORNING_STARTS),
        afternoon_start=st.sampled_from(_AFTERNOON_STARTS),
        cancel_deadline=st.integers(0, 4 * max_cancel_deadline_hours).map(
            lambda n: dt.timedelta(minutes=15 * n)
        ),
        max_active_per_day=st.integers(1, 5),
    )


def geo_points() -> st.SearchStrategy[GeoPoint]:
    """Any WGS-84 position, poles and antimeridian included."""
    return st.builds(GeoPoint, lat=st.floats(-90.0, 90.0), lng=st.floats(-180.0, 180.0))


def hospital_names(max_size: int = 200) -> st.SearchStrategy[str]:
    """Non-blank names of at most ``max_size`` characters, real ones and Unicode ones."""
    made_up = st.text(_TEXT, min_size=1, max_size=max_size)
    return _NAMES | made_up.filter(_accepted_by(TextRule(max_size)))


def hospitals(*, timezones: Sequence[str] = HOSPITAL_TIMEZONES) -> st.SearchStrategy[Hospital]:
    """Unsaved hospitals (``id`` is None): a name, maybe an address and a location, a real zone."""
    return st.builds(
        Hospital,
        name=hospital_names(),
        address=st.text(_TEXT, max_size=120).filter(_accepted_by(ADDRESS)),
        location=st.none() | geo_points(),
        timezone=st.sampled_from(timezones),
    )


def sessions(
    *,
    doctor_ids: Sequence[int] | st.SearchStrategy[int] | None = None,
    start: dt.date | None = None,
    days: int = 28,
) -> st.SearchStrategy[Session]:
    """Sessions of the given doctors (any positive id by default).

    With ``start``, the dates are the ``days`` days from ``start`` on; without it, any date.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if doctor_ids is None:
        ids: st.SearchStrategy[int] = st.integers(1, 2**31 - 1)
    elif isinstance(doctor_ids, st.SearchStrategy):
        ids = doctor_ids
    else:
        ids = st.sampled_from(doctor_ids)
    if start is None:
        dates = st.dates()
    else:
        dates = st.dates(
            start, start + dt.timedelta(days=min(days - 1, (dt.date.max - start).days))
        )
    return st.builds(Session, ids, dates, periods())


def doctors(
    *, hospital_id: int = 1, department_id: int = 1, verified: bool | None = None
) -> st.SearchStrategy[Doctor]:
    """Unsaved doctors (``id`` is None) of that hospital and department, with full profiles."""
    return st.builds(
        Doctor,
        hospital_id=st.just(hospital_id),
        department_id=st.just(department_id),
        name=hospital_names(max_size=50),
        phone=phones(),
        rank=st.sampled_from(Rank),
        gender=st.none() | st.sampled_from(Gender),
        staff_number=st.none()
        | st.text(_TEXT, min_size=1, max_size=8).filter(_accepted_by(STAFF_NUMBER)),
        specialty=st.text(_TEXT, max_size=200).filter(_accepted_by(SPECIALTY)),
        birth_date=st.none() | st.dates(dt.date(1930, 1, 1), dt.date(2010, 12, 31)),
        avatar_url=st.none()
        | st.from_regex(r"https://cdn\.example\.com/[a-z0-9]{1,40}\.png", fullmatch=True),
        avatar_key=st.none() | st.from_regex(r"avatars/2026/11/[0-9a-f]{32}\.png", fullmatch=True),
        schedule=weekly_schedules(),
        verified=st.booleans() if verified is None else st.just(verified),
    )


@st.composite
def appointments(
    draw: st.DrawFn, *, doctor_id: int = 1, patient_ids: st.SearchStrategy[int] | None = None
) -> Appointment:
    """Unsaved appointments of that doctor in any status, with aware times."""
    session = draw(sessions(doctor_ids=[doctor_id]))
    patient_id = draw(patient_ids if patient_ids is not None else st.integers(1, 2**31 - 1))
    booked_at = draw(aware_datetimes())
    appointment = Appointment.book(session, patient_id, draw(st.integers(1, MAX_QUOTA)), booked_at)
    status = draw(st.sampled_from(AppointmentStatus))
    if status is AppointmentStatus.CANCELLED:
        appointment.cancel(draw(aware_datetimes()), draw(st.sampled_from(CancelledBy)))
    elif status is AppointmentStatus.ATTENDED:
        appointment.attend()
    elif status is AppointmentStatus.NO_SHOW:
        appointment.mark_no_show()
    return appointment


def phones() -> st.SearchStrategy[str]:
    """Mainland mobile numbers, ``^1[3-9]\\d{9}$`` with ASCII digits."""
    return st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


def aware_datetimes(
    *,
    min_value: dt.datetime = EARLIEST,
    max_value: dt.datetime = LATEST,
    timezones: st.SearchStrategy[dt.tzinfo] | None = None,
) -> st.SearchStrategy[dt.datetime]:
    """Timezone-aware instants that exist on the wall clock (no times skipped by summer time).

    ``min_value`` and ``max_value`` are naive wall-clock bounds; the zone is UTC, a hospital zone
    or any zone of the tz database unless ``timezones`` is given.
    """
    zones = timezones
    if zones is None:
        zones = st.one_of(
            st.just(dt.UTC),
            st.sampled_from(HOSPITAL_TIMEZONES).map(zoneinfo.ZoneInfo),
            st.timezones(),
        )
    return st.datetimes(min_value, max_value, timezones=zones, allow_imaginary=False)


# --- the state machine ---------------------------------------------------------------------------

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


class BookingStateMachine(RuleBasedStateMachine):
    """Random bookings, cancellations, leave, schedule changes and clock moves on one hospital.

    One hospital in Asia/Shanghai, two or three verified doctors with small quotas (0 to 3, so
    sessions fill up), four patients, and a policy drawn per example. Domain errors are expected
    outcomes (the machine checks that each one is justified); any other exception is a bug.

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
        self.leaves: set[Session] = set()
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

    def places(self, uow: UnitOfWork, session: Session) -> Places | None:
        ledger = uow.places.between(session.doctor_id, session.date, session.date)
        return ledger.get((session.date, session.period))

    def holding(self, uow: UnitOfWork, session: Session) -> list[Appointment]:
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
            and session not in self.leaves
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
        assert self.within_window(session, now), f"booked {session} outside the window at {now}"
        with self.new_uow() as uow:
            doctor_now = uow.doctors.get(session.doctor_id)
            assert doctor_now is not None
            scheduled = doctor_now.schedule.quota(session.date, period)
            assert scheduled > 0, f"{session} is off"
            assert session not in self.leaves, f"booked {session} during leave"
            holding = self.holding(uow, session)
            assert appointment.id in {a.id for a in holding}
        # Places held above a lowered quota are kept, never handed out again.
        assert len(holding) <= scheduled, (
            f"{session} is overbooked: {len(holding)} held, quota {scheduled}"
        )
        return appointment.id

    def check_booking_refused_for_a_reason(
        self, refusal: DomainError, patient_id: int, session: Session, now: dt.datetime
    ) -> None:
        with self.new_uow() as uow:
            doctor = uow.doctors.get(session.doctor_id)
            assert doctor is not None
            places = self.places(uow, session)
            held = uow.appointments.held_by(patient_id, session)
            count = uow.daily_counts.count(patient_id, session.date)
        quota = doctor.schedule.quota(session.date, session.period)
        reasons: dict[type[DomainError], bool] = {
            OutsideWindow: not self.within_window(session, now),
            NotOffered: quota <= 0 or session in self.leaves,
            AlreadyBooked: held is not None,
            DailyLimitReached: count >= self.policy.max_active_per_day,
            SessionFull: places is not None and places.booked >= places.quota,
        }
        assert reasons.get(type(refusal)), f"booking {session} refused for no reason: {refusal!r}"

    @rule(appointment_id=appointments, own=st.booleans(), other=st.sampled_from(PATIENT_IDS))
    def cancel(self, appointment_id: int, own: bool, other: int) -> None:
        before = self.stored(appointment_id)
        patient_id = before.patient_id if own else other
        now = self.clock.now()
        with self.new_uow() as uow:
            places_before = self.places(uow, before.session)
            count_before = uow.daily_counts.count(before.patient_id, before.date)
            doctor = uow.doctors.get(before.doctor_id)
        assert places_before is not None, f"{before.session} holds places but has no ledger"
        assert doctor is not None
        scheduled = doctor.schedule.quota(before.date, before.period)
        in_time = now < self.starts_at(before.session) - self.policy.cancel_deadline
        try:
            cancelled = self.booking.cancel(patient_id, appointment_id)
        except DomainError as refusal:
            event(f"cancel: {refusal.code}")
            reasons: dict[type[DomainError], bool] = {
                AppointmentNotFound: patient_id != before.patient_id,
                NotCancellable: before.status is not AppointmentStatus.BOOKED or not in_time,
            }
            assert reasons.get(type(refusal)), f"cancel refused for no reason: {refusal!r}"
            assert self.stored(appointment_id).status is before.status
            return
        event("cancel: cancelled")
        assert patient_id == before.patient_id, f"patient {patient_id} cancelled another's place"
        assert before.status is AppointmentStatus.BOOKED, f"cancelled a {before.status.value} place"
        assert in_time, f"cancelled {before.session} at {now}, after the deadline"
        assert cancelled.status is AppointmentStatus.CANCELLED
        assert (cancelled.cancelled_by, cancelled.cancelled_at) == (CancelledBy.PATIENT, now)
        assert self.stored(appointment_id).status is AppointmentStatus.CANCELLED
        with self.new_uow() as uow:
            places_after = self.places(uow, before.session)
            count_after = uow.daily_counts.count(before.patient_id, before.date)
        assert places_after is not None
        assert places_after.booked == places_before.booked - 1, "a cancellation freed no place"
        if places_before.booked <= scheduled:
            assert places_after.remaining == places_before.remaining + 1, "no place on offer again"
        else:  # held above a lowered quota: the place goes rather than back on offer
            assert places_after.remaining == 0, f"{places_after}, schedule quota {scheduled}"
        assert count_after == count_before - 1, "a cancellation left the daily count as it was"

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
        session = self.stored(appointment_id).session
        period = session.period
        now = self.clock.now()
        with self.new_uow() as uow:
            held_before = {a.id for a in self.holding(uow, session)}
            doctor_before = uow.doctors.get(session.doctor_id)
        assert doctor_before is not None
        try:
            taken = self.booking.take_leave(session.doctor_id, session.date, period)
        except DomainError as refusal:
            event(f"leave: {refusal.code}")
            reasons: dict[type[DomainError], bool] = {
                AlreadyOnLeave: session in self.leaves,
                OutsideWindow: now >= self.starts_at(session),
                NotOffered: doctor_before.schedule.quota(session.date, period) <= 0
                and not held_before,
            }
            assert reasons.get(type(refusal)), f"leave refused for no reason: {refusal!r}"
            with self.new_uow() as uow:
                assert {a.id for a in self.holding(uow, session)} == held_before
            return
        event(f"leave: taken, {len(taken.cancelled)} cancelled")
        assert session not in self.leaves, f"leave taken twice for {session}"
        assert now < self.starts_at(session), f"leave taken for {session} after its start"
        self.leaves.add(session)
        assert {a.id for a in taken.cancelled} == held_before
        for appointment in taken.cancelled:
            assert appointment.id is not None
            stored = self.stored(appointment.id)
            assert stored.status is AppointmentStatus.CANCELLED
            assert stored.cancelled_by is CancelledBy.DOCTOR_LEAVE

    @rule(appointment_id=appointments, attended=st.booleans())
    def record_attendance(self, appointment_id: int, attended: bool) -> None:
        before = self.stored(appointment_id)
        started = self.clock.now() >= self.starts_at(before.session)
        try:
            self.booking.record_attendance(before.doctor_id, appointment_id, attended)
        except DomainError as refusal:
            event(f"attendance: {refusal.code}")
            reasons: dict[type[DomainError], bool] = {
                NotYetStarted: not started,
                InvalidTransition: before.status is not AppointmentStatus.BOOKED,
            }
            assert reasons.get(type(refusal)), f"attendance refused for no reason: {refusal!r}"
            return
        event("attendance: recorded")
        assert started, f"attendance recorded before {before.session} started"
        assert before.status is AppointmentStatus.BOOKED, f"a {before.status.value} place attended"
        expected = AppointmentStatus.ATTENDED if attended else AppointmentStatus.NO_SHOW
        assert self.stored(appointment_id).status is expected

    @rule(step=CLOCK_STEPS)
    def move_clock(self, step: dt.timedelta) -> None:
        self.clock.advance(step)

    @rule(doctor=DOCTOR, schedule=weekly_schedules(max_quota=3))
    def change_schedule(self, doctor: int, schedule: WeeklySchedule) -> None:
        doctor_id = self.doctor_ids[doctor % len(self.doctor_ids)]
        self.directory.set_schedule(doctor_id, schedule)

    # --- invariants, read from the store after every step -----------------------------------------

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
                for session, appointments in grouped.items():
                    assert not _holding(appointments), f"{session} holds places but has no ledger"

    @invariant()
    def the_ledger_follows_the_schedule(self) -> None:
        """From today on a session's quota is the schedule's, or the places held when more."""
        with self.new_uow() as uow:
            for doctor_id in self.doctor_ids:
                doctor = uow.doctors.get(doctor_id)
                assert doctor is not None
                ledger = uow.places.between(doctor_id, self.today(), self.last_date())
                for (date, period), places in ledger.items():
                    wanted = max(doctor.schedule.quota(date, period), places.booked)
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
            with self.new_uow() as uow:
                doctor = uow.doctors.get(doctor_id)
            assert doctor is not None
            bookable = self.bookable_sessions(doctor_id, doctor.schedule)
            offered = {listed.session for listed in self.offered(doctor_id)}
            assert offered == bookable, (
                f"offered {offered - bookable}, missing {bookable - offered}"
            )

    @invariant()
    def offered_sessions_show_the_places_left(self) -> None:
        for doctor_id in self.doctor_ids:
            offered = self.offered(doctor_id)
            with self.new_uow() as uow:
                for listed in offered:
                    held = len(self.holding(uow, listed.session))
                    assert listed.booked == held, f"{listed} but {held} held"
                    assert listed.remaining == listed.quota - held, f"{listed} but {held} held"

    @invariant()
    def daily_counts_match_the_places_held(self) -> None:
        with self.new_uow() as uow:
            held: dict[tuple[int, dt.date], int] = defaultdict(int)
            for doctor_id in self.doctor_ids:
                for appointment in _holding(uow.appointments.of_doctor(doctor_id)):
                    held[(appointment.patient_id, appointment.date)] += 1
            for patient_id, date in self.days_tried | set(held):
                count = uow.daily_counts.count(patient_id, date)
                assert count == held[(patient_id, date)], f"patient {patient_id} on {date}"
                assert count <= self.policy.max_active_per_day, (
                    f"{patient_id} holds {count} on {date}"
                )

    @invariant()
    def leave_empties_the_session_for_good(self) -> None:
        with self.new_uow() as uow:
            for session in self.leaves:
                assert uow.leaves.exists(session), f"the leave for {session} was lost"
                assert not self.holding(uow, session), f"{session} holds places during leave"


__all__ = [
    "EARLIEST",
    "HOSPITAL_TIMEZONES",
    "LATEST",
    "BookingStateMachine",
    "UnitOfWorkFactory",
    "aware_datetimes",
    "booking_policies",
    "geo_points",
    "hospital_names",
    "hospitals",
    "periods",
    "phones",
    "sessions",
    "weekly_schedules",
]
