"""Medical records: one per hospital visit, the patient's own, with attachments (photos and
PDFs of the visit's documents) kept as private files."""

from __future__ import annotations

import datetime as dt
from typing import Any

from attrs import define, field

from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import InvalidValue
from medbook.domain.shared.text import HOSPITAL_NAME, TextRule, nfc

RECORD_TITLE = TextRule(200)
RECORD_NOTES = TextRule(5000, required=False, multiline=True)
#: The most attachments one record keeps.
MAX_ATTACHMENTS = 20
#: The earliest visit date taken (an earlier one is a typing error).
EARLIEST_VISIT = dt.date(1900, 1, 1)


def ensure_visit_date(visit_date: dt.date, today: dt.date) -> dt.date:
    """A visit that happened: not after today, not before 1900."""
    if visit_date > today:
        raise InvalidValue("visit_date", "is in the future")
    if visit_date < EARLIEST_VISIT:
        raise InvalidValue("visit_date", "is before 1900")
    return visit_date


@define(slots=False, eq=False)
class MedicalRecord(Entity):
    patient_id: int
    visit_date: dt.date
    hospital_name: str = field(converter=nfc, validator=HOSPITAL_NAME.validator("hospital_name"))
    title: str = field(converter=nfc, validator=RECORD_TITLE.validator("title"))
    notes: str = field(default="", converter=nfc, validator=RECORD_NOTES.validator("notes"))
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    id: int | None = None

    def edit(self, now: dt.datetime, today: dt.date, **changes: Any) -> None:
        """Change any of hospital_name, visit_date, title, notes (each checked again)."""
        allowed = {"hospital_name", "visit_date", "title", "notes"}
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidValue(sorted(unknown)[0], "cannot be changed")
        if "visit_date" in changes:
            ensure_visit_date(changes["visit_date"], today)
        for name, value in changes.items():
            setattr(self, name, value)  # attrs runs each field's converter and validator
        if changes:
            self.updated_at = now


@define(slots=False, eq=False)
class Attachment(Entity):
    """A file of a record, stored privately under ``key``."""

    record_id: int
    key: str
    content_type: str
    size: int
    added_at: dt.datetime
    filename: str | None = None
    id: int | None = None
