"""Repositories over SQLAlchemy Core; rows are mapped to and from the domain's attrs classes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, case, exists, insert, select, update
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import IntegrityError

from medbook.adapters.sql import tables as t
from medbook.domain import (
    Appointment,
    Department,
    Doctor,
    GeoPoint,
    Hospital,
    Leave,
    Period,
    Session,
)
from medbook.domain.accounts.model import Admin, Credential, Patient
from medbook.domain.notifications.model import Notification
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import AlreadyBooked, AlreadyOnLeave, DepartmentExists, PhoneTaken
from medbook.ports.booking_ledger import Places


def _insert_if_missing(connection: Connection, table: Table, values: dict[str, Any]) -> None:
    """Insert a row unless one with the same key exists; a racing insert of the same key is fine."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.execute(sqlite.insert(table).values(values).on_conflict_do_nothing())
    else:
        statement = mysql.insert(table).values(values)
        first = next(iter(values))
        # A no-op update rather than INSERT IGNORE, which would also swallow foreign-key errors.
        connection.execute(statement.on_duplicate_key_update({first: statement.inserted[first]}))


def _session_is(table: Table, session: Session) -> Any:
    return and_(
        table.c.doctor_id == session.doctor_id,
        table.c.date == session.date,
        table.c.period == session.period,
    )


class _Repository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _insert(self, table: Table, values: dict[str, Any]) -> int:
        result = self.connection.execute(insert(table).values(values))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


# --- directory -----------------------------------------------------------------------------------


def hospital_from_row(row: Row[Any]) -> Hospital:
    location = GeoPoint(row.lat, row.lng) if row.lat is not None else None
    return Hospital(row.name, row.address, location, row.timezone, id=row.id)


def hospital_to_row(hospital: Hospital) -> dict[str, Any]:
    location = hospital.location
    return {
        "name": hospital.name,
        "address": hospital.address,
        "lat": location.lat if location else None,
        "lng": location.lng if location else None,
        "timezone": hospital.timezone,
    }


class SqlHospitals(_Repository):
    def add(self, hospital: Hospital) -> Hospital:
        hospital.id = self._insert(t.hospitals, hospital_to_row(hospital))
        return hospital

    def get(self, hospital_id: int) -> Hospital | None:
        row = self.connection.execute(
            select(t.hospitals).where(t.hospitals.c.id == hospital_id)
        ).first()
        return hospital_from_row(row) if row else None

    def list(self) -> Sequence[Hospital]:
        rows = self.connection.execute(select(t.hospitals).order_by(t.hospitals.c.id))
        return [hospital_from_row(row) for row in rows]


class SqlDepartments(_Repository):
    def add(self, department: Department) -> Department:
        try:
            department.id = self._insert(
                t.departments,
                {
                    "hospital_id": department.hospital_id,
                    "name": department.name,
                    "description": department.description,
                },
            )
        except IntegrityError as error:
            if "name" not in str(error.orig):
                raise
            raise DepartmentExists(
                f"the hospital already has a department {department.name!r}"
            ) from None
        return department

    def get(self, department_id: int) -> Department | None:
        row = self.connection.execute(
            select(t.departments).where(t.departments.c.id == department_id)
        ).first()
        return _department(row) if row else None

    def of_hospital(self, hospital_id: int) -> Sequence[Department]:
        rows = self.connection.execute(
            select(t.departments)
            .where(t.departments.c.hospital_id == hospital_id)
            .order_by(t.departments.c.id)
        )
        return [_department(row) for row in rows]


def _department(row: Row[Any]) -> Department:
    return Department(row.hospital_id, row.name, row.description, id=row.id)


DOCTOR_FIELDS = (
    "hospital_id",
    "department_id",
    "name",
    "phone",
    "rank",
    "gender",
    "staff_number",
    "specialty",
    "birth_date",
    "avatar_url",
    "avatar_key",
    "schedule",
    "verified",
)


def doctor_from_row(row: Row[Any]) -> Doctor:
    return Doctor(**{name: getattr(row, name) for name in (*DOCTOR_FIELDS, "id")})


def doctor_to_row(doctor: Doctor) -> dict[str, Any]:
    return {name: getattr(doctor, name) for name in DOCTOR_FIELDS}


class SqlDoctors(_Repository):
    def add(self, doctor: Doctor) -> Doctor:
        doctor.id = self._insert(t.doctors, doctor_to_row(doctor))
        return doctor

    def get(
        self, doctor_id: int, *, for_update: bool = False, for_share: bool = False
    ) -> Doctor | None:
        query = select(t.doctors).where(t.doctors.c.id == doctor_id)
        if for_update or for_share:
            query = query.with_for_update(read=not for_update)
        row = self.connection.execute(query).first()
        return doctor_from_row(row) if row else None

    def save(self, doctor: Doctor) -> None:
        self.connection.execute(
            update(t.doctors).where(t.doctors.c.id == doctor.id).values(doctor_to_row(doctor))
        )

    def of_department(self, department_id: int, *, verified_only: bool = True) -> Sequence[Doctor]:
        query = select(t.doctors).where(t.doctors.c.department_id == department_id)
        if verified_only:
            query = query.where(t.doctors.c.verified.is_(True))
        rows = self.connection.execute(query.order_by(t.doctors.c.id))
        return [doctor_from_row(row) for row in rows]


class SqlLeaves(_Repository):
    def add(self, leave: Leave) -> None:
        if self.exists(leave.session):
            raise AlreadyOnLeave(f"already on leave for session {leave.session}")
        self.connection.execute(
            insert(t.doctor_leaves).values(
                doctor_id=leave.doctor_id, date=leave.date, period=leave.period
            )
        )

    def exists(self, session: Session) -> bool:
        return bool(
            self.connection.execute(
                select(exists().where(_session_is(t.doctor_leaves, session)))
            ).scalar()
        )

    def between(self, doctor_id: int, start: dt.date, end: dt.date) -> set[tuple[dt.date, Period]]:
        c = t.doctor_leaves.c
        rows = self.connection.execute(
            select(c.date, c.period).where(c.doctor_id == doctor_id, c.date >= start, c.date <= end)
        )
        return {(row.date, row.period) for row in rows}


# --- the ledgers ---------------------------------------------------------------------------------


class SqlPlaces(_Repository):
    def ensure(self, session: Session, quota: int) -> None:
        # A plain read first: under READ COMMITTED it takes no lock, so the common case (the row
        # exists and other bookings hold its lock) does not queue behind them.
        if self.connection.execute(
            select(exists().where(_session_is(t.session_places, session)))
        ).scalar():
            return
        _insert_if_missing(
            self.connection,
            t.session_places,
            {
                "doctor_id": session.doctor_id,
                "date": session.date,
                "period": session.period,
                "quota": quota,
                "booked": 0,
                "issued": 0,
            },
        )

    def lock(self, session: Session) -> Places:
        c = t.session_places.c
        row = self.connection.execute(
            select(c.quota, c.booked)
            .where(_session_is(t.session_places, session))
            .with_for_update()
        ).one()
        return Places(session, row.quota, row.booked)

    def take(self, session: Session) -> int | None:
        c = t.session_places.c
        result = self.connection.execute(
            update(t.session_places)
            .where(_session_is(t.session_places, session), c.booked < c.quota)
            .values(booked=c.booked + 1, issued=c.issued + 1)
        )
        if result.rowcount != 1:
            return None
        return int(
            self.connection.execute(
                select(c.issued).where(_session_is(t.session_places, session))
            ).scalar_one()
        )

    def release(self, session: Session, count: int = 1) -> None:
        if count == 0:
            return
        c = t.session_places.c
        result = self.connection.execute(
            update(t.session_places)
            .where(_session_is(t.session_places, session), c.booked >= count)
            .values(booked=c.booked - count)
        )
        if result.rowcount != 1:
            raise ValueError(f"cannot release {count} places of session {session}")

    def resize(self, session: Session, quota: int) -> None:
        c = t.session_places.c
        self.connection.execute(
            update(t.session_places)
            .where(_session_is(t.session_places, session))
            .values(quota=case((c.booked > quota, c.booked), else_=quota))
        )

    def between(
        self, doctor_id: int, start: dt.date, end: dt.date
    ) -> dict[tuple[dt.date, Period], Places]:
        c = t.session_places.c
        rows = self.connection.execute(
            select(c.date, c.period, c.quota, c.booked).where(
                c.doctor_id == doctor_id, c.date >= start, c.date <= end
            )
        )
        return {
            (row.date, row.period): Places(
                Session(doctor_id, row.date, row.period), row.quota, row.booked
            )
            for row in rows
        }


class SqlDailyCounts(_Repository):
    def _key(self, patient_id: int, date: dt.date) -> Any:
        c = t.patient_day_counts.c
        return and_(c.patient_id == patient_id, c.date == date)

    def ensure(self, patient_id: int, date: dt.date) -> None:
        if self.connection.execute(select(exists().where(self._key(patient_id, date)))).scalar():
            return
        _insert_if_missing(
            self.connection,
            t.patient_day_counts,
            {"patient_id": patient_id, "date": date, "active": 0},
        )

    def take(self, patient_id: int, date: dt.date, limit: int) -> bool:
        c = t.patient_day_counts.c
        result = self.connection.execute(
            update(t.patient_day_counts)
            .where(self._key(patient_id, date), c.active < limit)
            .values(active=c.active + 1)
        )
        return result.rowcount == 1

    def release(self, patient_id: int, date: dt.date) -> None:
        c = t.patient_day_counts.c
        result = self.connection.execute(
            update(t.patient_day_counts)
            .where(self._key(patient_id, date), c.active > 0)
            .values(active=c.active - 1)
        )
        if result.rowcount != 1:
            raise ValueError(f"patient {patient_id} holds no appointment on {date}")

    def count(self, patient_id: int, date: dt.date) -> int:
        c = t.patient_day_counts.c
        found = self.connection.execute(
            select(c.active).where(self._key(patient_id, date))
        ).scalar()
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


_CHRONOLOGICAL = (
    t.appointments.c.date,
    case((t.appointments.c.period == Period.MORNING, 0), else_=1),
    t.appointments.c.number,
    t.appointments.c.id,
)


class SqlAppointments(_Repository):
    def add(self, appointment: Appointment) -> Appointment:
        try:
            # A failed INSERT undoes only itself, on MariaDB and SQLite alike: no savepoint needed.
            appointment.id = self._insert(t.appointments, appointment_to_row(appointment))
        except IntegrityError as error:
            if "holder" in str(error.orig):
                raise AlreadyBooked(
                    f"already holds a place in session {appointment.session}"
                ) from None
            raise
        return appointment

    def get(self, appointment_id: int) -> Appointment | None:
        row = self.connection.execute(
            select(t.appointments).where(t.appointments.c.id == appointment_id)
        ).first()
        return appointment_from_row(row) if row else None

    def save(self, appointment: Appointment) -> None:
        self.connection.execute(
            update(t.appointments)
            .where(t.appointments.c.id == appointment.id)
            .values(appointment_to_row(appointment))
        )

    def holding(self, session: Session) -> Sequence[Appointment]:
        rows = self.connection.execute(
            select(t.appointments)
            .where(_session_is(t.appointments, session), t.appointments.c.holder_id.is_not(None))
            .order_by(t.appointments.c.number)
        )
        return [appointment_from_row(row) for row in rows]

    def held_by(self, patient_id: int, session: Session) -> Appointment | None:
        row = self.connection.execute(
            select(t.appointments).where(
                _session_is(t.appointments, session), t.appointments.c.holder_id == patient_id
            )
        ).first()
        return appointment_from_row(row) if row else None

    def of_patient(self, patient_id: int, date: dt.date | None = None) -> Sequence[Appointment]:
        return self._where(t.appointments.c.patient_id == patient_id, date)

    def of_doctor(self, doctor_id: int, date: dt.date | None = None) -> Sequence[Appointment]:
        return self._where(t.appointments.c.doctor_id == doctor_id, date)

    def _where(self, condition: Any, date: dt.date | None) -> list[Appointment]:
        query = select(t.appointments).where(condition)
        if date is not None:
            query = query.where(t.appointments.c.date == date)
        rows = self.connection.execute(query.order_by(*_CHRONOLOGICAL))
        return [appointment_from_row(row) for row in rows]


# --- accounts ------------------------------------------------------------------------------------


def _credential(row: Row[Any]) -> Credential:
    return Credential(row.role, row.phone, row.user_id, row.password_hash, id=row.id)


class SqlCredentials(_Repository):
    def add(self, credential: Credential) -> Credential:
        try:
            credential.id = self._insert(
                t.credentials,
                {
                    "role": credential.role,
                    "phone": credential.phone,
                    "user_id": credential.user_id,
                    "password_hash": credential.password_hash,
                },
            )
        except IntegrityError:
            raise PhoneTaken(
                f"{credential.phone} already has a {credential.role.value} account"
            ) from None
        return credential

    def find(self, role: Role, phone: str) -> Credential | None:
        c = t.credentials.c
        row = self.connection.execute(
            select(t.credentials).where(c.role == role, c.phone == phone)
        ).first()
        return _credential(row) if row else None

    def of_user(self, role: Role, user_id: int) -> Credential | None:
        c = t.credentials.c
        row = self.connection.execute(
            select(t.credentials).where(c.role == role, c.user_id == user_id)
        ).first()
        return _credential(row) if row else None

    def actor(self, role: Role, user_id: int) -> Actor | None:
        c, a = t.credentials.c, t.admins.c
        admin_of_login = t.credentials.outerjoin(
            t.admins, and_(c.role == Role.ADMIN, a.id == c.user_id)
        )
        row = self.connection.execute(
            select(a.hospital_id)
            .select_from(admin_of_login)
            .where(c.role == role, c.user_id == user_id)
        ).first()
        if row is None or (role is Role.ADMIN and row.hospital_id is None):
            return None
        return Actor(user_id, role, row.hospital_id)

    def save(self, credential: Credential) -> None:
        self.connection.execute(
            update(t.credentials)
            .where(t.credentials.c.id == credential.id)
            .values(password_hash=credential.password_hash)
        )


PATIENT_FIELDS = (
    "name",
    "phone",
    "created_at",
    "legal_name",
    "birth_date",
    "sex",
    "id_number_last4",
)


def patient_from_row(row: Row[Any]) -> Patient:
    return Patient(**{name: getattr(row, name) for name in (*PATIENT_FIELDS, "id")})


class SqlPatients(_Repository):
    def add(self, patient: Patient) -> Patient:
        patient.id = self._insert(t.patients, {n: getattr(patient, n) for n in PATIENT_FIELDS})
        return patient

    def get(self, patient_id: int) -> Patient | None:
        row = self.connection.execute(
            select(t.patients).where(t.patients.c.id == patient_id)
        ).first()
        return patient_from_row(row) if row else None

    def save(self, patient: Patient) -> None:
        self.connection.execute(
            update(t.patients)
            .where(t.patients.c.id == patient.id)
            .values({n: getattr(patient, n) for n in PATIENT_FIELDS})
        )


def _admin(row: Row[Any]) -> Admin:
    return Admin(row.hospital_id, row.name, row.phone, id=row.id)


class SqlAdmins(_Repository):
    def add(self, admin: Admin) -> Admin:
        admin.id = self._insert(
            t.admins, {"hospital_id": admin.hospital_id, "name": admin.name, "phone": admin.phone}
        )
        return admin

    def get(self, admin_id: int) -> Admin | None:
        row = self.connection.execute(select(t.admins).where(t.admins.c.id == admin_id)).first()
        return _admin(row) if row else None

    def of_hospital(self, hospital_id: int) -> Sequence[Admin]:
        rows = self.connection.execute(
            select(t.admins).where(t.admins.c.hospital_id == hospital_id).order_by(t.admins.c.id)
        )
        return [_admin(row) for row in rows]


NOTIFICATION_FIELDS = (
    "recipient_role",
    "recipient_id",
    "kind",
    "title",
    "body",
    "created_at",
    "read_at",
)


def notification_from_row(row: Row[Any]) -> Notification:
    fields = {name: getattr(row, name) for name in (*NOTIFICATION_FIELDS, "id")}
    return Notification(**fields, data=json.loads(row.data))


def notification_to_row(notification: Notification) -> dict[str, Any]:
    row = {name: getattr(notification, name) for name in NOTIFICATION_FIELDS}
    row["data"] = json.dumps(notification.data, ensure_ascii=False, sort_keys=True)
    return row


class SqlNotifications(_Repository):
    def add(self, notification: Notification) -> Notification:
        notification.id = self._insert(t.notifications, notification_to_row(notification))
        return notification

    def get(self, notification_id: int) -> Notification | None:
        row = self.connection.execute(
            select(t.notifications).where(t.notifications.c.id == notification_id)
        ).first()
        return notification_from_row(row) if row else None

    def save(self, notification: Notification) -> None:
        self.connection.execute(
            update(t.notifications)
            .where(t.notifications.c.id == notification.id)
            .values(notification_to_row(notification))
        )

    def of_recipient(
        self, role: Role, recipient_id: int, *, unread_only: bool = False, limit: int = 100
    ) -> Sequence[Notification]:
        c = t.notifications.c
        query = select(t.notifications).where(
            c.recipient_role == role, c.recipient_id == recipient_id
        )
        if unread_only:
            query = query.where(c.read_at.is_(None))
        rows = self.connection.execute(query.order_by(c.id.desc()).limit(limit))
        return [notification_from_row(row) for row in rows]
