"""What the unit tests share besides fixtures: the fixed moment they stand at, and small helpers.

2026-11-25T00:30Z is Wednesday 08:30 in Shanghai: today's morning session (08:00) has started,
today's afternoon session (13:30) is still open, and the default 14-day window closes after
2026-12-09.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Protocol

from medbook.adapters.memory import MemoryStore, MemoryUnitOfWork
from medbook.domain import Doctor, Period

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 25)  # a Wednesday, in Shanghai
TOMORROW = TODAY + dt.timedelta(days=1)
LAST_BOOKABLE = TODAY + dt.timedelta(days=14)


def local(date: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """An aware instant at a Shanghai wall-clock time."""
    return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=SHANGHAI)


#: ``make_doctor(schedule=None, *, verified=True, name="Dr Li")``: a stored doctor (see conftest).
MakeDoctor = Callable[..., Doctor]
#: ``daily_count(patient_id, date)``: the active appointments the store counts for that day.
DailyCount = Callable[[int, dt.date], int]
#: ``places_left(doctor_id, date, period)``: the places a patient is shown; None when not offered.
PlacesLeft = Callable[[int, dt.date, Period], int | None]


class HasId(Protocol):
    @property
    def id(self) -> int | None: ...


def ident(entity: HasId) -> int:
    """The id of a stored entity (which has one by then)."""
    assert entity.id is not None
    return entity.id


class Boom(Exception):
    """The failure injected halfway through a service call."""


def failing(
    store: MemoryStore, repository: str, method: str, after: int = 0
) -> Callable[[], MemoryUnitOfWork]:
    """A unit-of-work factory whose ``repository.method`` raises ``Boom`` after ``after`` calls."""
    calls = {"n": 0}

    def new_uow() -> MemoryUnitOfWork:
        uow = store.unit_of_work()
        target = getattr(uow, repository)
        real = getattr(target, method)

        def flaky(*args: object, **kwargs: object) -> object:
            calls["n"] += 1
            if calls["n"] > after:
                raise Boom(f"{repository}.{method} failed")
            return real(*args, **kwargs)

        setattr(target, method, flaky)
        return uow

    return new_uow
