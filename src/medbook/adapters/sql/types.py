"""Column types for medbook's value types, portable across SQLite and MySQL/MariaDB."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from medbook.domain import WeeklySchedule


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, stored as UTC without an offset (MySQL's DATETIME has none).

    Naive datetimes are refused on the way in: every time in medbook is timezone-aware.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("refusing to store a naive datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class ScheduleType(TypeDecorator[WeeklySchedule]):
    """A weekly schedule as its 14 quotas, comma-separated (Monday morning first)."""

    impl = String(14 * 4)
    cache_ok = True

    def process_bind_param(self, value: WeeklySchedule | None, dialect: Dialect) -> str | None:
        return None if value is None else ",".join(str(q) for q in value.quotas)

    def process_result_value(self, value: str | None, dialect: Dialect) -> WeeklySchedule | None:
        return None if value is None else WeeklySchedule(tuple(int(q) for q in value.split(",")))
