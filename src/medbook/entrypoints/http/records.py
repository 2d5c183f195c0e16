"""The health file over HTTP: vital signs and the access log (medical records and shares next)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from attrs import field, frozen

from medbook.domain.records.model import RECORD_NOTES, RECORD_TITLE, Attachment
from medbook.domain.records.shares import CODE_PATTERN, MAX_SHARE_MINUTES
from medbook.domain.records.vitals import KINDS, GlucoseContext, VitalKind, VitalSign
from medbook.domain.shared.entity import MAX_ID
from medbook.domain.shared.errors import InvalidValue
from medbook.domain.shared.text import HOSPITAL_NAME
from medbook.entrypoints.http.api import (
    Call,
    FileAnswer,
    FileBody,
    Operation,
    Route,
)
from medbook.entrypoints.http.files import UPLOAD_TYPES
from medbook.entrypoints.http.schema import schema
from medbook.entrypoints.http.text_schema import text_schema
from medbook.services.records import MAX_SHARED_RECORDS, AccessView, RecordView

if TYPE_CHECKING:
    from medbook.bootstrap import Services

# --- commands and queries ------------------------------------------------------------------------

HOSPITAL = schema(**text_schema(HOSPITAL_NAME))
TITLE = schema(**text_schema(RECORD_TITLE))
NOTES = schema(**text_schema(RECORD_NOTES))


@frozen
class NewRecord:
    hospital_name: str = field(metadata=HOSPITAL)
    visit_date: dt.date
    title: str = field(metadata=TITLE)
    notes: str = field(default="", metadata=NOTES)


@frozen
class NewShare:
    #: The records shared; leave it out (or null) and set ``all`` to share every record.
    record_ids: list[int] | None = field(
        default=None, metadata=schema(minItems=1, maxItems=MAX_SHARED_RECORDS)
    )
    all: bool = False
    #: Default 1440 (24 hours), at most 43200 (30 days).
    expires_in_minutes: int | None = field(
        default=None, metadata=schema(minimum=1, maximum=MAX_SHARE_MINUTES)
    )


@frozen
class RecordEdit:
    hospital_name: str | None = field(default=None, metadata=HOSPITAL)
    visit_date: dt.date | None = None
    title: str | None = field(default=None, metadata=TITLE)
    notes: str | None = field(default=None, metadata=NOTES)

    def changes(self) -> dict[str, object]:
        given = {
            "hospital_name": self.hospital_name,
            "visit_date": self.visit_date,
            "title": self.title,
            "notes": self.notes,
        }
        return {name: value for name, value in given.items() if value is not None}


@frozen
class VitalValues:
    """The kind's fields: ``systolic`` and ``diastolic`` for blood pressure, else ``value``."""

    systolic: float | None = None
    diastolic: float | None = None
    value: float | None = None

    def given(self) -> dict[str, float]:
        return {
            name: number
            for name, number in (
                ("systolic", self.systolic),
                ("diastolic", self.diastolic),
                ("value", self.value),
            )
            if number is not None
        }


@frozen
class NewVital:
    kind: VitalKind
    values: VitalValues
    measured_at: dt.datetime
    #: Blood glucose only (default ``random``).
    context: GlucoseContext | None = None


@frozen
class VitalsQuery:
    #: A doctor names the patient (under an active contract); a patient reads their own.
    patient_id: int | None = field(default=None, metadata=schema(minimum=1, maximum=MAX_ID))
    kind: VitalKind | None = None
    start: dt.datetime | None = field(default=None, metadata={"name": "from"})
    to: dt.datetime | None = None


@frozen
class DietQuery:
    #: The patient's height, for a body-mass index with their latest weight.
    height_cm: int | None = field(default=None, metadata=schema(minimum=40, maximum=250))


# --- views ---------------------------------------------------------------------------------------


@frozen
class ReadingOut:
    """One field of a reading: its value, unit (UCUM) and LOINC code."""

    value: float
    unit: str
    loinc: str


@frozen
class VitalOut:
    id: int
    patient_id: int
    kind: VitalKind
    loinc: str
    values: dict[str, ReadingOut]
    context: GlucoseContext | None
    measured_at: dt.datetime
    recorded_at: dt.datetime

    @classmethod
    def of(cls, v: VitalSign) -> VitalOut:
        assert v.id is not None
        fields = KINDS[v.kind].fields
        glucose = v.kind is VitalKind.BLOOD_GLUCOSE  # fasting glucose has its own code
        values = {
            name: ReadingOut(
                float(value), fields[name].unit, v.loinc if glucose else fields[name].loinc
            )
            for name, value in v.values.items()
        }
        return cls(
            v.id, v.patient_id, v.kind, v.loinc, values, v.context, v.measured_at, v.recorded_at
        )


#: Where an attachment is served to whoever reads it (its patient, or a doctor through a share).
Link = Callable[[Attachment], str]


def owners_link(base: str) -> Link:
    """An attachment's URL for its patient: under its record."""
    return lambda a: f"{base}/v1/records/{a.record_id}/attachments/{a.id}"


def shared_link(base: str, code: str) -> Link:
    """An attachment's URL for a doctor holding a share: under the share."""
    return lambda a: f"{base}/v1/shared-records/{code}/attachments/{a.id}"


@frozen
class AttachmentOut:
    id: int
    url: str
    content_type: str
    size: int
    filename: str | None
    added_at: dt.datetime

    @classmethod
    def of(cls, a: Attachment, link: Link) -> AttachmentOut:
        assert a.id is not None
        return cls(a.id, link(a), a.content_type, a.size, a.filename, a.added_at)


@frozen
class RecordOut:
    id: int
    hospital_name: str
    visit_date: dt.date
    title: str
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime
    attachments: list[AttachmentOut]

    @classmethod
    def of(cls, view: RecordView, link: Link) -> RecordOut:
        r = view.record
        assert r.id is not None and r.created_at is not None and r.updated_at is not None
        return cls(
            r.id,
            r.hospital_name,
            r.visit_date,
            r.title,
            r.notes,
            r.created_at,
            r.updated_at,
            [AttachmentOut.of(a, link) for a in view.attachments],
        )


@frozen
class ShareOut:
    """The code exists in clear only in this answer: medbook keeps its hash."""

    id: int
    code: str
    url: str
    qr_url: str
    all_records: bool
    record_ids: list[int]
    expires_at: dt.datetime


@frozen
class SharedRecordsOut:
    patient_id: int
    records: list[RecordOut]


@frozen
class AccessOut:
    id: int
    reader_role: str
    reader_id: int
    reader_name: str | None
    kind: str
    detail: dict[str, str | int | None]
    at: dt.datetime

    @classmethod
    def of(cls, view: AccessView) -> AccessOut:
        e = view.entry
        assert e.id is not None
        return cls(
            e.id, e.reader_role.value, e.reader_id, view.reader_name, e.kind.value, e.detail, e.at
        )


@frozen
class RecommendationOut:
    id: str
    title: str
    advice: list[str]
    reason: str
    source: str


# --- handlers ------------------------------------------------------------------------------------


def create_record(s: Services, c: Call[NewRecord, None]) -> RecordOut:
    b = c.body
    made = s.health.create_record_as(c.me, b.hospital_name, b.visit_date, b.title, b.notes)
    return RecordOut.of(made, owners_link(s.uploads.public_url))


def my_records(s: Services, c: Call[None, None]) -> list[RecordOut]:
    link = owners_link(s.uploads.public_url)
    return [RecordOut.of(v, link) for v in s.health.records_as(c.me)]


def one_record(s: Services, c: Call[None, None]) -> RecordOut:
    found = s.health.record_as(c.me, c.params["record_id"])
    return RecordOut.of(found, owners_link(s.uploads.public_url))


def edit_record(s: Services, c: Call[RecordEdit, None]) -> RecordOut:
    edited = s.health.edit_record_as(c.me, c.params["record_id"], **c.body.changes())
    return RecordOut.of(edited, owners_link(s.uploads.public_url))


def delete_record(s: Services, c: Call[None, None]) -> None:
    s.health.delete_record_as(c.me, c.params["record_id"])


def attach(s: Services, c: Call[FileBody, None]) -> AttachmentOut:
    added = s.health.attach_as(c.me, c.params["record_id"], c.body.stream, c.body.filename)
    return AttachmentOut.of(added, owners_link(s.uploads.public_url))


def attachment(s: Services, c: Call[None, None]) -> FileAnswer:
    found = s.health.attachment_as(c.me, c.params["record_id"], c.params["attachment_id"])
    return FileAnswer(found.stored.content_type, found.stored.size, found.stream)


def delete_attachment(s: Services, c: Call[None, None]) -> None:
    s.health.delete_attachment_as(c.me, c.params["record_id"], c.params["attachment_id"])


def share(s: Services, c: Call[NewShare, None]) -> ShareOut:
    b = c.body
    if b.all == (b.record_ids is not None):
        field_name = "all" if b.all else "record_ids"
        raise InvalidValue(field_name, "give record_ids, or all: true (one of the two)")
    made = s.health.share_as(c.me, None if b.all else b.record_ids, b.expires_in_minutes)
    shared = made.share
    assert shared.id is not None
    return ShareOut(
        shared.id,
        made.code,
        made.url,
        f"{s.health.public_url}/v1/record-shares/{made.code}/qr.png",
        shared.all_records,
        sorted(shared.record_ids),
        shared.expires_at,
    )


def share_qr(s: Services, c: Call[None, None]) -> FileAnswer:
    png = s.health.share_qr_as(c.me, c.params["code"])
    return FileAnswer("image/png", len(png), io.BytesIO(png))


def revoke_share(s: Services, c: Call[None, None]) -> None:
    s.health.revoke_share_as(c.me, c.params["code"])


def shared_records(s: Services, c: Call[None, None]) -> SharedRecordsOut:
    code = c.params["code"]
    shared = s.health.open_share_as(c.me, code)
    link = shared_link(s.health.public_url, code)
    return SharedRecordsOut(shared.patient_id, [RecordOut.of(v, link) for v in shared.records])


def shared_attachment(s: Services, c: Call[None, None]) -> FileAnswer:
    found = s.health.shared_attachment_as(c.me, c.params["code"], c.params["attachment_id"])
    return FileAnswer(found.stored.content_type, found.stored.size, found.stream)


def record_vital(s: Services, c: Call[NewVital, None]) -> VitalOut:
    b = c.body
    vital = s.health.record_vital_as(c.me, b.kind, b.values.given(), b.measured_at, b.context)
    return VitalOut.of(vital)


def vitals(s: Services, c: Call[None, VitalsQuery]) -> list[VitalOut]:
    q = c.query
    found = s.health.vitals_as(c.me, q.patient_id, q.kind, q.start, q.to)
    return [VitalOut.of(v) for v in found]


def diet(s: Services, c: Call[None, DietQuery]) -> list[RecommendationOut]:
    found = s.health.diet_as(c.me, c.query.height_cm)
    return [
        RecommendationOut(r.rule_id, r.title, list(r.advice), r.reason, r.source) for r in found
    ]


def access_log(s: Services, c: Call[None, None]) -> list[AccessOut]:
    return [AccessOut.of(v) for v in s.health.access_log_as(c.me)]


# --- routes --------------------------------------------------------------------------------------

CODE = {"code": f"^{CODE_PATTERN}$"}

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/record-shares",
        {
            "POST": Operation(
                share,
                "A patient shares chosen records (or all) with a doctor, until it expires",
                body=NewShare,
                status=201,
                response=ShareOut,
                errors=(403, 404),
                description="The `code` (256 random bits) is shown once: medbook keeps only its "
                "hash. Hand it over as the QR image at `qr_url`. Default 24 hours, at most 30 "
                "days; `DELETE /v1/record-shares/{code}` stops it at once.",
            )
        },
        "health file",
    ),
    Route(
        "/v1/record-shares/{code}/qr.png",
        {
            "GET": Operation(
                share_qr,
                "The QR image of a share's URL, for its patient",
                download=True,
                errors=(403, 404),
            )
        },
        "health file",
        patterns=CODE,
    ),
    Route(
        "/v1/record-shares/{code}",
        {
            "DELETE": Operation(
                revoke_share,
                "The patient revokes a share: the code stops working at once",
                status=204,
                errors=(403, 404),
            )
        },
        "health file",
        patterns=CODE,
    ),
    Route(
        "/v1/shared-records/{code}",
        {
            "GET": Operation(
                shared_records,
                "A verified doctor reads the records shared under a code",
                response=SharedRecordsOut,
                errors=(403, 404, 429, 503),
                description="Exactly the shared records and their attachments (each served at "
                "its own URL under the share). An expired, revoked or unknown code is the same "
                "404. Each reading is written to the patient's access log; the patient is told "
                "the first time. Failed tries are limited per doctor (429).",
            )
        },
        "health file",
        patterns=CODE,
    ),
    Route(
        "/v1/shared-records/{code}/attachments/{attachment_id:id}",
        {
            "GET": Operation(
                shared_attachment,
                "An attachment of a shared record, for a verified doctor holding the code",
                download=True,
                errors=(403, 404, 429, 503),
            )
        },
        "health file",
        patterns=CODE,
    ),
    Route(
        "/v1/records",
        {
            "POST": Operation(
                create_record,
                "A patient adds a medical record of a hospital visit",
                body=NewRecord,
                status=201,
                response=RecordOut,
                errors=(403,),
            ),
            "GET": Operation(
                my_records,
                "The patient's medical records, the most recent visit first",
                response=list[RecordOut],
                errors=(403,),
            ),
        },
        "health file",
    ),
    Route(
        "/v1/records/{record_id:id}",
        {
            "GET": Operation(
                one_record, "One of the patient's records", response=RecordOut, errors=(403, 404)
            ),
            "PATCH": Operation(
                edit_record,
                "Change a record's hospital, visit date, title or notes",
                body=RecordEdit,
                response=RecordOut,
                errors=(403, 404),
            ),
            "DELETE": Operation(
                delete_record,
                "Delete a record and its attachments' files",
                status=204,
                errors=(403, 404),
            ),
        },
        "health file",
    ),
    Route(
        "/v1/records/{record_id:id}/attachments",
        {
            "POST": Operation(
                attach,
                "Attach a photo or PDF to a record (its type read from its bytes)",
                files=UPLOAD_TYPES,
                status=201,
                response=AttachmentOut,
                errors=(403, 404, 409, 413, 415, 422, 503),
                description="The file is private: its `url` serves it to the patient only "
                "(and, once shares exist, to a doctor through an audited share), never as a "
                "public link. 409 `too_many_attachments` past 20.",
            )
        },
        "health file",
    ),
    Route(
        "/v1/records/{record_id:id}/attachments/{attachment_id:id}",
        {
            "GET": Operation(
                attachment,
                "A record's attachment, for its patient",
                download=True,
                errors=(403, 404, 503),
            ),
            "DELETE": Operation(
                delete_attachment,
                "Delete a record's attachment and its file",
                status=204,
                errors=(403, 404),
            ),
        },
        "health file",
    ),
    Route(
        "/v1/vitals",
        {
            "POST": Operation(
                record_vital,
                "A patient records a vital sign",
                body=NewVital,
                status=201,
                response=VitalOut,
                errors=(403,),
                description="`values` holds the kind's fields: `systolic` and `diastolic` "
                "(mm[Hg], whole) for `blood_pressure`; `value` for `blood_glucose` (mmol/L, "
                "one decimal; `context` fasting, after_meal or random), `heart_rate` (/min, "
                "whole), `weight` (kg, one decimal), `temperature` (Cel, one decimal). A value "
                "outside its physiological bounds is a 422 naming `values.<field>`.",
            ),
            "GET": Operation(
                vitals,
                "A patient's vital signs, newest first: their own, or a contracted doctor's "
                "patient's",
                query=VitalsQuery,
                response=list[VitalOut],
                errors=(403,),
                description="A doctor names `patient_id` and needs an active contract with them "
                "(403 `no_contract` otherwise); each such read is written to the patient's "
                "access log. `from` inclusive, `to` exclusive.",
            ),
        },
        "health file",
    ),
    Route(
        "/v1/diet-recommendations",
        {
            "GET": Operation(
                diet,
                "Diet recommendations from the patient's recent vital signs",
                query=DietQuery,
                response=list[RecommendationOut],
                errors=(403,),
                description="Each recommendation with the reason drawn from the patient's "
                "readings of the last 30 days (which readings, which threshold) and the source "
                "of the threshold; with `height_cm`, the body-mass index from the latest weight "
                "counts too. A general recommendation when no reading calls for another.",
            )
        },
        "health file",
    ),
    Route(
        "/v1/records/access-log",
        {
            "GET": Operation(
                access_log,
                "Who else read the patient's health file, what and when, newest first",
                response=list[AccessOut],
                errors=(403,),
            )
        },
        "health file",
    ),
)
