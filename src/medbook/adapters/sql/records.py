"""The health file's tables and repositories: vital signs and the access log.

A vital sign's values are stored as whole tenths (every quantity has at most one decimal place),
exactly, on SQLite and MySQL alike: ``value_tenths`` holds the kind's first field (systolic, or
the value), ``second_tenths`` its second (diastolic) when it has one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, Row, String, Table, Text, select

from medbook.adapters.sql.base import Repository
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.records.access import AccessEntry, AccessKind
from medbook.domain.records.vitals import KINDS, GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.actors import Role

vital_signs = Table(
    "vital_signs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Integer, ForeignKey("patients.id"), nullable=False),
    Column("kind", value_enum(VitalKind, "vital_kind"), nullable=False),
    Column("context", value_enum(GlucoseContext, "glucose_context"), nullable=True),
    Column("value_tenths", Integer, nullable=False),
    Column("second_tenths", Integer, nullable=True),
    Column("measured_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index(None, "patient_id", "kind", "measured_at"),
    Index(None, "patient_id", "measured_at"),
)

access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Integer, ForeignKey("patients.id"), nullable=False),
    Column("reader_role", value_enum(Role, "role"), nullable=False),
    Column("reader_id", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("detail", Text, nullable=False),  # JSON
    Column("at", UtcDateTime, nullable=False),
    Index(None, "patient_id", "id"),
)

TENTH = Decimal("0.1")


def _tenths(value: Decimal) -> int:
    return int(value * 10)


def _vital_to_row(vital: VitalSign) -> dict[str, Any]:
    names = list(KINDS[vital.kind].fields)
    return {
        "patient_id": vital.patient_id,
        "kind": vital.kind,
        "context": vital.context,
        "value_tenths": _tenths(vital.values[names[0]]),
        "second_tenths": _tenths(vital.values[names[1]]) if len(names) > 1 else None,
        "measured_at": vital.measured_at,
        "recorded_at": vital.recorded_at,
    }


def _vital_from_row(row: Row[Any]) -> VitalSign:
    rule = KINDS[row.kind]
    names = list(rule.fields)
    stored = [row.value_tenths, row.second_tenths]
    values = {
        name: (Decimal(tenths) * TENTH).quantize(Decimal(1).scaleb(-rule.fields[name].places))
        for name, tenths in zip(names, stored, strict=False)
    }
    return VitalSign(
        row.patient_id, row.kind, values, row.measured_at, row.recorded_at, row.context, id=row.id
    )


class SqlVitalSigns(Repository):
    def add(self, vital: VitalSign) -> VitalSign:
        vital.id = self._insert(vital_signs, _vital_to_row(vital))
        return vital

    def of_patient(
        self,
        patient_id: int,
        *,
        kind: VitalKind | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int = 1000,
    ) -> Sequence[VitalSign]:
        c = vital_signs.c
        query = select(vital_signs).where(c.patient_id == patient_id)
        if kind is not None:
            query = query.where(c.kind == kind)
        if start is not None:
            query = query.where(c.measured_at >= start)
        if end is not None:
            query = query.where(c.measured_at < end)
        rows = self.connection.execute(
            query.order_by(c.measured_at.desc(), c.id.desc()).limit(limit)
        )
        return [_vital_from_row(row) for row in rows]


class SqlAccessLog(Repository):
    def add(self, entry: AccessEntry) -> AccessEntry:
        entry.id = self._insert(
            access_log,
            {
                "patient_id": entry.patient_id,
                "reader_role": entry.reader_role,
                "reader_id": entry.reader_id,
                "kind": entry.kind.value,
                "detail": json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
                "at": entry.at,
            },
        )
        return entry

    def of_patient(self, patient_id: int, limit: int = 500) -> Sequence[AccessEntry]:
        c = access_log.c
        query = select(access_log).where(c.patient_id == patient_id).order_by(c.id.desc())
        return [
            AccessEntry(
                row.patient_id,
                row.reader_role,
                row.reader_id,
                AccessKind(row.kind),
                row.at,
                json.loads(row.detail),
                id=row.id,
            )
            for row in self.connection.execute(query.limit(limit))
        ]
