"""The health file's use cases: vital signs (recorded by the patient; read by the patient and by
their contracted doctors, each doctor's read written to the access log in the same transaction)
and the access log the patient reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO

from attrs import define, field, frozen

from medbook.domain.files.uploads import ALLOWED, RECORDS_FOLDER
from medbook.domain.records.access import AccessEntry, AccessKind
from medbook.domain.records.diet import DietRules, Recommendation, recommend
from medbook.domain.records.model import (
    MAX_ATTACHMENTS,
    Attachment,
    MedicalRecord,
    ensure_visit_date,
)
from medbook.domain.records.vitals import GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    AttachmentNotFound,
    Forbidden,
    InvalidValue,
    NoContract,
    RecordNotFound,
    TooManyAttachments,
)
from medbook.ports.clock import Clock
from medbook.ports.records import RecordsUnitOfWork
from medbook.services.authorization import require_role
from medbook.services.transactions import read_only, transactionally
from medbook.services.uploads import Download, UploadService

#: The most readings one listing answers (newest first).
MAX_VITALS = 1000


@frozen
class AccessView:
    """An access log entry with the reader's name, as the patient reads it."""

    entry: AccessEntry
    reader_name: str | None


#: What a record's attachment may be: the upload types (photos and PDFs of the visit).
ATTACHMENT_TYPES = ALLOWED
#: "Today" for a visit date: the date in the world's latest time zone (UTC+14), so that a visit
#: today is never refused as in the future wherever the patient is.
LATEST_OFFSET = dt.timedelta(hours=14)


@frozen
class RecordView:
    record: MedicalRecord
    attachments: Sequence[Attachment]


@define
class HealthFileService:
    new_uow: Callable[[], RecordsUnitOfWork]
    clock: Clock
    #: The diet rules (bootstrap gives the ones shipped with medbook); None: no recommendations.
    diet: DietRules | None = field(default=None, kw_only=True)
    #: Where record attachments are stored (bootstrap gives the upload service); None: none.
    files: UploadService | None = field(default=None, kw_only=True)

    # --- medical records -------------------------------------------------------------------------

    def _today(self) -> dt.date:
        return (self.clock.now().astimezone(dt.UTC) + LATEST_OFFSET).date()

    def create_record_as(
        self,
        actor: Actor,
        hospital_name: str,
        visit_date: dt.date,
        title: str,
        notes: str = "",
    ) -> RecordView:
        require_role(actor, Role.PATIENT)
        now = self.clock.now()
        ensure_visit_date(visit_date, self._today())
        record = MedicalRecord(actor.id, visit_date, hospital_name, title, notes, now, now)
        stored = transactionally(self.new_uow, lambda uow: uow.records.add(record))
        return RecordView(stored, [])

    def records_as(self, actor: Actor) -> list[RecordView]:
        """The patient's records, the most recent visit first, with their attachments."""
        require_role(actor, Role.PATIENT)

        def work(uow: RecordsUnitOfWork) -> list[RecordView]:
            found = uow.records.of_patient(actor.id)
            files = uow.attachments.of_records([r.id for r in found if r.id is not None])
            return [RecordView(r, files[r.id or 0]) for r in found]

        return read_only(self.new_uow, work)

    def record_as(self, actor: Actor, record_id: int) -> RecordView:
        def work(uow: RecordsUnitOfWork) -> RecordView:
            record = self._own(uow, actor, record_id)
            return RecordView(record, uow.attachments.of_records([record_id])[record_id])

        return read_only(self.new_uow, work)

    def edit_record_as(self, actor: Actor, record_id: int, **changes: Any) -> RecordView:
        """Change any of hospital_name, visit_date, title, notes of the patient's own record."""

        def work(uow: RecordsUnitOfWork) -> RecordView:
            record = self._own(uow, actor, record_id, for_update=True)
            record.edit(self.clock.now(), self._today(), **changes)
            uow.records.save(record)
            return RecordView(record, uow.attachments.of_records([record_id])[record_id])

        return transactionally(self.new_uow, work)

    def delete_record_as(self, actor: Actor, record_id: int) -> None:
        """Delete the patient's record and, once that has committed, its files."""

        def work(uow: RecordsUnitOfWork) -> list[str]:
            self._own(uow, actor, record_id, for_update=True)
            keys = uow.attachments.delete_of_record(record_id)
            uow.records.delete(record_id)
            return keys

        keys = transactionally(self.new_uow, work)
        if self.files is not None:
            self.files.delete_keys(keys)

    def attach_as(
        self, actor: Actor, record_id: int, stream: BinaryIO, filename: str | None = None
    ) -> Attachment:
        """Store a photo or PDF as an attachment of the patient's own record (at most
        ``MAX_ATTACHMENTS``); the file is private, served only by ``attachment_as``."""
        files = self._files()
        read_only(self.new_uow, lambda uow: self._own(uow, actor, record_id))
        stored = files.store_private(actor, stream, RECORDS_FOLDER, filename, ATTACHMENT_TYPES)

        def work(uow: RecordsUnitOfWork) -> Attachment:
            self._own(uow, actor, record_id, for_update=True)
            if uow.attachments.count(record_id) >= MAX_ATTACHMENTS:
                raise TooManyAttachments(f"a record keeps at most {MAX_ATTACHMENTS} attachments")
            name = stored.metadata.get("filename")
            return uow.attachments.add(
                Attachment(
                    record_id,
                    stored.key,
                    stored.content_type,
                    stored.size,
                    self.clock.now(),
                    name,
                )
            )

        try:
            return transactionally(self.new_uow, work)
        except BaseException:
            files.delete_keys([stored.key])  # nothing points at it
            raise

    def attachment_as(self, actor: Actor, record_id: int, attachment_id: int) -> Download:
        """An attachment of the patient's own record (to anyone else it does not exist)."""
        files = self._files()

        def work(uow: RecordsUnitOfWork) -> Attachment:
            self._own(uow, actor, record_id)
            return self._attachment(uow, record_id, attachment_id)

        found = read_only(self.new_uow, work)
        return files.open_key(found.key)

    def delete_attachment_as(self, actor: Actor, record_id: int, attachment_id: int) -> None:
        def work(uow: RecordsUnitOfWork) -> str:
            self._own(uow, actor, record_id, for_update=True)
            found = self._attachment(uow, record_id, attachment_id)
            uow.attachments.delete(attachment_id)
            return found.key

        key = transactionally(self.new_uow, work)
        self._files().delete_keys([key])

    def _files(self) -> UploadService:
        if self.files is None:
            raise RuntimeError("no file storage was given to the health file service")
        return self.files

    @staticmethod
    def _own(
        uow: RecordsUnitOfWork, actor: Actor, record_id: int, *, for_update: bool = False
    ) -> MedicalRecord:
        require_role(actor, Role.PATIENT)
        record = uow.records.get(record_id, for_update=for_update)
        if record is None or record.patient_id != actor.id:
            raise RecordNotFound(f"no record {record_id}")
        return record

    @staticmethod
    def _attachment(uow: RecordsUnitOfWork, record_id: int, attachment_id: int) -> Attachment:
        found = uow.attachments.get(attachment_id)
        if found is None or found.record_id != record_id:
            raise AttachmentNotFound(f"no attachment {attachment_id} of record {record_id}")
        return found

    # --- vital signs -----------------------------------------------------------------------------

    def record_vital_as(
        self,
        actor: Actor,
        kind: VitalKind,
        values: Mapping[str, object],
        measured_at: dt.datetime,
        context: GlucoseContext | None = None,
    ) -> VitalSign:
        require_role(actor, Role.PATIENT)
        vital = VitalSign.measure(actor.id, kind, values, measured_at, self.clock.now(), context)
        stored: VitalSign = transactionally(self.new_uow, lambda uow: uow.vitals.add(vital))
        return stored

    def vitals_as(
        self,
        actor: Actor,
        patient_id: int | None = None,
        kind: VitalKind | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> Sequence[VitalSign]:
        """The patient's own readings; or, for a doctor, a patient's under an active contract
        (``no_contract`` otherwise), the read written to the patient's access log."""
        if start is not None and end is not None and end <= start:
            raise InvalidValue("to", "must be after from")
        if actor.role is Role.PATIENT:
            if patient_id not in (None, actor.id):
                raise Forbidden("a patient reads their own vital signs only")
            return read_only(
                self.new_uow,
                lambda uow: uow.vitals.of_patient(
                    actor.id, kind=kind, start=start, end=end, limit=MAX_VITALS
                ),
            )
        require_role(actor, Role.DOCTOR)
        if patient_id is None:
            raise InvalidValue("patient_id", "a doctor names the patient")
        wanted = patient_id

        def work(uow: RecordsUnitOfWork) -> Sequence[VitalSign]:
            if uow.contracts.active_between(wanted, actor.id) is None:
                raise NoContract(f"no active contract with patient {wanted}")
            found = uow.vitals.of_patient(wanted, kind=kind, start=start, end=end, limit=MAX_VITALS)
            detail: dict[str, str | int | None] = {
                "kind": kind.value if kind else None,
                "from": start.isoformat() if start else None,
                "to": end.isoformat() if end else None,
                "count": len(found),
            }
            uow.access_log.add(
                AccessEntry(
                    wanted, Role.DOCTOR, actor.id, AccessKind.VITALS, self.clock.now(), detail
                )
            )
            return found

        return transactionally(self.new_uow, work)

    def diet_as(self, actor: Actor, height_cm: int | None = None) -> list[Recommendation]:
        """Diet recommendations from the patient's readings of the rules' window, each with
        its reason (the default when none applies)."""
        require_role(actor, Role.PATIENT)
        if self.diet is None:
            raise RuntimeError("no diet rules were given to the health file service")
        rules, now = self.diet, self.clock.now()
        recent = read_only(
            self.new_uow,
            lambda uow: uow.vitals.of_patient(actor.id, start=now - rules.window, limit=MAX_VITALS),
        )
        return recommend(rules, recent, now, height_cm)

    def access_log_as(self, actor: Actor) -> list[AccessView]:
        """Who else read the patient's file, and what, newest first."""
        require_role(actor, Role.PATIENT)

        def work(uow: RecordsUnitOfWork) -> list[AccessView]:
            entries = uow.access_log.of_patient(actor.id)
            names: dict[tuple[Role, int], str | None] = {}
            for e in entries:
                key = (e.reader_role, e.reader_id)
                if key not in names:
                    doctor = uow.doctors.get(e.reader_id) if e.reader_role is Role.DOCTOR else None
                    names[key] = doctor.name if doctor else None
            return [AccessView(e, names[(e.reader_role, e.reader_id)]) for e in entries]

        return read_only(self.new_uow, work)
