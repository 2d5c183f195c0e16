"""The health file in memory: vital signs and the access log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from medbook.adapters.memory.base import MemoryTable
from medbook.domain.records.access import AccessEntry
from medbook.domain.records.model import Attachment, MedicalRecord
from medbook.domain.records.shares import RecordShare
from medbook.domain.records.vitals import VitalKind, VitalSign

TABLES = ("vital_signs", "access_log", "medical_records", "record_attachments", "record_shares")


class MemoryVitalSigns(MemoryTable):
    def add(self, vital: VitalSign) -> VitalSign:
        return self._insert(vital)  # type: ignore[no-any-return]

    def get(self, vital_id: int) -> VitalSign | None:
        return self._get(vital_id)  # type: ignore[no-any-return]

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


class MemoryMedicalRecords(MemoryTable):
    def add(self, record: MedicalRecord) -> MedicalRecord:
        return self._insert(record)  # type: ignore[no-any-return]

    def get(self, record_id: int, *, for_update: bool = False) -> MedicalRecord | None:
        return self._get(record_id)  # type: ignore[no-any-return]

    def save(self, record: MedicalRecord) -> None:
        self._save(record)

    def delete(self, record_id: int) -> None:
        self.rows.pop(record_id, None)

    def of_patient(self, patient_id: int, limit: int = 500) -> Sequence[MedicalRecord]:
        found = [r for r in self._all() if r.patient_id == patient_id]
        return sorted(found, key=lambda r: (r.visit_date, r.id), reverse=True)[:limit]


class MemoryAttachments(MemoryTable):
    def add(self, attachment: Attachment) -> Attachment:
        return self._insert(attachment)  # type: ignore[no-any-return]

    def get(self, attachment_id: int) -> Attachment | None:
        return self._get(attachment_id)  # type: ignore[no-any-return]

    def of_records(self, record_ids: Sequence[int]) -> dict[int, list[Attachment]]:
        found: dict[int, list[Attachment]] = {i: [] for i in record_ids}
        for a in sorted(self._all(), key=lambda a: a.id):
            if a.record_id in found:
                found[a.record_id].append(a)
        return found

    def count(self, record_id: int) -> int:
        return sum(1 for a in self._all() if a.record_id == record_id)

    def delete(self, attachment_id: int) -> None:
        self.rows.pop(attachment_id, None)

    def delete_of_record(self, record_id: int) -> list[str]:
        mine = [a for a in self._all() if a.record_id == record_id]
        for a in mine:
            self.rows.pop(a.id, None)
        return [a.key for a in mine]


class MemoryRecordShares(MemoryTable):
    def add(self, share: RecordShare) -> RecordShare:
        if any(s.code_hash == share.code_hash for s in self._all()):
            raise ValueError("a share with that code exists")
        return self._insert(share)  # type: ignore[no-any-return]

    def by_hash(self, code_hash: str, *, for_update: bool = False) -> RecordShare | None:
        return next((s for s in self._all() if s.code_hash == code_hash), None)

    def save(self, share: RecordShare) -> None:
        self._save(share)

    def forget_record(self, record_id: int) -> None:
        for share in self._all():
            if record_id in share.record_ids:
                share.record_ids = share.record_ids - {record_id}
                self._save(share)
