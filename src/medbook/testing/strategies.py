"""Hypothesis strategies for medbook's domain objects, for hospital systems' own property tests.

Import them from ``medbook.testing``::

    from hypothesis import given
    from medbook.testing import weekly_schedules

    @given(weekly_schedules(max_quota=40))
    def test_roster_export_round_trips(schedule): ...
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence

from hypothesis import strategies as st

from medbook.domain import (
    PERIODS,
    Appointment,
    AppointmentStatus,
    BookingPolicy,
    CancelledBy,
    Doctor,
    GeoPoint,
    Hospital,
    Period,
    Rank,
    Session,
    Sex,
    WeeklySchedule,
)
from medbook.domain.shared.calendar import MAX_QUOTA
from medbook.domain.shared.errors import InvalidValue
from medbook.domain.shared.text import ADDRESS, SPECIALTY, STAFF_NUMBER, TextRule

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
        gender=st.none() | st.sampled_from(Sex),
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


__all__ = [
    "EARLIEST",
    "HOSPITAL_TIMEZONES",
    "LATEST",
    "appointments",
    "aware_datetimes",
    "booking_policies",
    "doctors",
    "geo_points",
    "hospital_names",
    "hospitals",
    "periods",
    "phones",
    "sessions",
    "weekly_schedules",
]
