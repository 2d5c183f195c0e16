"""The health file's ports: vital signs, the access log, and its unit of work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from medbook.domain.records.access import AccessEntry
from medbook.domain.records.model import Attachment, MedicalRecord
from medbook.domain.records.shares import RecordShare
from medbook.domain.records.vitals import VitalKind, VitalSign
from medbook.ports.accounts import PatientRepository
from medbook.ports.contracts import ContractRepository
from medbook.ports.directory import DirectoryReads
from medbook.ports.notifications import NotificationRepository
from medbook.ports.transaction import Transaction


class VitalSignRepository(Protocol):
    def add(self, vital: VitalSign) -> VitalSign: ...

    def get(self, vital_id: int) -> VitalSign | None: ...

    def of_patient(
        self,
        patient_id: int,
        *,
        kind: VitalKind | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int = 1000,
    ) -> Sequence[VitalSign]:
        """Newest measurement first; ``start`` inclusive, ``end`` exclusive."""
        ...


class MedicalRecordRepository(Protocol):
    def add(self, record: MedicalRecord) -> MedicalRecord: ...

    def get(self, record_id: int, *, for_update: bool = False) -> MedicalRecord | None: ...

    def save(self, record: MedicalRecord) -> None: ...

    def delete(self, record_id: int) -> None:
        """Delete the record (its attachments' rows first: ``AttachmentRepository``)."""
        ...

    def of_patient(self, patient_id: int, limit: int = 500) -> Sequence[MedicalRecord]:
        """The most recent visit first."""
        ...


class AttachmentRepository(Protocol):
    def add(self, attachment: Attachment) -> Attachment: ...

    def get(self, attachment_id: int) -> Attachment | None: ...

    def of_records(self, record_ids: Sequence[int]) -> dict[int, list[Attachment]]:
        """Each record's attachments, oldest first."""
        ...

    def count(self, record_id: int) -> int: ...

    def delete(self, attachment_id: int) -> None: ...

    def delete_of_record(self, record_id: int) -> list[str]:
        """Delete a record's attachments' rows; the storage keys of their files."""
        ...


class RecordShareRepository(Protocol):
    def add(self, share: RecordShare) -> RecordShare: ...

    def by_hash(self, code_hash: str, *, for_update: bool = False) -> RecordShare | None: ...

    def save(self, share: RecordShare) -> None:
        """Write back a revoked or opened share (its records do not change)."""
        ...

    def forget_record(self, record_id: int) -> None:
        """Take a deleted record out of every share that names it."""
        ...


class QrRenderer(Protocol):
    """Draws text as a QR code."""

    def png(self, text: str) -> bytes: ...


class AccessLog(Protocol):
    def add(self, entry: AccessEntry) -> AccessEntry: ...

    def of_patient(self, patient_id: int, limit: int = 500) -> Sequence[AccessEntry]:
        """Newest first."""
        ...


class RecordsUnitOfWork(DirectoryReads, Transaction, Protocol):
    """The health file's transaction: its own repositories, the contracts that let a doctor
    read, the patients, and the inbox."""

    @property
    def vitals(self) -> VitalSignRepository: ...
    @property
    def access_log(self) -> AccessLog: ...
    @property
    def records(self) -> MedicalRecordRepository: ...
    @property
    def attachments(self) -> AttachmentRepository: ...
    @property
    def shares(self) -> RecordShareRepository: ...
    @property
    def contracts(self) -> ContractRepository: ...
    @property
    def patients(self) -> PatientRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
