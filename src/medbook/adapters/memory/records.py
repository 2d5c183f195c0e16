"""The health file in memory: vital signs and the access log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.records.access import AccessEntry
from medbook.domain.records.vitals import VitalKind, VitalSign

TABLES = ("vital_signs", "access_log")


class MemoryVitalSigns(MemoryTable):
    def add(self, vital: VitalSign) -> VitalSign:
        return self._insert(vital)  # type: ignore[no-any-return]

    def of_patient(
        self,
        patient_id: int,
        *,
        kind: VitalKind | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int = 1000,
    ) -> Sequence[VitalSign]:
        found = [
            v
            for v in self._all()
            if v.patient_id == patient_id
            and kind in (None, v.kind)
            and (start is None or v.measured_at >= start)
            and (end is None or v.measured_at < end)
        ]
        return sorted(found, key=lambda v: (v.measured_at, v.id), reverse=True)[:limit]


class MemoryAccessLog(MemoryTable):
    def add(self, entry: AccessEntry) -> AccessEntry:
        return self._insert(entry)  # type: ignore[no-any-return]

    def of_patient(self, patient_id: int, limit: int = 500) -> Sequence[AccessEntry]:
        found = [e for e in self._all() if e.patient_id == patient_id]
        return sorted(found, key=lambda e: e.id, reverse=True)[:limit]
