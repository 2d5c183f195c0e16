"""The waitlists of full sessions over HTTP: a patient joins one, lists and reads their entries,
leaves one, and books the place an offer holds for them (docs/booking.md, "Waitlist")."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from attrs import frozen

from medbook.domain.booking.waitlist import WaitlistEntry, WaitlistStatus
from medbook.domain.shared.calendar import Period
from medbook.entrypoints.http.api import Call, Operation, Route
from medbook.entrypoints.http.booking import AppointmentOut

if TYPE_CHECKING:
    from medbook.bootstrap import Services

# --- commands ------------------------------------------------------------------------------------


@frozen
class NewWaitlistEntry:
    doctor_id: int
    date: dt.date
    period: Period


# --- views ---------------------------------------------------------------------------------------


@frozen
class WaitlistEntryOut:
    id: int
    doctor_id: int
    date: dt.date
    period: Period
    status: WaitlistStatus
    joined_at: dt.datetime
    offered_at: dt.datetime | None
    expires_at: dt.datetime | None
    ended_at: dt.datetime | None
    appointment_id: int | None

    @classmethod
    def of(cls, entry: WaitlistEntry) -> WaitlistEntryOut:
        assert entry.id is not None
        return cls(
            entry.id,
            entry.doctor_id,
            entry.date,
            entry.period,
            entry.status,
            entry.joined_at,
            entry.offered_at,
            entry.expires_at,
            entry.ended_at,
            entry.appointment_id,
        )


# --- handlers ------------------------------------------------------------------------------------


def join_waitlist(s: Services, c: Call[NewWaitlistEntry, None]) -> WaitlistEntryOut:
    b = c.body
    return WaitlistEntryOut.of(s.waitlist.join_as(c.me, b.doctor_id, b.date, b.period))


def my_waitlist(s: Services, c: Call[None, None]) -> list[WaitlistEntryOut]:
    return [WaitlistEntryOut.of(e) for e in s.waitlist.entries_as(c.me)]


def one_waitlist_entry(s: Services, c: Call[None, None]) -> WaitlistEntryOut:
    return WaitlistEntryOut.of(s.waitlist.entry_as(c.me, c.params["entry_id"]))


def leave_waitlist(s: Services, c: Call[None, None]) -> WaitlistEntryOut:
    return WaitlistEntryOut.of(s.waitlist.leave_as(c.me, c.params["entry_id"]))


def accept_offer(s: Services, c: Call[None, None]) -> AppointmentOut:
    return AppointmentOut.of(s.booking.accept_offer_as(c.me, c.params["entry_id"]))


# --- routes --------------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/waitlist",
        {
            "POST": Operation(
                join_waitlist,
                "A patient joins the waitlist of a full session",
                description="Only a session with no place left has a waitlist "
                "(`session_not_full` otherwise: book it). Patients wait in the order they "
                "joined; a place that frees is offered to the first, and held for them "
                "(15 minutes by default, until the session's start at the latest) until "
                "they accept it, leave, or the hold lapses.",
                body=NewWaitlistEntry,
                status=201,
                response=WaitlistEntryOut,
                errors=(403, 404, 409, 422),
            ),
            "GET": Operation(
                my_waitlist,
                "The caller's waitlist entries, from yesterday on, in the order of the sessions",
                response=list[WaitlistEntryOut],
                errors=(403,),
            ),
        },
        "booking",
    ),
    Route(
        "/v1/waitlist/{entry_id:id}",
        {
            "GET": Operation(
                one_waitlist_entry,
                "One of the caller's waitlist entries",
                response=WaitlistEntryOut,
                errors=(403, 404),
            ),
            "DELETE": Operation(
                leave_waitlist,
                "A patient leaves a waitlist (or turns its offer down: the place goes to the "
                "next waiting)",
                response=WaitlistEntryOut,
                errors=(403, 404, 409),
            ),
        },
        "booking",
    ),
    Route(
        "/v1/waitlist/{entry_id:id}/accept",
        {
            "POST": Operation(
                accept_offer,
                "A patient books the place their waitlist offer holds",
                description="Under the booking's rules, as `POST /v1/appointments` answers; "
                "`no_offer` when the entry holds no open offer (not offered yet, or its hold "
                "lapsed).",
                status=201,
                response=AppointmentOut,
                errors=(403, 404, 409, 422),
            )
        },
        "booking",
    ),
)
