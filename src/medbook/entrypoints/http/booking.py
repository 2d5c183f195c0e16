"""Booking over HTTP: a doctor's sessions, appointments and their cancelling, and a doctor's leave
(which cancels the bookings of the session taken off)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from attrs import field, frozen

from medbook.domain.booking.appointments import Appointment
from medbook.domain.booking.attendance import HospitalPolicy, NoShowRule
from medbook.domain.booking.reminders import CLOCK_TIME, ReminderPolicy, clock_time
from medbook.domain.booking.sessions import OfferedSession
from medbook.domain.shared.calendar import Period
from medbook.domain.shared.errors import InvalidValue
from medbook.entrypoints.http.api import Call, Operation, Route
from medbook.entrypoints.http.schema import schema
from medbook.ports.booking import AppointmentView

if TYPE_CHECKING:
    from medbook.bootstrap import Services

# --- commands ------------------------------------------------------------------------------------


@frozen
class NewLeave:
    date: dt.date
    period: Period


@frozen
class NewAppointment:
    doctor_id: int
    date: dt.date
    period: Period


@frozen
class Attendance:
    attended: bool


#: An evening reminder's local time: HH:MM, 00:00 to 23:59.
EVENING_AT = schema(pattern=f"^{CLOCK_TIME.pattern}$")


@frozen
class ReminderTimes:
    evening_at: str = field(metadata=EVENING_AT)
    before_start_minutes: int = field(metadata=schema(minimum=15, maximum=720))


@frozen
class NoShows:
    limit: int = field(metadata=schema(minimum=1, maximum=20))
    window_days: int = field(metadata=schema(minimum=1, maximum=365))
    block_days: int = field(metadata=schema(minimum=1, maximum=365))


@frozen
class HospitalPolicyBody:
    """null for either: the deployment's reminder times; no no-show rule."""

    reminders: ReminderTimes | None
    no_shows: NoShows | None


# --- queries -------------------------------------------------------------------------------------


@frozen
class SessionsQuery:
    start: dt.date | None = field(default=None, metadata={"name": "from"})
    to: dt.date | None = None


@frozen
class DateQuery:
    date: dt.date | None = None


# --- views ---------------------------------------------------------------------------------------


@frozen
class SessionOut:
    date: dt.date
    period: Period
    quota: int
    #: The places anyone may book now: neither booked nor held for a waitlist offer.
    remaining: int
    #: Places held for waitlist offers (each counts until it is booked or let go).
    held: int
    #: Patients on the session's waitlist, not offered a place yet.
    waiting: int

    @classmethod
    def of(cls, o: OfferedSession) -> SessionOut:
        return cls(o.session.date, o.session.period, o.quota, o.remaining, o.held, o.waiting)


@frozen
class HospitalPolicyOut:
    hospital_id: int
    reminders: ReminderTimes | None
    no_shows: NoShows | None

    @classmethod
    def of(cls, policy: HospitalPolicy) -> HospitalPolicyOut:
        r, n = policy.reminders, policy.no_shows
        return cls(
            policy.hospital_id,
            ReminderTimes(r.evening_at.strftime("%H:%M"), r.before_start_minutes) if r else None,
            NoShows(n.limit, n.window_days, n.block_days) if n else None,
        )


@frozen
class LeaveOut:
    date: dt.date
    period: Period
    cancelled_appointments: int


@frozen
class AppointmentOut:
    id: int
    status: str
    patient_id: int
    patient_name: str | None
    patient_phone: str | None
    doctor_id: int
    doctor_name: str
    hospital: str | None
    department: str | None
    date: dt.date
    period: Period
    number: int
    booked_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancelled_by: str | None

    @classmethod
    def of(cls, view: AppointmentView) -> AppointmentOut:
        a: Appointment = view.appointment
        assert a.id is not None
        return cls(
            a.id,
            a.status.value,
            a.patient_id,
            view.patient_name,
            view.patient_phone,
            a.doctor_id,
            view.doctor_name,
            view.hospital,
            view.department,
            a.date,
            a.period,
            a.number,
            a.booked_at,
            a.cancelled_at,
            a.cancelled_by.value if a.cancelled_by else None,
        )


# --- handlers ------------------------------------------------------------------------------------


def take_leave(s: Services, c: Call[NewLeave, None]) -> LeaveOut:
    taken = s.booking.take_leave_as(c.me, c.body.date, c.body.period)
    return LeaveOut(taken.leave.date, taken.leave.period, len(taken.cancelled))


def sessions(s: Services, c: Call[None, SessionsQuery]) -> list[SessionOut]:
    offered = s.booking.offered_sessions(c.params["doctor_id"], c.query.start, c.query.to)
    return [SessionOut.of(o) for o in offered]


def book(s: Services, c: Call[NewAppointment, None]) -> AppointmentOut:
    b = c.body
    return AppointmentOut.of(s.booking.book_as(c.me, b.doctor_id, b.date, b.period))


def my_appointments(s: Services, c: Call[None, DateQuery]) -> list[AppointmentOut]:
    return [AppointmentOut.of(a) for a in s.booking.appointments_as(c.me, c.query.date)]


def one_appointment(s: Services, c: Call[None, None]) -> AppointmentOut:
    return AppointmentOut.of(s.booking.appointment_as(c.me, c.params["appointment_id"]))


def cancel(s: Services, c: Call[None, None]) -> AppointmentOut:
    return AppointmentOut.of(s.booking.cancel_as(c.me, c.params["appointment_id"]))


def attendance(s: Services, c: Call[Attendance, None]) -> AppointmentOut:
    marked = s.booking.record_attendance_as(c.me, c.params["appointment_id"], c.body.attended)
    return AppointmentOut.of(marked)


def hospital_policy(s: Services, c: Call[None, None]) -> HospitalPolicyOut:
    return HospitalPolicyOut.of(s.booking.hospital_policy(c.params["hospital_id"]))


def set_hospital_policy(s: Services, c: Call[HospitalPolicyBody, None]) -> HospitalPolicyOut:
    body = c.body
    reminders = None
    if body.reminders is not None:
        evening = clock_time(body.reminders.evening_at, "reminders.evening_at")
        minutes = dt.timedelta(minutes=body.reminders.before_start_minutes)
        try:
            reminders = ReminderPolicy(evening, minutes)
        except InvalidValue as error:
            raise InvalidValue(
                "reminders.before_start_minutes", error.message.split(": ", 1)[-1]
            ) from None
    no_shows = None
    if body.no_shows is not None:
        n = body.no_shows
        no_shows = NoShowRule(n.limit, n.window_days, n.block_days)
    policy = s.booking.set_hospital_policy_as(c.me, c.params["hospital_id"], reminders, no_shows)
    return HospitalPolicyOut.of(policy)


# --- routes --------------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/doctors/me/leave",
        {
            "POST": Operation(
                take_leave,
                "A doctor takes a session off; its bookings are cancelled and the patients told",
                body=NewLeave,
                status=201,
                response=LeaveOut,
                errors=(403, 409, 422),
            )
        },
        "directory",  # listed with the doctor's own pages in the document
    ),
    Route(
        "/v1/doctors/{doctor_id:id}/sessions",
        {
            "GET": Operation(
                sessions,
                "A doctor's bookable sessions, with their places: `remaining` to book, `held` for "
                "waitlist offers, `waiting` on the waitlist",
                auth=False,
                query=SessionsQuery,
                response=list[SessionOut],
                errors=(404, 422),
            )
        },
        "booking",
    ),
    Route(
        "/v1/appointments",
        {
            "POST": Operation(
                book,
                "A patient books a session",
                body=NewAppointment,
                status=201,
                response=AppointmentOut,
                errors=(403, 404, 409, 422),
            ),
            "GET": Operation(
                my_appointments,
                "The caller's appointments (patient: own; doctor: theirs to see)",
                query=DateQuery,
                response=list[AppointmentOut],
                errors=(403, 422),
            ),
        },
        "booking",
    ),
    Route(
        "/v1/appointments/{appointment_id:id}",
        {
            "GET": Operation(
                one_appointment,
                "One of the caller's appointments",
                response=AppointmentOut,
                errors=(403, 404),
            )
        },
        "booking",
    ),
    Route(
        "/v1/appointments/{appointment_id:id}/attendance",
        {
            "POST": Operation(
                attendance,
                "The appointment's doctor, or an admin of their hospital, marks it attended or "
                "no-show once the session has started",
                body=Attendance,
                response=AppointmentOut,
                errors=(403, 404, 409, 422),
            )
        },
        "booking",
    ),
    Route(
        "/v1/hospitals/{hospital_id:id}/policy",
        {
            "GET": Operation(
                hospital_policy,
                "A hospital's own reminder times and no-show rule (null: the deployment's "
                "times; no rule)",
                auth=False,
                response=HospitalPolicyOut,
                errors=(404,),
            ),
            "PUT": Operation(
                set_hospital_policy,
                "An admin of the hospital sets its reminder times and no-show rule",
                body=HospitalPolicyBody,
                response=HospitalPolicyOut,
                errors=(403, 404, 422),
            ),
        },
        "directory",
    ),
    Route(
        "/v1/appointments/{appointment_id:id}/cancel",
        {
            "POST": Operation(
                cancel,
                "A patient cancels their appointment",
                response=AppointmentOut,
                errors=(403, 404, 409),
            )
        },
        "booking",
    ),
)
