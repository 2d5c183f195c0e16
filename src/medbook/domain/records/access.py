"""The access log of a patient's health file: every read by someone other than the patient —
a contracted doctor reading vital signs, a doctor opening a share — recorded in the transaction
that decided to allow it, where the patient can read it (PIPL art. 28; HIPAA §164.312(b))."""

from __future__ import annotations

import datetime as dt
import enum

from attrs import define, field

from medbook.domain.shared.actors import Role
from medbook.domain.shared.entity import Entity


class AccessKind(enum.Enum):
    VITALS = "vitals"  # a contracted doctor read vital signs
    SHARE = "share"  # a doctor opened a share of records
    SHARED_FILE = "shared_file"  # a doctor fetched an attachment through a share


@define(slots=False, eq=False)
class AccessEntry(Entity):
    patient_id: int
    reader_role: Role
    reader_id: int
    kind: AccessKind
    at: dt.datetime
    #: What was read: the query and how many items came back (never the data itself).
    detail: dict[str, str | int | None] = field(factory=dict)
    id: int | None = None
