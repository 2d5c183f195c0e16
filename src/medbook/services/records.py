"""The health file's use cases: vital signs (recorded by the patient; read by the patient and by
their contracted doctors, each doctor's read written to the access log in the same transaction)
and the access log the patient reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO

from attrs import define, field, frozen

from medbook.domain.accounts.model import Patient
from medbook.domain.accounts.throttling import Bucket, Rate
from medbook.domain.files.uploads import ALLOWED, RECORDS_FOLDER
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.records.access import AccessEntry, AccessKind
from medbook.domain.records.diet import DietRules, Recommendation, recommend
from medbook.domain.records.model import (
    MAX_ATTACHMENTS,
    Attachment,
    MedicalRecord,
    ensure_visit_date,
)
from medbook.domain.records.shares import RecordShare, code_hash, is_code, new_code
from medbook.domain.records.vitals import GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    AttachmentNotFound,
    Forbidden,
    InvalidValue,
    NoContract,
    PatientNotFound,
    RecordNotFound,
    ShareNotFound,
    TooManyAttachments,
    TooManyAttempts,
    VitalNotFound,
)
from medbook.ports.clock import Clock
from medbook.ports.records import QrRenderer, RecordsUnitOfWork
from medbook.ports.security import Throttle
from medbook.services.authorization import require_role
from medbook.services.directory import doctor_of
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


#: How fast one doctor may try share codes: 10 at once, then one a minute; an opening that
#: succeeds is given back, so only failures wear the bucket down.
SHARE_OPENINGS = Rate.of(10, dt.timedelta(minutes=1))
#: The most records one share names.
MAX_SHARED_RECORDS = 100
SHARED_PATH = "/v1/shared-records/"


@frozen
class SharedCode:
    """A new share and its code: the only moment the code exists in clear."""

    share: RecordShare
    code: str
    url: str


@frozen
class SharedRecords:
    patient_id: int
    records: Sequence[RecordView]


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
    #: Draws share QR codes; limits doctors' share openings; this API's public base URL.
    qr: QrRenderer | None = field(default=None, kw_only=True)
    throttle: Throttle | None = field(default=None, kw_only=True)
    public_url: str = field(default="", kw_only=True)

    # --- shares ----------------------------------------------------------------------------------

    def share_as(
        self,
        actor: Actor,
        record_ids: Sequence[int] | None,
        expires_in_minutes: int | None = None,
    ) -> SharedCode:
        """A share of the patient's chosen records (None: all of them, later ones included),
        open until it expires (default 24 hours, at most 30 days) or is revoked."""
        require_role(actor, Role.PATIENT)
        if record_ids is not None and len(record_ids) > MAX_SHARED_RECORDS:
            raise InvalidValue("record_ids", f"at most {MAX_SHARED_RECORDS} records")
        chosen = None if record_ids is None else frozenset(record_ids)
        code = new_code()
        share = RecordShare.create(actor.id, code, chosen, self.clock.now(), expires_in_minutes)

        def work(uow: RecordsUnitOfWork) -> RecordShare:
            for record_id in sorted(chosen or ()):
                self._own(uow, actor, record_id)
            return uow.shares.add(share)

        stored = transactionally(self.new_uow, work)
        return SharedCode(stored, code, self.share_url(code))

    def share_url(self, code: str) -> str:
        return f"{self.public_url}{SHARED_PATH}{code}"

    def share_qr_as(self, actor: Actor, code: str) -> bytes:
        """The QR image of an open share's URL, for its patient."""
        require_role(actor, Role.PATIENT)
        if self.qr is None:
            raise RuntimeError("no QR renderer was given to the health file service")
        now = self.clock.now()

        def work(uow: RecordsUnitOfWork) -> None:
            share = self._share(uow, code)
            if share.patient_id != actor.id or not share.is_open(now):
                raise ShareNotFound("no such share")

        read_only(self.new_uow, work)
        return self.qr.png(self.share_url(code))

    def revoke_share_as(self, actor: Actor, code: str) -> None:
        """The code stops working at once (revoking twice is fine)."""
        require_role(actor, Role.PATIENT)

        def work(uow: RecordsUnitOfWork) -> None:
            share = self._share(uow, code, for_update=True)
            if share.patient_id != actor.id:
                raise ShareNotFound("no such share")
            share.revoke(self.clock.now())
            uow.shares.save(share)

        transactionally(self.new_uow, work)

    def open_share_as(self, actor: Actor, code: str) -> SharedRecords:
        """A verified doctor reads exactly the shared records (an expired, revoked or unknown
        code: the same 404); the reading is in the patient's access log, and the patient is
        told the first time. Failed openings are rate-limited per doctor."""
        bucket = self._take_opening(actor)
        now = self.clock.now()

        def work(uow: RecordsUnitOfWork) -> SharedRecords:
            self._verified_doctor(uow, actor)
            share = self._open_share(uow, code, now)
            if share.all_records:
                records = list(uow.records.of_patient(share.patient_id))
            else:
                found = (uow.records.get(i) for i in sorted(share.record_ids))
                records = [r for r in found if r is not None and r.patient_id == share.patient_id]
            files = uow.attachments.of_records([r.id for r in records if r.id is not None])
            detail: dict[str, str | int | None] = {
                "share_id": share.id,
                "records": ",".join(str(r.id) for r in records),
                "count": len(records),
            }
            uow.access_log.add(
                AccessEntry(share.patient_id, Role.DOCTOR, actor.id, AccessKind.SHARE, now, detail)
            )
            if share.opened(now):
                uow.shares.save(share)
                doctor = uow.doctors.get(actor.id)
                uow.notifications.add(
                    Notification(
                        Role.PATIENT,
                        share.patient_id,
                        NotificationKind.RECORD_SHARE_OPENED,
                        "A doctor opened your shared records",
                        f"Dr. {doctor.name if doctor else actor.id} opened the records you shared.",
                        now,
                        {"share_id": share.id, "doctor_id": actor.id},
                    )
                )
            views = [RecordView(r, files[r.id or 0]) for r in records]
            return SharedRecords(share.patient_id, views)

        found = transactionally(self.new_uow, work)
        self._give_back(bucket)
        return found

    def shared_attachment_as(self, actor: Actor, code: str, attachment_id: int) -> Download:
        """An attachment of a shared record, for a verified doctor holding the code; audited."""
        files = self._files()
        bucket = self._take_opening(actor)
        now = self.clock.now()

        def work(uow: RecordsUnitOfWork) -> Attachment:
            self._verified_doctor(uow, actor)
            share = self._open_share(uow, code, now)
            found = uow.attachments.get(attachment_id)
            record = uow.records.get(found.record_id) if found is not None else None
            if (
                found is None
                or record is None
                or record.patient_id != share.patient_id
                or not share.covers(found.record_id)
            ):
                raise AttachmentNotFound(f"no attachment {attachment_id} in that share")
            detail: dict[str, str | int | None] = {
                "share_id": share.id,
                "record_id": found.record_id,
                "attachment_id": attachment_id,
            }
            uow.access_log.add(
                AccessEntry(
                    share.patient_id, Role.DOCTOR, actor.id, AccessKind.SHARED_FILE, now, detail
                )
            )
            return found

        attachment = transactionally(self.new_uow, work)
        self._give_back(bucket)
        return files.open_key(attachment.key)

    def _take_opening(self, actor: Actor) -> Bucket:
        require_role(actor, Role.DOCTOR)
        bucket = Bucket(f"share-open:doctor:{actor.id}", SHARE_OPENINGS)
        if self.throttle is not None:
            retry_after = self.throttle.take([bucket], self.clock.now())
            if retry_after is not None:
                raise TooManyAttempts(retry_after)
        return bucket

    def _give_back(self, bucket: Bucket) -> None:
        if self.throttle is not None:
            self.throttle.give_back(bucket, self.clock.now())

    @staticmethod
    def _verified_doctor(uow: RecordsUnitOfWork, actor: Actor) -> None:
        if not doctor_of(uow, actor.id).verified:
            raise Forbidden("only a doctor their hospital has verified opens shared records")

    @staticmethod
    def _share(uow: RecordsUnitOfWork, code: str, *, for_update: bool = False) -> RecordShare:
        share = (
            uow.shares.by_hash(code_hash(code), for_update=for_update) if is_code(code) else None
        )
        if share is None:
            raise ShareNotFound("no such share")
        return share

    def _open_share(self, uow: RecordsUnitOfWork, code: str, now: dt.datetime) -> RecordShare:
        share = self._share(uow, code, for_update=True)
        if not share.is_open(now):
            raise ShareNotFound("no such share")  # expired or revoked: as if it never was
        return share

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
            uow.shares.forget_record(record_id)
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
        require_role(actor, Role.PATIENT, Role.DOCTOR)
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

    def vital_as(self, actor: Actor, vital_id: int) -> VitalSign:
        """One reading: the patient's own, or, for a doctor, a patient's under an active contract
        (the read written to the patient's access log); any other is as absent as no reading."""
        require_role(actor, Role.PATIENT, Role.DOCTOR)
        missing = VitalNotFound(f"no reading {vital_id}")

        def work(uow: RecordsUnitOfWork) -> VitalSign:
            found = uow.vitals.get(vital_id)
            if found is None:
                raise missing
            if actor.role is Role.PATIENT:
                if found.patient_id != actor.id:
                    raise missing
                return found
            if uow.contracts.active_between(found.patient_id, actor.id) is None:
                raise missing
            detail: dict[str, str | int | None] = {"id": vital_id, "count": 1}
            uow.access_log.add(
                AccessEntry(
                    found.patient_id,
                    Role.DOCTOR,
                    actor.id,
                    AccessKind.VITALS,
                    self.clock.now(),
                    detail,
                )
            )
            return found

        if actor.role is Role.PATIENT:
            return read_only(self.new_uow, work)
        return transactionally(self.new_uow, work)

    def patient_as(self, actor: Actor, patient_id: int) -> Patient:
        """A patient's demographics: to the patient, and to a doctor under an active contract
        with them; to anyone else, as absent as an id that names nobody."""
        require_role(actor, Role.PATIENT, Role.DOCTOR)
        missing = PatientNotFound(f"no patient {patient_id}")

        def query(uow: RecordsUnitOfWork) -> Patient:
            if actor.role is Role.PATIENT and actor.id != patient_id:
                raise missing
            if actor.role is Role.DOCTOR and (
                uow.contracts.active_between(patient_id, actor.id) is None
            ):
                raise missing
            found = uow.patients.get(patient_id)
            if found is None:
                raise missing
            return found

        return read_only(self.new_uow, query)

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
