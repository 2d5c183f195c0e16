"""The pure core of medbook: attrs classes and functions, no I/O, no clock, no framework."""

from medbook.domain.appointments import Appointment, AppointmentStatus, CancelledBy
from medbook.domain.directory import Department, Doctor, Gender, GeoPoint, Hospital, Rank
from medbook.domain.policy import BookingPolicy
from medbook.domain.schedule import (
    PERIODS,
    WEEKDAYS,
    Leave,
    OfferedSession,
    Period,
    Session,
    WeeklySchedule,
)

__all__ = [
    "PERIODS",
    "WEEKDAYS",
    "Appointment",
    "AppointmentStatus",
    "BookingPolicy",
    "CancelledBy",
    "Department",
    "Doctor",
    "Gender",
    "GeoPoint",
    "Hospital",
    "Leave",
    "OfferedSession",
    "Period",
    "Rank",
    "Session",
    "WeeklySchedule",
]
