from __future__ import annotations

import datetime as dt

from attrs import define, field


def _aware(instance: object, attribute: object, value: dt.datetime) -> None:
    if value.tzinfo is None:
        raise ValueError("the clock's time must be timezone-aware")


@define
class ManualClock:
    """A clock that stands still until moved: for tests and demos."""

    current: dt.datetime = field(validator=_aware)

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, delta: dt.timedelta) -> None:
        self.current = self.current + delta

    def set(self, moment: dt.datetime) -> None:
        _aware(self, None, moment)
        self.current = moment
