"""Booking's tables and repositories: leave, the two ledgers (places, daily counts), appointments.

The ledgers are counter rows that every booking, cancellation and leave of a session locks and
moves by conditional updates only; the appointments' unique keys refuse a second place of one
patient in a session.
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
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable

from medbook.adapters.sql.base import Repository, by_dialect, insert_if_missing
from medbook.adapters.sql.directory import doctors
from medbook.adapters.sql.errors import is_duplicate_key
from medbook.adapters.sql.metadata import metadata, value_enum
from medbook.adapters.sql.types import UtcDateTime
from medbook.domain.booking.appointments import Appointment, AppointmentStatus, CancelledBy
from medbook.domain.booking.sessions import Leave, OfferedSession
from medbook.domain.shared.calendar import Period, Session
from medbook.domain.shared.errors import AlreadyBooked, AlreadyOnLeave

doctor_leaves = Table(
    "doctor_leaves",
    metadata,
    Column("doctor_id", Integer, ForeignKey("doctors.id"), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("period", value_enum(Period, "period"), primary_key=True),
)

# One row per session that has ever been booked (or had leave taken). Every booking, cancellation
# and leave of a session locks its row first; ``booked`` only ever moves by a conditional update.
session_places = Table(
    "session_places",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doctor_id", Integer, ForeignKey("doctors.id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("period", value_enum(Period, "period"), nullable=False),
    Column("quota", Integer, nullable=False),
    Column("booked", Integer, nullable=False, default=0),
    Column("issued", Integer, nullable=False, default=0),  # the last queue number handed out
    # Places held for waitlist offers (they count against the quota), and patients waiting.
    Column("held", Integer, nullable=False, default=0, server_default="0"),
    Column("waiting", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("doctor_id", "date", "period"),
    CheckConstraint("booked >= 0 AND booked <= quota AND booked <= issued", name="places_held"),
    CheckConstraint("held >= 0 AND waiting >= 0 AND booked + held <= quota", name="places_offered"),
)

patient_day_counts = Table(
    "patient_day_counts",
    metadata,
    Column("patient_id", Integer, primary_key=True, autoincrement=False),
    Column("date", Date, primary_key=True),
    Column("active", Integer, nullable=False, default=0),
    # The waitlists (waiting or offered) the patient is on that day.
    Column("waiting", Integer, nullable=False, default=0, server_default="0"),
    CheckConstraint("active >= 0", name="active_non_negative"),
    CheckConstraint("waiting >= 0", name="waiting_non_negative"),
)

appointments = Table(
    "appointments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", Integer, nullable=False),
    Column("doctor_id", Integer, ForeignKey("doctors.id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("period", value_enum(Period, "period"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("status", value_enum(AppointmentStatus, "appointment_status"), nullable=False),
    Column("booked_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("cancelled_by", value_enum(CancelledBy, "cancelled_by"), nullable=True),
    # patient_id while the appointment holds a place, NULL once cancelled: with the unique key
    # below, the database itself refuses a second active appointment of a patient in a session
    # (NULLs never collide, on MySQL/MariaDB and SQLite alike, so cancelled rows do not count).
    Column("holder_id", Integer, nullable=True),
    UniqueConstraint("doctor_id", "date", "period", "holder_id", name="uq_appointments_holder"),
    UniqueConstraint("doctor_id", "date", "period", "number", name="uq_appointments_number"),
    Index(None, "patient_id", "date"),
    Index(None, "date"),  # the reminders' look at the next days' appointments
    CheckConstraint(
        "(status = 'cancelled' AND holder_id IS NULL)"
        " OR (status <> 'cancelled' AND holder_id = patient_id)",
        name="holder_matches_status",
    ),
)


# The hot statements are built once, with bind parameters, and run with a dict of values: building
# a Core expression and its cache key on every call cost a quarter of a booking's CPU (issue 13).


def _at_session(table: Table) -> Any:
    """``table``'s row(s) of the session given as the parameters ``_session`` makes (named
    unlike any column: an UPDATE's SET clause reserves the columns' names)."""
    return and_(
        table.c.doctor_id == bindparam("of_doctor"),
        table.c.date == bindparam("on_date"),
        table.c.period == bindparam("in_period"),
    )


def _session(session: Session) -> dict[str, Any]:
    return {"of_doctor": session.doctor_id, "on_date": session.date, "in_period": session.period}


def _in_span(table: Table) -> Any:
    """``table``'s rows of a doctor between two dates, given as the parameters ``_span`` makes."""
    return and_(
        table.c.doctor_id == bindparam("of_doctor"),
        table.c.date >= bindparam("first"),
        table.c.date <= bindparam("last"),
    )


def _span(doctor_id: int, start: dt.date, end: dt.date) -> dict[str, Any]:
    return {"of_doctor": doctor_id, "first": start, "last": end}


_LEAVES_BETWEEN = select(doctor_leaves.c.date, doctor_leaves.c.period).where(
    _in_span(doctor_leaves)
)
_PLACES_BETWEEN = select(
    session_places.c.date,
    session_places.c.period,
    session_places.c.quota,
    session_places.c.booked,
    session_places.c.held,
    session_places.c.waiting,
).where(_in_span(session_places))
# One read for a listing: the places rows (leave 0) and the leaves (leave 1) of the span.
_CALENDAR = union_all(
    select(
        session_places.c.date,
        session_places.c.period,
        session_places.c.quota,
        session_places.c.booked,
        session_places.c.held,
        session_places.c.waiting,
        literal(0).label("leave"),
    ).where(_in_span(session_places)),
    select(
        doctor_leaves.c.date,
        doctor_leaves.c.period,
        literal(0).label("quota"),
        literal(0).label("booked"),
        literal(0).label("held"),
        literal(0).label("waiting"),
        literal(1).label("leave"),
    ).where(_in_span(doctor_leaves)),
)
_ON_LEAVE = select(exists().where(_at_session(doctor_leaves)))
_LOCK_PLACES = (
    select(
        session_places.c.quota,
        session_places.c.booked,
        session_places.c.held,
        session_places.c.waiting,
    )
    .where(_at_session(session_places))
    .with_for_update()
)
_PLACES_EXIST = select(exists().where(_at_session(session_places)))


def _take_place(dialect: str) -> Executable:
    """Take a place if one is left, and say which queue number it got, in one statement: SQLite
    returns the new ``issued``; MySQL has no ``UPDATE … RETURNING``, but hands the value of
    ``LAST_INSERT_ID(expr)`` back in the answer's insert id (``lastrowid``)."""
    c = session_places.c
    take = update(session_places).where(_at_session(session_places), c.booked + c.held < c.quota)
    if dialect == "sqlite":
        return take.values(booked=c.booked + 1, issued=c.issued + 1).returning(c.issued)
    return take.values(booked=c.booked + 1, issued=func.last_insert_id(c.issued + 1))


_TAKE_PLACE = by_dialect(_take_place)
_RELEASE_PLACES = (
    update(session_places)
    .where(_at_session(session_places), session_places.c.booked >= bindparam("count"))
    .values(booked=session_places.c.booked - bindparam("count"))
)
_RESIZE = (
    update(session_places)
    .where(_at_session(session_places))
    .values(
        quota=case(
            (
                session_places.c.booked + session_places.c.held > bindparam("new_quota"),
                session_places.c.booked + session_places.c.held,
            ),
            else_=bindparam("new_quota"),
        )
    )
)
_OFFER = (
    update(session_places)
    .where(
        _at_session(session_places),
        session_places.c.waiting > 0,
        session_places.c.booked + session_places.c.held < session_places.c.quota,
    )
    .values(held=session_places.c.held + 1, waiting=session_places.c.waiting - 1)
)
_WITHDRAW = (
    update(session_places)
    .where(_at_session(session_places), session_places.c.held >= bindparam("count"))
    .values(held=session_places.c.held - bindparam("count"))
)
_QUEUE = (
    update(session_places)
    .where(_at_session(session_places), session_places.c.waiting + bindparam("change") >= 0)
    .values(waiting=session_places.c.waiting + bindparam("change"))
)


class SqlLeaves(Repository):
    def add(self, leave: Leave) -> None:
        if self.exists(leave.session):
            raise AlreadyOnLeave(f"already on leave for session {leave.session}")
        self.connection.execute(
            insert(doctor_leaves).values(
                doctor_id=leave.doctor_id, date=leave.date, period=leave.period
            )
        )

    def exists(self, session: Session) -> bool:
        return bool(self.connection.execute(_ON_LEAVE, _session(session)).scalar())

    def between(self, doctor_id: int, start: dt.date, end: dt.date) -> set[tuple[dt.date, Period]]:
        rows = self.connection.execute(_LEAVES_BETWEEN, _span(doctor_id, start, end))
        return {(row.date, row.period) for row in rows}


# --- the ledgers ---------------------------------------------------------------------------------


class SqlPlaces(Repository):
    def ensure(self, session: Session, quota: int) -> None:
        # A plain read first: under READ COMMITTED it takes no lock, so the common case (the row
        # exists and other bookings hold its lock) does not queue behind them.
        if self.connection.execute(_PLACES_EXIST, _session(session)).scalar():
            return
        insert_if_missing(
            self.connection,
            session_places,
            {
                "doctor_id": session.doctor_id,
                "date": session.date,
                "period": session.period,
                "quota": quota,
                "booked": 0,
                "issued": 0,
            },
        )

    def lock(self, session: Session) -> OfferedSession:
        found = self.try_lock(session)
        if found is None:
            raise LookupError(f"session {session} has no places row: ensure() it first")
        return found

    def try_lock(self, session: Session) -> OfferedSession | None:
        row = self.connection.execute(_LOCK_PLACES, _session(session)).first()
        if row is None:
            return None
        return OfferedSession(session, row.quota, row.booked, row.held, row.waiting)

    def take(self, session: Session) -> int | None:
        result = self.connection.execute(_TAKE_PLACE(self.connection), _session(session))
        if self.connection.dialect.name == "sqlite":  # RETURNING: a row, or none when full
            issued = result.scalar()
            return None if issued is None else int(issued)
        return int(result.lastrowid) if result.rowcount == 1 else None

    def release(self, session: Session, count: int = 1) -> None:
        self._move(_RELEASE_PLACES, session, "count", count, f"release {count} places")

    def resize(self, session: Session, quota: int) -> None:
        self.connection.execute(_RESIZE, {**_session(session), "new_quota": quota})

    def offer(self, session: Session) -> bool:
        return self.connection.execute(_OFFER, _session(session)).rowcount == 1

    def withdraw(self, session: Session, count: int = 1) -> None:
        self._move(_WITHDRAW, session, "count", count, f"withdraw {count} held places")

    def queue(self, session: Session, change: int) -> None:
        self._move(_QUEUE, session, "change", change, f"count {change} more waiting")

    def _move(
        self, statement: Executable, session: Session, name: str, amount: int, what: str
    ) -> None:
        """Move one of the session's counters by ``amount`` with a conditional update (given as
        the parameter ``name``); a refusal is a bug of the caller's, never a user's."""
        if amount == 0:
            return
        result = self.connection.execute(statement, {**_session(session), name: amount})
        if result.rowcount != 1:
            raise ValueError(f"cannot {what} of session {session}")

    def calendar(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> tuple[dict[tuple[dt.date, Period], OfferedSession], set[tuple[dt.date, Period]]]:
        ledger, leaves = {}, set()
        for row in self.connection.execute(_CALENDAR, _span(doctor_id, start, end)):
            # The union's period column loses the enum type on the way back: convert it here.
            key = (row.date, Period(row.period))
            if row.leave:
                leaves.add(key)
            else:
                ledger[key] = OfferedSession(
                    Session(doctor_id, *key), row.quota, row.booked, row.held, row.waiting
                )
        return ledger, leaves

    def between(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> dict[tuple[dt.date, Period], OfferedSession]:
        rows = self.connection.execute(_PLACES_BETWEEN, _span(doctor_id, start, end))
        return {
            (row.date, row.period): OfferedSession(
                Session(doctor_id, row.date, row.period),
                row.quota,
                row.booked,
                row.held,
                row.waiting,
            )
            for row in rows
        }


_DAY_IS = and_(
    patient_day_counts.c.patient_id == bindparam("of_patient"),
    patient_day_counts.c.date == bindparam("on_date"),
)


def _one_more(column: Any) -> Executable:
    """Count one more in ``column`` of a patient's day, below the limit: a conditional write."""
    return (
        update(patient_day_counts)
        .where(_DAY_IS, column < bindparam("limit"))
        .values({column: column + 1})
    )


def _one_less(column: Any) -> Executable:
    return update(patient_day_counts).where(_DAY_IS, column > 0).values({column: column - 1})


_COUNT_ONE_MORE = _one_more(patient_day_counts.c.active)
_COUNT_ONE_LESS = _one_less(patient_day_counts.c.active)
_WAIT_ONE_MORE = _one_more(patient_day_counts.c.waiting)
_WAIT_ONE_LESS = _one_less(patient_day_counts.c.waiting)
_ACTIVE = select(patient_day_counts.c.active).where(_DAY_IS)


def _day(patient_id: int, date: dt.date) -> dict[str, Any]:
    return {"of_patient": patient_id, "on_date": date}


class SqlDailyCounts(Repository):
    def add(self, patient_id: int, date: dt.date, limit: int) -> bool:
        # The row is made if missing (its lock taken either way), then counted by a conditional
        # write: two statements, no read. Racing bookings of one patient and day queue on the row.
        return self._one_more(_COUNT_ONE_MORE, patient_id, date, limit)

    def add_waiting(self, patient_id: int, date: dt.date, limit: int) -> bool:
        return self._one_more(_WAIT_ONE_MORE, patient_id, date, limit)

    def release_waiting(self, patient_id: int, date: dt.date) -> None:
        self._one_less(_WAIT_ONE_LESS, patient_id, date, "is on no waitlist")

    def _one_more(self, statement: Executable, patient_id: int, date: dt.date, limit: int) -> bool:
        insert_if_missing(
            self.connection,
            patient_day_counts,
            {"patient_id": patient_id, "date": date, "active": 0, "waiting": 0},
        )
        result = self.connection.execute(statement, {**_day(patient_id, date), "limit": limit})
        return result.rowcount == 1

    def release(self, patient_id: int, date: dt.date) -> None:
        self._one_less(_COUNT_ONE_LESS, patient_id, date, "holds no appointment")

    def _one_less(self, statement: Executable, patient_id: int, date: dt.date, none: str) -> None:
        if self.connection.execute(statement, _day(patient_id, date)).rowcount != 1:
            raise ValueError(f"patient {patient_id} {none} on {date}")

    def count(self, patient_id: int, date: dt.date) -> int:
        found = self.connection.execute(_ACTIVE, _day(patient_id, date)).scalar()
        return int(found or 0)


# --- appointments --------------------------------------------------------------------------------


def appointment_from_row(row: Row[Any]) -> Appointment:
    return Appointment(
        row.patient_id,
        row.doctor_id,
        row.date,
        row.period,
        row.number,
        row.booked_at,
        row.status,
        row.cancelled_at,
        row.cancelled_by,
        id=row.id,
    )


def appointment_to_row(appointment: Appointment) -> dict[str, Any]:
    return {
        "patient_id": appointment.patient_id,
        "doctor_id": appointment.doctor_id,
        "date": appointment.date,
        "period": appointment.period,
        "number": appointment.number,
        "status": appointment.status,
        "booked_at": appointment.booked_at,
        "cancelled_at": appointment.cancelled_at,
        "cancelled_by": appointment.cancelled_by,
        "holder_id": appointment.patient_id if appointment.holds_place else None,
    }


CHRONOLOGICAL = (
    appointments.c.date,
    case((appointments.c.period == Period.MORNING, 0), else_=1),
    appointments.c.number,
    appointments.c.id,
)


_ADD_APPOINTMENT = insert(appointments)
_HOLDING = (
    select(appointments)
    .where(_at_session(appointments), appointments.c.holder_id.is_not(None))
    .order_by(appointments.c.number)
)
_HELD_BY = select(appointments).where(
    _at_session(appointments), appointments.c.holder_id == bindparam("holder")
)


class SqlAppointments(Repository):
    def add(self, appointment: Appointment) -> Appointment:
        try:
            # A failed INSERT undoes only itself, on MariaDB and SQLite alike: no savepoint needed.
            result = self.connection.execute(_ADD_APPOINTMENT, appointment_to_row(appointment))
            key = result.inserted_primary_key
            assert key is not None
            appointment.id = int(key[0])
        except IntegrityError as error:
            # Two unique keys: the holder's (a patient's one place in a session) and the queue
            # number's. The rows, not the error text, say which one refused: a conflicting row is
            # committed (or ours) by the time the error comes, so READ COMMITTED sees it.
            if (
                is_duplicate_key(error)
                and appointment.holds_place
                and self.held_by(appointment.patient_id, appointment.session) is not None
            ):
                raise AlreadyBooked(
                    f"already holds a place in session {appointment.session}"
                ) from None
            raise
        return appointment

    def get(self, appointment_id: int) -> Appointment | None:
        row = self.connection.execute(
            select(appointments).where(appointments.c.id == appointment_id)
        ).first()
        return appointment_from_row(row) if row else None

    def save(self, appointment: Appointment) -> None:
        self.connection.execute(
            update(appointments)
            .where(appointments.c.id == appointment.id)
            .values(appointment_to_row(appointment))
        )

    def holding(self, session: Session) -> Sequence[Appointment]:
        rows = self.connection.execute(_HOLDING, _session(session))
        return [appointment_from_row(row) for row in rows]

    def held_by(self, patient_id: int, session: Session) -> Appointment | None:
        row = self.connection.execute(_HELD_BY, {**_session(session), "holder": patient_id}).first()
        return appointment_from_row(row) if row else None

    def of_patient(
        self, patient_id: int, date: dt.date | None = None, *, since: dt.date | None = None
    ) -> Sequence[Appointment]:
        return self._where(appointments.c.patient_id == patient_id, date, since)

    def of_doctor(
        self, doctor_id: int, date: dt.date | None = None, *, since: dt.date | None = None
    ) -> Sequence[Appointment]:
        return self._where(appointments.c.doctor_id == doctor_id, date, since)

    def no_shows(self, patient_id: int, hospital_id: int, since: dt.date) -> Sequence[dt.date]:
        a = appointments.c
        query = (
            select(a.date)
            .join(doctors, doctors.c.id == a.doctor_id)
            .where(
                a.patient_id == patient_id,
                doctors.c.hospital_id == hospital_id,
                a.status == AppointmentStatus.NO_SHOW,
                a.date >= since,
            )
            .order_by(a.date)
        )
        return [row.date for row in self.connection.execute(query)]

    def _where(
        self, condition: Any, date: dt.date | None, since: dt.date | None = None
    ) -> list[Appointment]:
        query = select(appointments).where(condition)
        if date is not None:
            query = query.where(appointments.c.date == date)
        if since is not None:
            query = query.where(appointments.c.date >= since)
        rows = self.connection.execute(query.order_by(*CHRONOLOGICAL))
        return [appointment_from_row(row) for row in rows]
