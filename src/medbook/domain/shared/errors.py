"""The errors the domain raises.

Every error carries a stable machine-readable ``code`` (used as-is by the HTTP layer and by hospital
systems that call the library directly), and a human-readable message.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Base of every error medbook raises on purpose."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        #: The input field the error is about, when it is about one (``details["field"]``).
        self.field: str | None = field if isinstance(field := details.get("field"), str) else None


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    code = "not_found"


class InvalidValue(DomainError):
    """A value is malformed or out of range; ``field`` names it."""

    code = "invalid_value"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class RuleViolation(DomainError):
    """A business rule refuses the request; the request may be valid at another time."""

    code = "rule_violation"


class Conflict(DomainError):
    """The request conflicts with the current state (duplicate, full, wrong state)."""

    code = "conflict"


class Forbidden(DomainError):
    """The caller may not do this to that thing."""

    code = "forbidden"


class Unauthenticated(DomainError):
    """No valid credentials: a missing, malformed, expired or forged token, or a failed login."""

    code = "unauthenticated"


class TooManyAttempts(DomainError):
    """Too many attempts (logins, registrations) from the caller: wait ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class ThrottleUnavailable(TooManyAttempts):
    """The throttle's store cannot count attempts right now, so none is allowed (fail-closed: a
    password is never checked uncounted); the caller may try again in ``retry_after`` seconds."""

    code = "throttle_unavailable"

    def __init__(self, retry_after: int = 5) -> None:
        DomainError.__init__(
            self, f"attempts cannot be counted right now; try again in {retry_after} s"
        )
        self.retry_after = retry_after


class DepartmentExists(Conflict):
    """The hospital already has a department of that name."""

    code = "department_exists"


class PhoneTaken(Conflict):
    """The phone number is already registered in that role."""

    code = "phone_taken"


class InvalidIdNumber(InvalidValue):
    """Not a valid mainland resident identity number (GB 11643)."""

    code = "invalid_id_number"

    def __init__(self, message: str) -> None:
        super().__init__("id_number", message)


class TooLarge(DomainError):
    """An upload larger than the limit."""

    code = "too_large"


class UnsupportedType(DomainError):
    """An upload whose bytes are not of an accepted type."""

    code = "unsupported_type"


class ObjectNotFound(NotFound):
    code = "object_not_found"


class StorageUnavailable(DomainError):
    """The object store could not be reached, or did not answer in time; nothing was stored,
    read or deleted, and the caller may try again later."""

    code = "storage_unavailable"


class InvalidKey(InvalidValue):
    """An object-storage key that is not of the allowed form (e.g. a path traversal attempt)."""

    code = "invalid_key"

    def __init__(self, message: str) -> None:
        super().__init__("key", message)


class NotificationNotFound(NotFound):
    code = "notification_not_found"


class ConversationNotFound(NotFound):
    """No such conversation, or the caller is not one of its two parties."""

    code = "conversation_not_found"


class ClientIdReused(Conflict):
    """A sender's client id names one message: sending it again with another conversation, kind
    or content is refused (a resend must be the same message)."""

    code = "client_id_reused"


class NoRelationship(Forbidden):
    """The patient has no appointment (contract, paid visit) with the doctor to talk about."""

    code = "no_relationship"


class PatientNotFound(NotFound):
    code = "patient_not_found"


# --- booking -------------------------------------------------------------------------------------


class DoctorNotFound(NotFound):
    code = "doctor_not_found"


class HospitalNotFound(NotFound):
    code = "hospital_not_found"


class DepartmentNotFound(NotFound):
    code = "department_not_found"


class AppointmentNotFound(NotFound):
    code = "appointment_not_found"


class NotOffered(RuleViolation):
    """The doctor's schedule does not offer that session, or the doctor is on leave then."""

    code = "not_offered"


class OutsideWindow(RuleViolation):
    """The session has started already, or lies beyond the booking window."""

    code = "outside_window"


class NotYetStarted(RuleViolation):
    """The session has not started yet, so attendance cannot be recorded."""

    code = "session_not_started"


class DailyLimitReached(RuleViolation):
    """The patient already holds the maximum number of appointments for that day."""

    code = "daily_limit_reached"


class BookingBlocked(RuleViolation):
    """The hospital's no-show rule blocks the patient's bookings there for a while."""

    code = "booking_blocked"


class AlreadyBooked(Conflict):
    """The patient already holds an appointment in that session of that doctor."""

    code = "already_booked"


class SessionFull(Conflict):
    """Every place of the session is taken."""

    code = "session_full"


class NotCancellable(Conflict):
    """The appointment is not in a state, or not at a time, where it can be cancelled."""

    code = "not_cancellable"


class InvalidTransition(Conflict):
    """The appointment cannot move from its current status to the one asked for."""

    code = "invalid_transition"


class WaitlistLimitReached(RuleViolation):
    """The patient is already on the maximum number of waitlists for that day."""

    code = "waitlist_limit_reached"


class WaitlistEntryNotFound(NotFound):
    code = "waitlist_entry_not_found"


class AlreadyWaiting(Conflict):
    """The patient is already on that session's waitlist."""

    code = "already_waiting"


class SessionNotFull(Conflict):
    """The session has a place left: book it, there is no waitlist to join."""

    code = "session_not_full"


class NoOffer(Conflict):
    """The waitlist entry holds no open offer: not offered yet, or no longer (its hold lapsed, it
    was booked, left or cleared)."""

    code = "no_offer"


class AlreadyOnLeave(Conflict):
    """The doctor has already taken leave for that session."""

    code = "already_on_leave"


class DepartmentMismatch(InvalidValue):
    """The department does not belong to the doctor's hospital."""

    code = "department_mismatch"

    def __init__(self) -> None:
        super().__init__("department_id", "the department does not belong to that hospital")


# --- orders ---------------------------------------------------------------------------------------


class OrderNotPayable(Conflict):
    """Only an order waiting for its payment, before its deadline, can be paid."""

    code = "order_not_payable"


class OrderNotCancellable(Conflict):
    """Only an unpaid order can be cancelled (a paid one is refunded)."""

    code = "order_not_cancellable"


class OrderNotRefundable(Conflict):
    code = "order_not_refundable"


class OrderNotCompletable(Conflict):
    code = "order_not_completable"


class AmountMismatch(Conflict):
    """A payment whose amount is not the order's total: refused, and nothing changes."""

    code = "amount_mismatch"


class PaymentRefused(DomainError):
    """A verified payment notification that cannot stand as it is (its amount is not the order's,
    its payment is unknown): refused with a 400 so the gateway's operator looks; nothing changes."""

    code = "payment_refused"


class PaymentAmountMismatch(PaymentRefused):
    """A payment notification whose amount is not the order's total (HTTP 400)."""

    code = "payment_amount_mismatch"


class TooManyUnpaidOrders(Conflict):
    """The patient already has as many unpaid orders as allowed: pay or cancel one first."""

    code = "too_many_unpaid_orders"


class SoldOut(Conflict):
    """Every place of the service on that date is taken."""

    code = "sold_out"


class ServiceNotFound(NotFound):
    code = "service_not_found"


class OrderNotFound(NotFound):
    """No such order, or not one the caller may see."""

    code = "order_not_found"


# --- contracts ------------------------------------------------------------------------------------


class AlreadySigned(Conflict):
    """The patient has an active contract with that doctor already."""

    code = "already_signed"


class ContractNotActive(Conflict):
    """The contract has ended."""

    code = "contract_not_active"


class ContractNotFound(NotFound):
    """No such contract, or not one of the caller's."""

    code = "contract_not_found"


# --- the health file ------------------------------------------------------------------------------


class NoContract(Forbidden):
    """A doctor without an active contract with that patient reads nothing of their file (the
    same answer whether or not the patient exists)."""

    code = "no_contract"


class VitalNotFound(NotFound):
    """No such reading, or not one the caller may read (its existence is private)."""

    code = "vital_not_found"


class RecordNotFound(NotFound):
    """No such medical record, or not the caller's (its existence is private)."""

    code = "record_not_found"


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"


class ShareNotFound(NotFound):
    """No share of that code open to the caller: unknown, expired and revoked codes alike."""

    code = "share_not_found"


class CalendarFeedNotFound(NotFound):
    """No calendar feed of that token: unknown and revoked (or replaced) tokens alike."""

    code = "calendar_feed_not_found"


class TooManyAttachments(Conflict):
    """A record keeps at most so many attachments."""

    code = "too_many_attachments"


# --- payments -------------------------------------------------------------------------------------


class BadNotification(DomainError):
    """A notification that is not the gateway's (bad or missing signature, stale timestamp,
    unknown certificate) or that cannot be read (HTTP 400). Nothing is stored."""

    code = "bad_signature"


class MalformedNotification(BadNotification):
    """A notification whose signature holds but whose body is not the event it should be
    (unknown or repeated fields, a wrong type): HTTP 400, nothing stored."""

    code = "malformed_notification"


class EventIdReused(PaymentRefused):
    """A gateway's event id seen before with other content (another payment, status or amount):
    refused rather than answered as a repeat, so the difference is looked at."""

    code = "event_id_reused"


class GatewayUnavailable(DomainError):
    """The gateway could not be reached or refused the call; the caller may try again later."""

    code = "gateway_unavailable"
