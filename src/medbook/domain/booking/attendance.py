"""A hospital's rule for patients who do not come: after ``limit`` no-shows within
``window_days``, booking at that hospital is blocked for ``block_days``. Off unless the hospital
sets it (``HospitalPolicy.no_shows``).

A patient's record of no-shows is their appointments marked no-show (by the doctor or an admin,
once the session has started); the rule reads the dates of those at the hospital.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from attrs import field, frozen

from medbook.domain.booking.reminders import ReminderPolicy
from medbook.domain.shared.errors import BookingBlocked, InvalidValue


def _between(name: str, low: int, high: int) -> Callable[[object, object, int], None]:
    def check(instance: object, attribute: object, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidValue(name, f"a whole number from {low} to {high}")

    return check


@frozen
class NoShowRule:
    """``limit`` no-shows within ``window_days`` block booking for ``block_days``."""

    limit: int = field(validator=_between("no_shows.limit", 1, 20))
    window_days: int = field(validator=_between("no_shows.window_days", 1, 365))
    block_days: int = field(validator=_between("no_shows.block_days", 1, 365))

    @property
    def lookback(self) -> dt.timedelta:
        """How far back a no-show can still count towards a block that has not ended."""
        return dt.timedelta(days=self.window_days + self.block_days)


def blocked_until(
    rule: NoShowRule | None, no_shows: Iterable[dt.date], today: dt.date
) -> dt.date | None:
    """The first date the patient may book again, or None when they may book today. A block
    starts on the date of the no-show that makes ``limit`` within ``window_days`` (the first and
    the last of them less than ``window_days`` apart) and lasts ``block_days``."""
    if rule is None:
        return None
    dates = sorted(no_shows)
    ends = [
        dates[i] + dt.timedelta(days=rule.block_days)
        for i in range(rule.limit - 1, len(dates))
        if (dates[i] - dates[i - rule.limit + 1]).days < rule.window_days
    ]
    end = max(ends, default=None)
    return end if end is not None and today < end else None


def ensure_not_blocked(
    rule: NoShowRule | None, no_shows: Iterable[dt.date], today: dt.date
) -> None:
    """``blocked_until`` as a refusal (``booking_blocked``, naming the date booking reopens)."""
    until = blocked_until(rule, no_shows, today)
    if until is not None and rule is not None:
        raise BookingBlocked(
            f"{rule.limit} missed appointments within {rule.window_days} days: booking at this "
            f"hospital reopens on {until.isoformat()}",
            until=until.isoformat(),
        )


@frozen
class HospitalPolicy:
    """What a hospital sets for itself: its reminder times (None: the deployment's) and its
    no-show rule (None: off)."""

    hospital_id: int
    reminders: ReminderPolicy | None = None
    no_shows: NoShowRule | None = None
