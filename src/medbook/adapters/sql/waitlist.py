"""The sessions' waitlists: one row per patient who joined one, its id the queue's order.

``waiter_id`` is the patient while the entry is active (waiting or offered) and NULL once it
ended: with the unique key on the session and ``waiter_id``, the database refuses a second active
entry of one patient in one session (NULLs never collide), as ``appointments.holder_id`` does for
places. The counts of a session's waiting patients and held offers are on its places row
(``session_places.waiting``, ``.held``), changed under that row's lock with every entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Row,
    Table,
    UniqueConstraint,
    bindparam,
    case,
    insert,
    select,
    union,
    update,
)
from sqlalchemy.exc import IntegrityError

from medbook.adapters.sql.base import Repository
from medbook.adapters.sql.booking import _at_session, _session, session_places
from medbook.adapters.sql.errors import is_duplicate_key
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.booking.waitlist import WaitlistEntry, WaitlistStatus
from medbook.domain.shared.calendar import Period, Session
from medbook.domain.shared.errors import AlreadyWaiting

waitlist_entries = Table(
    "waitlist_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Integer, nullable=False),
    Column("doctor_id", Integer, ForeignKey("doctors.id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("period", value_enum(Period, "period"), nullable=False),
    Column("status", value_enum(WaitlistStatus, "waitlist_status"), nullable=False),
    Column("joined_at", UtcDateTime, nullable=False),
    Column("offered_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("appointment_id", Integer, ForeignKey("appointments.id"), nullable=True),
    Column("waiter_id", Integer, nullable=True),  # patient_id while active, else NULL
    UniqueConstraint("doctor_id", "date", "period", "waiter_id", name="uq_waitlist_waiter"),
    Index(None, "doctor_id", "date", "period", "status"),
    Index(None, "status", "expires_at"),
    Index(None, "patient_id", "date"),
    CheckConstraint(
        "(status IN ('waiting', 'offered') AND waiter_id IS NOT NULL AND waiter_id = patient_id)"
        " OR (status NOT IN ('waiting', 'offered') AND waiter_id IS NULL)",
        name="waiter_matches_status",
    ),
    CheckConstraint("status <> 'offered' OR expires_at IS NOT NULL", name="offer_has_expiry"),
)

_ACTIVE = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)
_E = waitlist_entries.c


def _entry(row: Row[Any]) -> WaitlistEntry:
    return WaitlistEntry(
        row.patient_id,
        row.doctor_id,
        row.date,
        row.period,
        row.joined_at,
        row.status,
        row.offered_at,
        row.expires_at,
        row.ended_at,
        row.appointment_id,
        id=row.id,
    )


def _row(entry: WaitlistEntry) -> dict[str, Any]:
    return {
        "patient_id": entry.patient_id,
        "doctor_id": entry.doctor_id,
        "date": entry.date,
        "period": entry.period,
        "status": entry.status,
        "joined_at": entry.joined_at,
        "offered_at": entry.offered_at,
        "expires_at": entry.expires_at,
        "ended_at": entry.ended_at,
        "appointment_id": entry.appointment_id,
        "waiter_id": entry.patient_id if entry.active else None,
    }


_ADD = insert(waitlist_entries)
_GET = select(waitlist_entries).where(_E.id == bindparam("entry_id"))
#: What a saved entry may have changed: its state, never whose or which session it is.
_CHANGING = ("status", "offered_at", "expires_at", "ended_at", "appointment_id", "waiter_id")
_SAVE = (
    update(waitlist_entries)
    .where(_E.id == bindparam("entry_id"))
    .values({column: bindparam(column) for column in _CHANGING})
)
_ACTIVE_IN = (
    select(waitlist_entries)
    .where(_at_session(waitlist_entries), _E.status.in_(_ACTIVE))
    .order_by(_E.id)
)
_ACTIVE_OF = select(waitlist_entries).where(
    _at_session(waitlist_entries), _E.waiter_id == bindparam("waiter")
)
_OF_PATIENT = (
    select(waitlist_entries)
    .where(_E.patient_id == bindparam("of_patient"), _E.date >= bindparam("since"))
    .order_by(_E.date, case((_E.period == Period.MORNING, 0), else_=1), _E.id)
)
_P = session_places.c
# The sessions a sweep looks at: offers whose hold is over, free places while patients wait, and
# active entries of sessions long started.
_DUE = union(
    select(_E.doctor_id, _E.date, _E.period).where(
        _E.status == WaitlistStatus.OFFERED, _E.expires_at <= bindparam("now")
    ),
    select(_P.doctor_id, _P.date, _P.period).where(
        _P.waiting > 0, _P.booked + _P.held < _P.quota, _P.date >= bindparam("before")
    ),
    select(_E.doctor_id, _E.date, _E.period).where(
        _E.status.in_(_ACTIVE), _E.date < bindparam("before")
    ),
).limit(bindparam("most"))


class SqlWaitlist(Repository):
    def add(self, entry: WaitlistEntry) -> WaitlistEntry:
        try:
            result = self.connection.execute(_ADD, _row(entry))
        except IntegrityError as error:
            if is_duplicate_key(error):
                raise AlreadyWaiting(
                    f"already on the waitlist of session {entry.session}"
                ) from None
            raise
        key = result.inserted_primary_key
        assert key is not None
        entry.id = int(key[0])
        return entry

    def get(self, entry_id: int) -> WaitlistEntry | None:
        row = self.connection.execute(_GET, {"entry_id": entry_id}).first()
        return _entry(row) if row else None

    def save(self, entry: WaitlistEntry) -> None:
        values = _row(entry)
        changed = {column: values[column] for column in _CHANGING}
        self.connection.execute(_SAVE, {"entry_id": entry.id, **changed})

    def active(self, session: Session) -> Sequence[WaitlistEntry]:
        return [_entry(row) for row in self.connection.execute(_ACTIVE_IN, _session(session))]

    def active_of(self, patient_id: int, session: Session) -> WaitlistEntry | None:
        row = self.connection.execute(
            _ACTIVE_OF, {**_session(session), "waiter": patient_id}
        ).first()
        return _entry(row) if row else None

    def of_patient(self, patient_id: int, since: dt.date) -> Sequence[WaitlistEntry]:
        rows = self.connection.execute(_OF_PATIENT, {"of_patient": patient_id, "since": since})
        return [_entry(row) for row in rows]

    def due(self, now: dt.datetime, before: dt.date, limit: int) -> Sequence[Session]:
        rows = self.connection.execute(_DUE, {"now": now, "before": before, "most": limit})
        # The union's period column loses the enum type on the way back: convert it here.
        return [Session(row.doctor_id, row.date, Period(row.period)) for row in rows]
