"""The booking policy: named rules that decide when a session may be booked or cancelled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from attrs import field, frozen

from medbook.domain.shared.calendar import Period, Session
from medbook.domain.shared.errors import (
    DailyLimitReached,
    DoctorNotFound,
    InvalidValue,
    NotCancellable,
    NotOffered,
    NotYetStarted,
    OutsideWindow,
    WaitlistLimitReached,
)


def _aware(value: dt.datetime, name: str = "now") -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(name, "must be timezone-aware")
    return value


def _in_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValue(name, f"a whole number from {low} to {high}")


def _non_negative_delta(instance: object, attribute: object, value: dt.timedelta) -> None:
    if value < dt.timedelta(0):
        raise InvalidValue("cancel_deadline", "must not be negative")


def _waitlist_hold(instance: object, attribute: object, value: dt.timedelta) -> None:
    if not dt.timedelta(minutes=1) <= value <= dt.timedelta(hours=24):
        raise InvalidValue("waitlist_hold", "from 1 minute to 24 hours")


def _session_length(instance: object, attribute: object, value: dt.timedelta) -> None:
    if not dt.timedelta(minutes=15) <= value <= dt.timedelta(hours=12):
        raise InvalidValue("session_length", "from 15 minutes to 12 hours")


@frozen
class BookingPolicy:
    """The configurable numbers behind the booking rules.

    - ``window_days``: sessions open for booking from now until this many days ahead (the last
      bookable date is today + window_days, in the hospital's time zone).
    - ``morning_start`` / ``afternoon_start``: when sessions start, in the hospital's local time; a
      session closes for booking at its start.
    - ``cancel_deadline``: how long before a session's start a patient may still cancel (0 = until
      the start).
    - ``max_active_per_day``: how many active appointments one patient may hold on one date.
    - ``leave_horizon_days``: how far ahead a doctor may take a session off.
    - ``session_length``: how long a session runs from its start (4 hours: 08:00-12:00 and
      13:30-17:30); a morning ends when the afternoon starts at the latest, an afternoon at
      midnight. What calendars and FHIR slots show; booking rules look only at the start.
    - ``waitlist_hold``: how long a place freed in a full session is held for the first waiting
      patient it is offered to (15 minutes; never past the session's start).
    - ``max_waiting_per_day``: how many waitlists one patient may be on for one date.
    - One active appointment per patient per session of a doctor is not configurable.
    """

    window_days: int = field(
        default=14, validator=lambda i, a, v: _in_range("window_days", v, 0, 366)
    )
    morning_start: dt.time = dt.time(8, 0)
    afternoon_start: dt.time = dt.time(13, 30)
    cancel_deadline: dt.timedelta = field(default=dt.timedelta(0), validator=_non_negative_delta)
    max_active_per_day: int = field(
        default=3, validator=lambda i, a, v: _in_range("max_active_per_day", v, 1, 100)
    )
    leave_horizon_days: int = field(
        default=365, validator=lambda i, a, v: _in_range("leave_horizon_days", v, 0, 3660)
    )
    session_length: dt.timedelta = field(default=dt.timedelta(hours=4), validator=_session_length)
    waitlist_hold: dt.timedelta = field(default=dt.timedelta(minutes=15), validator=_waitlist_hold)
    max_waiting_per_day: int = field(
        default=3, validator=lambda i, a, v: _in_range("max_waiting_per_day", v, 1, 100)
    )

    def __attrs_post_init__(self) -> None:
        if not self.morning_start < self.afternoon_start:
            raise InvalidValue("afternoon_start", "the afternoon must start after the morning")

    def starts_at(self, period: Period) -> dt.time:
        return self.morning_start if period is Period.MORNING else self.afternoon_start

    def session_start(self, session: Session, tz: dt.tzinfo) -> dt.datetime:
        """The aware instant a session starts, in the hospital's time zone."""
        return dt.datetime.combine(session.date, self.starts_at(session.period), tzinfo=tz)

    def session_end(self, session: Session, tz: dt.tzinfo) -> dt.datetime:
        """The aware instant a session ends: ``session_length`` after its start (local wall
        time), a morning at the afternoon's start at the latest, an afternoon at midnight."""
        end = self.session_start(session, tz) + self.session_length
        if session.period is Period.MORNING:
            limit = dt.datetime.combine(session.date, self.afternoon_start, tzinfo=tz)
        else:
            limit = dt.datetime.combine(session.date + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        return min(end, limit)

    def last_bookable_date(self, now: dt.datetime, tz: dt.tzinfo) -> dt.date:
        return _aware(now).astimezone(tz).date() + dt.timedelta(days=self.window_days)

    def open_dates(self, now: dt.datetime, tz: dt.tzinfo) -> tuple[dt.date, dt.date]:
        """The first and last dates that may hold a bookable session."""
        return _aware(now).astimezone(tz).date(), self.last_bookable_date(now, tz)

    def is_bookable_time(self, session: Session, now: dt.datetime, tz: dt.tzinfo) -> bool:
        """``ensure_within_window`` as a question: the listing of sessions asks it."""
        return window_refusal(self, session, now, tz) is None

    def bookable_times(self, now: dt.datetime, tz: dt.tzinfo) -> Callable[[Session], bool]:
        """``is_bookable_time`` at one ``now``, for the many sessions of a listing: the window's
        dates are worked out once. A session on a later date than today (in ``tz``) starts after
        now, so only today's sessions need their start compared with now."""
        today, last = self.open_dates(now, tz)

        def is_open(session: Session) -> bool:
            if session.date == today:
                return self.is_bookable_time(session, now, tz)
            return today < session.date <= last

        return is_open


# --- the rules, each on its own ------------------------------------------------------------------


def ensure_doctor_bookable(doctor_id: int, verified: bool) -> None:
    """Only doctors their hospital has verified can be booked; to anyone else, an unverified
    doctor does not exist (the same answer as for an id that names nobody)."""
    if not verified:
        raise DoctorNotFound(f"no doctor {doctor_id}")


def window_refusal(
    policy: BookingPolicy, session: Session, now: dt.datetime, tz: dt.tzinfo
) -> OutsideWindow | None:
    """Why a session is outside the booking window, or None when it is inside: the window runs
    from now until ``window_days`` ahead, and a session closes at its start."""
    if _aware(now) >= policy.session_start(session, tz):
        return OutsideWindow(f"session {session} has started or is over", field="date")
    if session.date > policy.last_bookable_date(now, tz):
        return OutsideWindow(
            f"sessions can be booked at most {policy.window_days} days ahead",
            field="date",
            last_bookable_date=policy.last_bookable_date(now, tz).isoformat(),
        )
    return None


def ensure_within_window(
    policy: BookingPolicy, session: Session, now: dt.datetime, tz: dt.tzinfo
) -> None:
    """A session is bookable from now until ``window_days`` ahead, and closes at its start."""
    refusal = window_refusal(policy, session, now, tz)
    if refusal is not None:
        raise refusal


def ensure_leave_time(
    policy: BookingPolicy, session: Session, now: dt.datetime, tz: dt.tzinfo
) -> None:
    """A doctor takes a session off before it starts, and at most ``leave_horizon_days`` ahead
    (a leave years away is a typing error, not a plan)."""
    if _aware(now) >= policy.session_start(session, tz):
        raise OutsideWindow(f"session {session} has started or is over", field="date")
    last = _aware(now).astimezone(tz).date() + dt.timedelta(days=policy.leave_horizon_days)
    if session.date > last:
        raise OutsideWindow(
            f"leave can be taken at most {policy.leave_horizon_days} days ahead",
            field="date",
            last_date=last.isoformat(),
        )


def ensure_offered(session: Session, quota: int, on_leave: bool) -> None:
    """The doctor's schedule must switch the session on, and the doctor must not be on leave."""
    if on_leave:
        raise NotOffered(f"the doctor is on leave for session {session}", field="period")
    if quota <= 0:
        raise NotOffered(f"the doctor's schedule does not offer session {session}", field="period")


def ensure_daily_limit(policy: BookingPolicy, active_that_day: int) -> None:
    """A patient holds at most ``max_active_per_day`` active appointments on one date. (A booking
    gives the limit to the daily counter's conditional write, so that concurrent bookings cannot
    both pass, and raises ``daily_limit_reached`` when the write refuses.)"""
    if active_that_day >= policy.max_active_per_day:
        raise daily_limit_reached(policy)


def daily_limit_reached(policy: BookingPolicy) -> DailyLimitReached:
    """The refusal of a booking that would exceed the patient's appointments for that day."""
    return DailyLimitReached(
        f"at most {policy.max_active_per_day} appointments a day",
        limit=policy.max_active_per_day,
    )


def waitlist_limit_reached(policy: BookingPolicy) -> WaitlistLimitReached:
    """The refusal of a join that would put the patient on too many waitlists of one day."""
    return WaitlistLimitReached(
        f"at most {policy.max_waiting_per_day} waitlists a day",
        limit=policy.max_waiting_per_day,
    )


def ensure_session_started(
    policy: BookingPolicy, session: Session, now: dt.datetime, tz: dt.tzinfo
) -> None:
    """Attendance (attended or no-show) is recorded once the session has started."""
    if _aware(now) < policy.session_start(session, tz):
        raise NotYetStarted("attendance is recorded once the session has started")


def ensure_cancellable_time(
    policy: BookingPolicy, session: Session, now: dt.datetime, tz: dt.tzinfo
) -> None:
    """A patient may cancel until ``cancel_deadline`` before the session starts."""
    deadline = policy.session_start(session, tz) - policy.cancel_deadline
    if _aware(now) >= deadline:
        raise NotCancellable("too late to cancel this appointment", deadline=deadline.isoformat())
