"""What each hospital sets for itself: its reminder times and its no-show rule (NULL columns: the
deployment's times; no rule). One row per hospital, its key the hospital's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, Row, String, Table, bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from medbook.adapters.sql.base import Repository
from medbook.adapters.sql.errors import is_duplicate_key
from medbook.adapters.sql.metadata import metadata
from medbook.domain.booking.attendance import HospitalPolicy, NoShowRule
from medbook.domain.booking.reminders import ReminderPolicy
from medbook.ports.transaction import TransientConflict

hospital_policies = Table(
    "hospital_policies",
    metadata,
    Column(
        "hospital_id", Integer, ForeignKey("hospitals.id"), primary_key=True, autoincrement=False
    ),
    Column("reminder_evening", String(5), nullable=True),  # HH:MM, local
    Column("reminder_before_minutes", Integer, nullable=True),
    Column("no_show_limit", Integer, nullable=True),
    Column("no_show_window_days", Integer, nullable=True),
    Column("no_show_block_days", Integer, nullable=True),
)


def _policy(row: Row[Any]) -> HospitalPolicy:
    reminders = None
    if row.reminder_evening is not None and row.reminder_before_minutes is not None:
        reminders = ReminderPolicy(
            dt.time.fromisoformat(row.reminder_evening),
            dt.timedelta(minutes=row.reminder_before_minutes),
        )
    no_shows = None
    if row.no_show_limit is not None:
        no_shows = NoShowRule(row.no_show_limit, row.no_show_window_days, row.no_show_block_days)
    return HospitalPolicy(row.hospital_id, reminders, no_shows)


def _row(policy: HospitalPolicy) -> dict[str, Any]:
    reminders, rule = policy.reminders, policy.no_shows
    return {
        "hospital_id": policy.hospital_id,
        "reminder_evening": reminders.evening_at.strftime("%H:%M") if reminders else None,
        "reminder_before_minutes": reminders.before_start_minutes if reminders else None,
        "no_show_limit": rule.limit if rule else None,
        "no_show_window_days": rule.window_days if rule else None,
        "no_show_block_days": rule.block_days if rule else None,
    }


#: Built once: every booking asks it (the hospital's no-show rule).
_ONE = select(hospital_policies).where(hospital_policies.c.hospital_id == bindparam("hospital"))


class SqlHospitalPolicies(Repository):
    def get(self, hospital_id: int) -> HospitalPolicy | None:
        row = self.connection.execute(_ONE, {"hospital": hospital_id}).first()
        return _policy(row) if row else None

    def many(self, hospital_ids: Iterable[int]) -> dict[int, HospitalPolicy]:
        wanted = sorted(set(hospital_ids))
        if not wanted:
            return {}
        query = select(hospital_policies).where(hospital_policies.c.hospital_id.in_(wanted))
        return {row.hospital_id: _policy(row) for row in self.connection.execute(query)}

    def save(self, policy: HospitalPolicy) -> None:
        self.connection.execute(
            delete(hospital_policies).where(hospital_policies.c.hospital_id == policy.hospital_id)
        )
        try:
            self._insert(hospital_policies, _row(policy))
        except IntegrityError as error:
            if not is_duplicate_key(error):
                raise
            # Another admin saved it between our delete and insert: run it all again.
            raise TransientConflict("the hospital's policy was saved meanwhile") from error
