"""The pure core of medbook: attrs classes and functions, no I/O, no clock, no framework.

One package per bounded context (``accounts``, ``directory``, ``booking``, ``notifications``,
``files``, ``chat``) and the shared kernel (``shared``) they all build on; see
docs/architecture.md. The names below are the ones library users reach for most, re-exported for
convenience.
"""

from medbook.domain.booking.appointments import Appointment, AppointmentStatus, CancelledBy
from medbook.domain.booking.policy import BookingPolicy
from medbook.domain.booking.sessions import Leave, OfferedSession
from medbook.domain.directory.model import Department, Doctor, Hospital, Rank
from medbook.domain.shared.calendar import PERIODS, WEEKDAYS, Period, Session, WeeklySchedule
from medbook.domain.shared.geo import GeoPoint
from medbook.domain.shared.people import Sex

__all__ = [
    "PERIODS",
    "WEEKDAYS",
    "Appointment",
    "AppointmentStatus",
    "BookingPolicy",
    "CancelledBy",
    "Department",
    "Doctor",
    "GeoPoint",
    "Hospital",
    "Leave",
    "OfferedSession",
    "Period",
    "Rank",
    "Session",
    "Sex",
    "WeeklySchedule",
]
