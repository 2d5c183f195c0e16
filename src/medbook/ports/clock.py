from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Where the services learn the time; always timezone-aware."""

    def now(self) -> dt.datetime: ...
