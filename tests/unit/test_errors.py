"""Every domain error carries a stable, distinct machine-readable code."""

from __future__ import annotations

import pytest

from medbook.domain.shared import errors
from medbook.domain.shared.errors import DomainError, InvalidValue


def every_error_class() -> list[type[DomainError]]:
    found, pending = [], [DomainError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__module__ == errors.__name__]


def test_error_codes_are_distinct() -> None:
    classes = every_error_class()
    codes = [cls.code for cls in classes]

    assert len(classes) >= 20
    assert len(set(codes)) == len(codes), sorted(codes)


def test_the_booking_codes_are_the_documented_ones() -> None:
    codes = {cls.code for cls in every_error_class()}

    assert {
        "already_booked",
        "session_full",
        "not_offered",
        "outside_window",
        "not_cancellable",
        "daily_limit_reached",
        "doctor_not_found",
        "appointment_not_found",
        "session_not_started",
        "already_on_leave",
        "invalid_transition",
        "department_mismatch",
        "invalid_value",
    } <= codes


@pytest.mark.parametrize(
    ("name", "code", "family"),
    [
        ("AlreadyBooked", "already_booked", errors.Conflict),
        ("SessionFull", "session_full", errors.Conflict),
        ("NotCancellable", "not_cancellable", errors.Conflict),
        ("NotOffered", "not_offered", errors.RuleViolation),
        ("OutsideWindow", "outside_window", errors.RuleViolation),
        ("DailyLimitReached", "daily_limit_reached", errors.RuleViolation),
        ("DoctorNotFound", "doctor_not_found", errors.NotFound),
        ("AppointmentNotFound", "appointment_not_found", errors.NotFound),
    ],
)
def test_each_booking_error_has_its_code_and_family(
    name: str, code: str, family: type[DomainError]
) -> None:
    cls = getattr(errors, name)
    error = cls("a message", session="x")

    assert error.code == code
    assert isinstance(error, family)
    assert (error.message, str(error), error.details) == (
        "a message",
        "a message",
        {"session": "x"},
    )


def test_an_invalid_value_names_its_field_in_the_message_and_details() -> None:
    error = InvalidValue("schedule.monday.morning", "too large")

    assert error.field == "schedule.monday.morning"
    assert error.details == {"field": "schedule.monday.morning"}
    assert str(error) == "schedule.monday.morning: too large"
