"""An appointment: one patient's place, with a queue number, in one session of one doctor."""

from __future__ import annotations

import datetime as dt
import enum

from attrs import define

from medbook.domain.shared.calendar import Period, Session
from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import InvalidTransition, InvalidValue, NotCancellable


class AppointmentStatus(enum.Enum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


class CancelledBy(enum.Enum):
    PATIENT = "patient"
    DOCTOR_LEAVE = "doctor_leave"


@define(slots=False, eq=False)
class Appointment(Entity):
    """booked → cancelled | attended | no_show. Every status but cancelled holds a place."""

    patient_id: int
    doctor_id: int
    date: dt.date
    period: Period
    number: int
    booked_at: dt.datetime
    status: AppointmentStatus = AppointmentStatus.BOOKED
    cancelled_at: dt.datetime | None = None
    cancelled_by: CancelledBy | None = None
    id: int | None = None

    @classmethod
    def book(cls, session: Session, patient_id: int, number: int, now: dt.datetime) -> Appointment:
        if number < 1:
            raise InvalidValue("number", "queue numbers start at 1")
        if now.tzinfo is None:
            raise InvalidValue("booked_at", "must be timezone-aware")
        return cls(patient_id, session.doctor_id, session.date, session.period, number, now)

    @property
    def session(self) -> Session:
        return Session(self.doctor_id, self.date, self.period)

    @property
    def holds_place(self) -> bool:
        return self.status is not AppointmentStatus.CANCELLED

    def cancel(self, now: dt.datetime, by: CancelledBy) -> None:
        if self.status is not AppointmentStatus.BOOKED:
            raise NotCancellable(f"an appointment that is {self.status.value} cannot be cancelled")
        self.status = AppointmentStatus.CANCELLED
        self.cancelled_at = now
        self.cancelled_by = by

    def attend(self) -> None:
        self._finish(AppointmentStatus.ATTENDED)

    def mark_no_show(self) -> None:
        self._finish(AppointmentStatus.NO_SHOW)

    def _finish(self, status: AppointmentStatus) -> None:
        if self.status is not AppointmentStatus.BOOKED:
            raise InvalidTransition(
                f"an appointment that is {self.status.value} cannot become {status.value}"
            )
        self.status = status
