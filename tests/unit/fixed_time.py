"""The fixed moment the unit tests stand at, and dates relative to it.

2026-11-25T00:30Z is Wednesday 08:30 in Shanghai: today's morning session (08:00) has started, today's
afternoon session (13:30) is still open, and the default 14-day window closes after 2026-12-09.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 25)  # a Wednesday, in Shanghai
TOMORROW = TODAY + dt.timedelta(days=1)
LAST_BOOKABLE = TODAY + dt.timedelta(days=14)


def local(date: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """An aware instant at a Shanghai wall-clock time."""
    return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=SHANGHAI)
