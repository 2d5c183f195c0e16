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

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)

from medbook.adapters.sql.base import Repository
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.records.access import AccessEntry, AccessKind
from medbook.domain.records.model import Attachment, MedicalRecord
from medbook.domain.records.shares import RecordShare
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

medical_records = Table(
    "medical_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Integer, ForeignKey("patients.id"), nullable=False),
    Column("hospital_name", String(200), nullable=False),
    Column("visit_date", Date, nullable=False),
    Column("title", String(200), nullable=False),
    Column("notes", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "patient_id", "visit_date"),
)

record_attachments = Table(
    "record_attachments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", Integer, ForeignKey("medical_records.id"), nullable=False),
    Column("storage_key", String(255), nullable=False, unique=True),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("filename", String(200), nullable=True),
    Column("added_at", UtcDateTime, nullable=False),
    Index(None, "record_id", "id"),
)

record_shares = Table(
    "record_shares",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Integer, ForeignKey("patients.id"), nullable=False),
    # The SHA-256 of the code, never the code.
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("all_records", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("first_opened_at", UtcDateTime, nullable=True),
    Index(None, "patient_id", "id"),
)

share_records = Table(
    "share_records",
    metadata,
    Column("share_id", Integer, ForeignKey("record_shares.id"), primary_key=True),
    Column("record_id", Integer, ForeignKey("medical_records.id"), primary_key=True),
    Index(None, "record_id"),
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

    def get(self, vital_id: int) -> VitalSign | None:
        row = self.connection.execute(
            select(vital_signs).where(vital_signs.c.id == vital_id)
        ).first()
        return None if row is None else _vital_from_row(row)

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


_RECORD_FIELDS = ("patient_id", "visit_date", "hospital_name", "title", "notes", "created_at")


def _record_from_row(row: Row[Any]) -> MedicalRecord:
    fields = {name: getattr(row, name) for name in _RECORD_FIELDS}
    return MedicalRecord(**fields, updated_at=row.updated_at, id=row.id)


def _record_to_row(record: MedicalRecord) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in _RECORD_FIELDS}
    row["updated_at"] = record.updated_at
    return row


class SqlMedicalRecords(Repository):
    def add(self, record: MedicalRecord) -> MedicalRecord:
        record.id = self._insert(medical_records, _record_to_row(record))
        return record

    def get(self, record_id: int, *, for_update: bool = False) -> MedicalRecord | None:
        query = select(medical_records).where(medical_records.c.id == record_id)
        row = self.connection.execute(query.with_for_update() if for_update else query).first()
        return _record_from_row(row) if row else None

    def save(self, record: MedicalRecord) -> None:
        self.connection.execute(
            update(medical_records)
            .where(medical_records.c.id == record.id)
            .values(_record_to_row(record))
        )

    def delete(self, record_id: int) -> None:
        self.connection.execute(delete(medical_records).where(medical_records.c.id == record_id))

    def of_patient(self, patient_id: int, limit: int = 500) -> Sequence[MedicalRecord]:
        c = medical_records.c
        query = (
            select(medical_records)
            .where(c.patient_id == patient_id)
            .order_by(c.visit_date.desc(), c.id.desc())
            .limit(limit)
        )
        return [_record_from_row(row) for row in self.connection.execute(query)]


def _attachment_from_row(row: Row[Any]) -> Attachment:
    return Attachment(
        row.record_id,
        row.storage_key,
        row.content_type,
        row.size,
        row.added_at,
        row.filename,
        id=row.id,
    )


class SqlAttachments(Repository):
    def add(self, attachment: Attachment) -> Attachment:
        attachment.id = self._insert(
            record_attachments,
            {
                "record_id": attachment.record_id,
                "storage_key": attachment.key,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "filename": attachment.filename,
                "added_at": attachment.added_at,
            },
        )
        return attachment

    def get(self, attachment_id: int) -> Attachment | None:
        row = self.connection.execute(
            select(record_attachments).where(record_attachments.c.id == attachment_id)
        ).first()
        return _attachment_from_row(row) if row else None

    def of_records(self, record_ids: Sequence[int]) -> dict[int, list[Attachment]]:
        found: dict[int, list[Attachment]] = {i: [] for i in record_ids}
        if not record_ids:
            return found
        c = record_attachments.c
        query = select(record_attachments).where(c.record_id.in_(list(record_ids))).order_by(c.id)
        for row in self.connection.execute(query):
            found[row.record_id].append(_attachment_from_row(row))
        return found

    def count(self, record_id: int) -> int:
        c = record_attachments.c
        query = select(func.count()).where(c.record_id == record_id)
        return int(self.connection.execute(query).scalar_one())

    def delete(self, attachment_id: int) -> None:
        self.connection.execute(
            delete(record_attachments).where(record_attachments.c.id == attachment_id)
        )

    def delete_of_record(self, record_id: int) -> list[str]:
        c = record_attachments.c
        keys = list(
            self.connection.execute(select(c.storage_key).where(c.record_id == record_id)).scalars()
        )
        self.connection.execute(delete(record_attachments).where(c.record_id == record_id))
        return keys


_SHARE_FIELDS = (
    "patient_id",
    "code_hash",
    "all_records",
    "created_at",
    "expires_at",
    "revoked_at",
    "first_opened_at",
)


class SqlRecordShares(Repository):
    def add(self, share: RecordShare) -> RecordShare:
        share.id = self._insert(
            record_shares, {name: getattr(share, name) for name in _SHARE_FIELDS}
        )
        if share.record_ids:
            self.connection.execute(
                insert(share_records),
                [{"share_id": share.id, "record_id": r} for r in sorted(share.record_ids)],
            )
        return share

    def by_hash(self, code_hash: str, *, for_update: bool = False) -> RecordShare | None:
        query = select(record_shares).where(record_shares.c.code_hash == code_hash)
        row = self.connection.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            return None
        c = share_records.c
        ids = self.connection.execute(select(c.record_id).where(c.share_id == row.id)).scalars()
        return RecordShare(
            **{name: getattr(row, name) for name in _SHARE_FIELDS if name != "all_records"},
            all_records=row.all_records,
            record_ids=frozenset(ids),
            id=row.id,
        )

    def save(self, share: RecordShare) -> None:
        self.connection.execute(
            update(record_shares)
            .where(record_shares.c.id == share.id)
            .values(revoked_at=share.revoked_at, first_opened_at=share.first_opened_at)
        )

    def forget_record(self, record_id: int) -> None:
        self.connection.execute(delete(share_records).where(share_records.c.record_id == record_id))
