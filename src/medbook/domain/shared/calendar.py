"""The calendar every context shares: periods, sessions, and a doctor's weekly schedule."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping

from attrs import field, frozen

from medbook.domain.shared.errors import InvalidValue

WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

#: The largest quota a single session may have; a guard against typos, not a clinical rule.
MAX_QUOTA = 500


class Period(enum.Enum):
    """Half of a working day: every session is a date plus a period."""

    MORNING = "morning"
    AFTERNOON = "afternoon"


PERIODS: tuple[Period, ...] = (Period.MORNING, Period.AFTERNOON)


def _check_quotas(instance: WeeklySchedule, attribute: object, value: tuple[int, ...]) -> None:
    if len(value) != 2 * len(WEEKDAYS):
        raise InvalidValue("schedule", "a schedule has a morning and an afternoon for all 7 days")
    for index, quota in enumerate(value):
        if isinstance(quota, bool) or not isinstance(quota, int) or not 0 <= quota <= MAX_QUOTA:
            day, period = WEEKDAYS[index // 2], PERIODS[index % 2].value
            raise InvalidValue(
                f"schedule.{day}.{period}", f"a quota is a whole number from 0 to {MAX_QUOTA}"
            )


@frozen
class WeeklySchedule:
    """How many patients a doctor sees in each session of the week; 0 means the session is off.

    Stored as 14 quotas: Monday morning, Monday afternoon, Tuesday morning, … Sunday afternoon.
    """

    quotas: tuple[int, ...] = field(validator=_check_quotas)

    @classmethod
    def off(cls) -> WeeklySchedule:
        return cls((0,) * 14)

    @classmethod
    def every_day(cls, morning: int, afternoon: int) -> WeeklySchedule:
        return cls((morning, afternoon) * 7)

    @classmethod
    def from_mapping(cls, days: Mapping[str, Mapping[str, int]]) -> WeeklySchedule:
        """Build from ``{"monday": {"morning": 20, "afternoon": 0}, …}``, every day given."""
        unknown = set(days) - set(WEEKDAYS)
        if unknown:
            raise InvalidValue(f"schedule.{sorted(unknown)[0]}", "not a day of the week")
        quotas: list[int] = []
        for day in WEEKDAYS:
            if day not in days:
                raise InvalidValue(f"schedule.{day}", "every day of the week must be given")
            periods = days[day]
            extra = set(periods) - {p.value for p in PERIODS}
            if extra:
                raise InvalidValue(f"schedule.{day}.{sorted(extra)[0]}", "not a period")
            for period in PERIODS:
                if period.value not in periods:
                    raise InvalidValue(f"schedule.{day}.{period.value}", "missing")
                quotas.append(periods[period.value])
        return cls(tuple(quotas))

    def to_mapping(self) -> dict[str, dict[str, int]]:
        return {
            day: {period.value: self.quotas[2 * i + j] for j, period in enumerate(PERIODS)}
            for i, day in enumerate(WEEKDAYS)
        }

    def quota(self, date: dt.date, period: Period) -> int:
        """The quota of that period on that date's weekday (0 when off)."""
        return self.quotas[2 * date.weekday() + PERIODS.index(period)]


@frozen
class Session:
    """One period of one date of one doctor: the unit patients book."""

    doctor_id: int
    date: dt.date
    period: Period

    def __str__(self) -> str:
        return f"doctor {self.doctor_id}, {self.date.isoformat()} {self.period.value}"
