"""The routes of the v1 API (see ../shared/API.md) and their handlers."""

from __future__ import annotations

from typing import Any

from medbook.domain import WEEKDAYS, WeeklySchedule
from medbook.domain.shared.errors import AppointmentNotFound
from medbook.entrypoints.http import views as v
from medbook.entrypoints.http.api import Call, Operation, Route
from medbook.services.directory import DoctorProfileChanges

S = Any  # the bootstrap.Services of the app

# --- accounts ------------------------------------------------------------------------------------


def register_patient(s: S, c: Call) -> v.PatientCreated:
    p = s.accounts.register_patient(c.body.phone, c.body.name, c.body.password, client=c.client)
    return v.PatientCreated(p.id, p.phone, p.name)


def register_doctor(s: S, c: Call) -> v.DoctorCreated:
    d = s.accounts.register_doctor(c.body.phone, c.body.name, c.body.password, client=c.client)
    return v.DoctorCreated(d.id, d.phone, d.name, d.verified)


def login(s: S, c: Call) -> v.LoggedIn:
    r = s.accounts.login(c.body.phone, c.body.password, c.body.role, client=c.client)
    return v.LoggedIn(r.actor.id, r.name, r.actor.role, r.token, r.avatar_url)


def doctor_profile(s: S, doctor: Any) -> v.DoctorProfile:
    hospital = s.directory.hospital(doctor.hospital_id) if doctor.hospital_id else None
    departments = s.directory.departments(doctor.hospital_id) if doctor.hospital_id else []
    department = next((d for d in departments if d.id == doctor.department_id), None)
    return v.DoctorProfile.of(doctor, hospital, department)


def me(s: S, c: Call) -> v.Me:
    p = s.accounts.me(c.me)
    base = {"id": p.actor.id, "role": p.actor.role, "name": p.name, "phone": p.phone}
    if p.patient is not None:
        return v.Me(
            **base,
            identity_verified=p.patient.identity_verified,
            birth_date=p.patient.birth_date,
            sex=p.patient.sex,
        )
    if p.doctor is not None:
        return v.Me(**base, hospital_id=p.doctor.hospital_id, doctor=doctor_profile(s, p.doctor))
    return v.Me(**base, hospital_id=p.actor.hospital_id)


def verify_identity(s: S, c: Call) -> v.IdentityVerified:
    checked = s.accounts.verify_identity(c.me, c.body.name, c.body.id_number)
    patient = checked.patient
    return v.IdentityVerified(True, patient.birth_date, patient.sex, checked.age)


def approve_doctor(s: S, c: Call) -> v.ApprovalResult:
    d = s.accounts.approve_doctor(c.me, c.params["doctor_id"], c.body.approved)
    return v.ApprovalResult(d.id, d.verified)


# --- directory -----------------------------------------------------------------------------------


def hospitals(s: S, c: Call) -> list[v.HospitalOut]:
    return [v.HospitalOut.of(n) for n in s.directory.hospitals_near(c.query.lat, c.query.lng)]


def departments(s: S, c: Call) -> list[v.DepartmentOut]:
    return [v.DepartmentOut.of(d) for d in s.directory.departments(c.params["hospital_id"])]


def add_department(s: S, c: Call) -> v.DepartmentOut:
    d = s.directory.add_department_as(
        c.me, c.params["hospital_id"], c.body.name, c.body.description
    )
    return v.DepartmentOut.of(d)


def department_doctors(s: S, c: Call) -> list[v.DoctorSummary]:
    return [v.DoctorSummary.of(d) for d in s.directory.doctors(c.params["department_id"])]


def public_doctor(s: S, c: Call) -> v.PublicDoctorProfile:
    return v.PublicDoctorProfile.of(
        doctor_profile(s, s.directory.public_doctor(c.params["doctor_id"]))
    )


def edit_profile(s: S, c: Call) -> v.DoctorProfile:
    b: v.ProfileEdit = c.body
    changes = DoctorProfileChanges(
        b.gender, b.hospital_id, b.department_id, b.staff_number, b.rank, b.specialty, b.birth_date
    )
    return doctor_profile(s, s.directory.update_my_profile(c.me, changes))


def set_schedule(s: S, c: Call) -> v.Schedule:
    days = {
        day: {"morning": getattr(c.body, day).morning, "afternoon": getattr(c.body, day).afternoon}
        for day in WEEKDAYS
    }
    doctor = s.directory.set_my_schedule(c.me, WeeklySchedule.from_mapping(days))
    return doctor_profile(s, doctor).schedule


def take_leave(s: S, c: Call) -> v.LeaveOut:
    taken = s.booking.take_leave_as(c.me, c.body.date, c.body.period)
    return v.LeaveOut(taken.leave.date, taken.leave.period, len(taken.cancelled))


# --- booking -------------------------------------------------------------------------------------


def sessions(s: S, c: Call) -> list[v.SessionOut]:
    offered = s.booking.offered_sessions(c.params["doctor_id"], c.query.start, c.query.to)
    return [v.SessionOut(o.session.date, o.session.period, o.quota, o.remaining) for o in offered]


def book(s: S, c: Call) -> v.AppointmentOut:
    b: v.NewAppointment = c.body
    return v.AppointmentOut.of(s.booking.book_as(c.me, b.doctor_id, b.date, b.period))


def my_appointments(s: S, c: Call) -> list[v.AppointmentOut]:
    return [v.AppointmentOut.of(a) for a in s.booking.appointments_as(c.me, c.query.date)]


def one_appointment(s: S, c: Call) -> v.AppointmentOut:
    appointment_id = c.params["appointment_id"]
    for view in s.booking.appointments_as(c.me):
        if view.appointment.id == appointment_id:
            return v.AppointmentOut.of(view)
    raise AppointmentNotFound(f"no appointment {appointment_id}")


def cancel(s: S, c: Call) -> v.AppointmentOut:
    return v.AppointmentOut.of(s.booking.cancel_as(c.me, c.params["appointment_id"]))


# --- notifications -------------------------------------------------------------------------------


def notifications(s: S, c: Call) -> list[v.NotificationOut]:
    found = s.notifications.of_actor(c.me, unread_only=c.query.unread_only)
    return [v.NotificationOut.of(n) for n in found]


def read_notification(s: S, c: Call) -> v.NotificationOut:
    return v.NotificationOut.of(s.notifications.mark_read(c.me, c.params["notification_id"]))


# --- files ---------------------------------------------------------------------------------------

UPLOAD_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


def upload(s: S, c: Call) -> v.Uploaded:
    u = s.uploads.upload(c.me, c.body.stream, c.body.filename)
    return v.Uploaded(u.url, u.content_type, u.size)


def set_avatar(s: S, c: Call) -> v.Avatar:
    return v.Avatar(s.uploads.set_avatar(c.me, c.body.stream).avatar_url)


# --- the table -----------------------------------------------------------------------------------

ANYONE = {"auth": False}

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/patients",
        {
            "POST": Operation(
                register_patient,
                "Register a patient",
                **ANYONE,
                body=v.Register,
                status=201,
                response=v.PatientCreated,
                errors=(409, 422, 429),
            )
        },
        "accounts",
    ),
    Route(
        "/v1/doctors",
        {
            "POST": Operation(
                register_doctor,
                "Register a doctor (unverified)",
                **ANYONE,
                body=v.Register,
                status=201,
                response=v.DoctorCreated,
                errors=(409, 422, 429),
            )
        },
        "accounts",
    ),
    Route(
        "/v1/sessions",
        {
            "POST": Operation(
                login,
                "Log in: a bearer token",
                **ANYONE,
                body=v.Login,
                response=v.LoggedIn,
                errors=(401, 422, 429),
            )
        },
        "accounts",
    ),
    Route("/v1/me", {"GET": Operation(me, "The caller's own profile", response=v.Me)}, "accounts"),
    Route(
        "/v1/patients/me/identity",
        {
            "POST": Operation(
                verify_identity,
                "Verify a patient's resident identity number",
                body=v.VerifyIdentity,
                response=v.IdentityVerified,
                errors=(403, 422),
            )
        },
        "accounts",
    ),
    Route(
        "/v1/doctors/{doctor_id:id}/approval",
        {
            "POST": Operation(
                approve_doctor,
                "An admin of the doctor's hospital approves them",
                body=v.Approval,
                response=v.ApprovalResult,
                errors=(403, 404, 422),
            )
        },
        "accounts",
    ),
    Route(
        "/v1/hospitals",
        {
            "GET": Operation(
                hospitals,
                "Hospitals, nearest first with lat/lng",
                **ANYONE,
                query=v.NearQuery,
                response=list[v.HospitalOut],
                errors=(422,),
            )
        },
        "directory",
    ),
    Route(
        "/v1/hospitals/{hospital_id:id}/departments",
        {
            "GET": Operation(
                departments,
                "A hospital's departments",
                **ANYONE,
                response=list[v.DepartmentOut],
                errors=(404,),
            ),
            "POST": Operation(
                add_department,
                "An admin of the hospital adds a department",
                body=v.NewDepartment,
                status=201,
                response=v.DepartmentOut,
                errors=(403, 404, 409, 422),
            ),
        },
        "directory",
    ),
    Route(
        "/v1/departments/{department_id:id}/doctors",
        {
            "GET": Operation(
                department_doctors,
                "A department's verified doctors",
                **ANYONE,
                response=list[v.DoctorSummary],
                errors=(404,),
            )
        },
        "directory",
    ),
    Route(
        "/v1/doctors/{doctor_id:id}",
        {
            "GET": Operation(
                public_doctor,
                "A verified doctor's public profile",
                **ANYONE,
                response=v.PublicDoctorProfile,
                errors=(404,),
            )
        },
        "directory",
    ),
    Route(
        "/v1/doctors/me",
        {
            "PATCH": Operation(
                edit_profile,
                "A doctor edits their profile",
                body=v.ProfileEdit,
                response=v.DoctorProfile,
                errors=(403, 422),
            )
        },
        "directory",
    ),
    Route(
        "/v1/doctors/me/schedule",
        {
            "PUT": Operation(
                set_schedule,
                "A doctor sets their weekly schedule (quota per session, 0 = off)",
                body=v.Schedule,
                response=v.Schedule,
                errors=(403, 422),
            )
        },
        "directory",
    ),
    Route(
        "/v1/doctors/me/avatar",
        {
            "PUT": Operation(
                set_avatar,
                "A doctor uploads their avatar (PNG or JPEG); the old one is deleted",
                files=("image/png", "image/jpeg"),
                response=v.Avatar,
                errors=(403, 413, 415, 422),
            )
        },
        "directory",
    ),
    Route(
        "/v1/uploads",
        {
            "POST": Operation(
                upload,
                "Upload a file (PNG, JPEG, GIF, WebP or PDF; its type is read from its bytes)",
                files=UPLOAD_TYPES,
                status=201,
                response=v.Uploaded,
                errors=(413, 415, 422),
            )
        },
        "files",
    ),
    Route(
        "/v1/doctors/me/leave",
        {
            "POST": Operation(
                take_leave,
                "A doctor takes a session off; its bookings are cancelled and the patients told",
                body=v.NewLeave,
                status=201,
                response=v.LeaveOut,
                errors=(403, 409, 422),
            )
        },
        "directory",
    ),
    Route(
        "/v1/doctors/{doctor_id:id}/sessions",
        {
            "GET": Operation(
                sessions,
                "A doctor's bookable sessions with places left",
                **ANYONE,
                query=v.SessionsQuery,
                response=list[v.SessionOut],
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
                body=v.NewAppointment,
                status=201,
                response=v.AppointmentOut,
                errors=(403, 404, 409, 422),
            ),
            "GET": Operation(
                my_appointments,
                "The caller's appointments (patient: own; doctor: theirs to see)",
                query=v.DateQuery,
                response=list[v.AppointmentOut],
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
                response=v.AppointmentOut,
                errors=(403, 404),
            )
        },
        "booking",
    ),
    Route(
        "/v1/appointments/{appointment_id:id}/cancel",
        {
            "POST": Operation(
                cancel,
                "A patient cancels their appointment",
                response=v.AppointmentOut,
                errors=(403, 404, 409),
            )
        },
        "booking",
    ),
    Route(
        "/v1/notifications",
        {
            "GET": Operation(
                notifications,
                "The caller's notifications, newest first",
                query=v.UnreadQuery,
                response=list[v.NotificationOut],
                errors=(422,),
            )
        },
        "notifications",
    ),
    Route(
        "/v1/notifications/{notification_id:id}/read",
        {
            "POST": Operation(
                read_notification,
                "Mark a notification read",
                response=v.NotificationOut,
                errors=(404,),
            )
        },
        "notifications",
    ),
)

__all__ = ["ROUTES"]
