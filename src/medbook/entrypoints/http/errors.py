"""One table from domain errors to HTTP status, and problem+json (RFC 9457) for every error."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

import falcon
from sqlalchemy import exc as sql

from medbook.domain.records.shares import redact_codes
from medbook.domain.shared import errors as e
from medbook.entrypoints.http.converter import BodyError
from medbook.ports.transaction import TransientConflict

log = logging.getLogger("medbook.http")

PROBLEM = "application/problem+json"

Handler = Callable[[falcon.Request, falcon.Response, Any, Any], None]

#: Most specific first: the first class an error is an instance of decides its status.
STATUS_OF: tuple[tuple[type[e.DomainError], int], ...] = (
    (e.Unauthenticated, 401),
    (e.Forbidden, 403),
    (e.NotFound, 404),
    (e.ThrottleUnavailable, 503),
    (e.TooManyAttempts, 429),
    (e.TooLarge, 413),
    (e.UnsupportedType, 415),
    (e.GatewayUnavailable, 503),
    (e.StorageUnavailable, 503),
    (e.DailyLimitReached, 409),
    (e.WaitlistLimitReached, 409),
    (e.BookingBlocked, 409),
    (e.Conflict, 409),
    (e.InvalidValue, 422),
    (e.RuleViolation, 422),
    (e.DomainError, 400),
)

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many attempts",
    500: "Internal server error",
    201: "Created",
    503: "Service unavailable",
}


#: Seconds a client is asked to wait before it retries while the database cannot be reached: a
#: restart of the database takes seconds, a failover some more.
DATABASE_RETRY_AFTER_S = 5

#: Seconds a client is asked to wait before it retries while the object store cannot be reached:
#: as for the database, a restart takes seconds; each retry costs the store's bounded timeouts.
STORAGE_RETRY_AFTER_S = 5

#: MySQL/MariaDB error numbers that say the database cannot be reached or will not take us now.
#: The client's own (2002 no socket, 2003 refused or timed out, 2005 unknown host, 2006 gone away,
#: 2012 handshake, 2013 and 2055 lost mid-query, 2026 TLS) and the server's (1040 too many
#: connections, 1053 shutting down, 1152 and 1158-1161 network errors, 1927 connection killed,
#: 1047 a Galera node not synced yet, 4031 disconnected for inactivity).
MYSQL_UNAVAILABLE = frozenset(
    {2002, 2003, 2005, 2006, 2012, 2013, 2026, 2055}
    | {1040, 1047, 1053, 1152, 1158, 1159, 1160, 1161, 1927, 4031}
)


def is_database_unavailable(error: BaseException) -> bool:
    """The database cannot be reached (down, restarting, unreachable, connections exhausted):
    worth a retry later. A refused key, a broken statement or a wrong value is not, whatever
    class the driver gives it (PyMySQL raises an unknown column as an OperationalError)."""
    if isinstance(error, (sql.TimeoutError, sql.DisconnectionError)):
        return True  # no connection of the pool came free in time / none could be made
    if not isinstance(error, sql.DBAPIError):
        return False
    if error.connection_invalidated:
        return True  # SQLAlchemy's dialect judged it a disconnect
    orig = error.orig
    if orig is None or isinstance(orig, sqlite3.Error):
        return False
    if isinstance(error, sql.InterfaceError):
        return True  # MySQL drivers raise it for a connection that is closed
    code = orig.args[0] if orig.args and isinstance(orig.args[0], int) else None
    return isinstance(error, sql.OperationalError) and code in MYSQL_UNAVAILABLE


def status_of(error: e.DomainError) -> int:
    return next(status for cls, status in STATUS_OF if isinstance(error, cls))


def problem(
    resp: falcon.Response, status: int, detail: str, code: str | None = None, **extra: Any
) -> None:
    """Answer with an RFC 9457 problem document. It cannot fail: whatever the detail or the extra
    members hold (text that is not UTF-8 representable, values JSON cannot write), the client gets
    a problem+json body with the status, at worst without the parts that could not be written."""
    resp.status = falcon.code_to_http_status(status)
    resp.content_type = PROBLEM
    resp.text = None
    body: dict[str, Any] = {
        "type": "about:blank",
        "status": status,
        "title": TITLES.get(status, falcon.code_to_http_status(status)[4:]),
        "detail": detail,
    }
    if code:
        body["code"] = code
    body.update(extra)
    try:
        resp.data = _encoded(body)
    except Exception:  # the last resort must answer, whatever went wrong
        log.exception("could not write the problem document for a %d answer", status)
        resp.data = _encoded({"type": "about:blank", "status": status, "title": body["title"]})


def _encoded(body: dict[str, Any]) -> bytes:
    """UTF-8 JSON; a lone surrogate in any string (only an attacker sends one) becomes U+FFFD."""
    text = json.dumps(body, ensure_ascii=False, default=str)
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode("utf-8")


def handle_domain_error(
    req: falcon.Request, resp: falcon.Response, error: e.DomainError, params: dict[str, Any]
) -> None:
    status = status_of(error)
    extra: dict[str, Any] = {}
    if status == 422:
        # Every 422 names its field (API.md); a rule broken by the request as a whole names "body".
        message = error.message.split(": ", 1)[-1] if isinstance(error, e.InvalidValue) else None
        extra["errors"] = [{"field": error.field or "body", "message": message or error.message}]
    if isinstance(error, e.TooManyAttempts):
        resp.set_header("Retry-After", str(error.retry_after))
    if isinstance(error, e.StorageUnavailable):
        # One line, no traceback (an outage fails every upload): what failed, and why.
        log.warning(
            "object store unavailable on %s %s: %s",
            req.method,
            redact_codes(req.path),
            error.__cause__ or error.message,
        )
        resp.set_header("Retry-After", str(STORAGE_RETRY_AFTER_S))
    if isinstance(error, e.Unauthenticated):
        resp.set_header("WWW-Authenticate", 'Bearer realm="medbook"')
    problem(resp, status, error.message, error.code, **extra)


def handle_body_error(
    req: falcon.Request, resp: falcon.Response, error: BodyError, params: dict[str, Any]
) -> None:
    problem(
        resp, 422, "the request does not fit: " + str(error), "invalid_request", errors=error.errors
    )


def handle_http_error(
    req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError, params: dict[str, Any]
) -> None:
    status = int(error.status_code)
    headers = error.headers or {}  # a dict, or a list of (name, value) pairs
    for name, value in headers.items() if isinstance(headers, Mapping) else headers:
        resp.set_header(name, value)
    code = (error.code if isinstance(error.code, str) else None) or None
    problem(resp, status, error.description or error.title or "", code)


def handle_transient(
    req: falcon.Request, resp: falcon.Response, error: TransientConflict, params: dict[str, Any]
) -> None:
    log.warning("gave up after repeated conflicts on %s %s: %s", req.method, req.path, error)
    resp.set_header("Retry-After", "1")
    problem(resp, 503, "the service is busy; try again in a moment", "busy")


def handle_database_error(
    req: falcon.Request, resp: falcon.Response, error: sql.SQLAlchemyError, params: dict[str, Any]
) -> None:
    if not is_database_unavailable(error):
        handle_unexpected(req, resp, error, params)
        return
    # One line, no traceback: an outage fails every request, and the log must stay readable.
    # The driver's message only: the statement's parameters may hold personal data.
    reason = error.orig if isinstance(error, sql.DBAPIError) else error
    log.warning("database unavailable on %s %s: %s", req.method, redact_codes(req.path), reason)
    resp.set_header("Retry-After", str(DATABASE_RETRY_AFTER_S))
    problem(
        resp,
        503,
        "the database cannot be reached right now; try again in a moment",
        "database_unavailable",
    )


def handle_unexpected(
    req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]
) -> None:
    if isinstance(error, falcon.HTTPError):
        handle_http_error(req, resp, error, params)
        return
    log.exception("unexpected error on %s %s", req.method, redact_codes(req.path))
    problem(resp, 500, "something went wrong on our side; it has been logged", "internal_error")


def _never_failing(handler: Handler) -> Handler:
    """``handler``, except that an error inside it still answers a problem+json 500."""

    def handle(req: falcon.Request, resp: falcon.Response, error: Any, params: Any) -> None:
        try:
            handler(req, resp, error, params)
        except Exception:  # an error handler must answer, whatever went wrong
            log.exception("the error handler failed on %s %s", req.method, req.path)
            problem(resp, 500, "something went wrong on our side; it has been logged")

    return handle


def install(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    # Falcon picks the handler registered for the nearest class in the error's MRO.
    handlers: tuple[tuple[type[Exception], Handler], ...] = (
        (Exception, handle_unexpected),
        (falcon.HTTPError, handle_http_error),
        (e.DomainError, handle_domain_error),
        (BodyError, handle_body_error),
        (TransientConflict, handle_transient),
        (sql.SQLAlchemyError, handle_database_error),
    )
    for kind, handler in handlers:
        app.add_error_handler(kind, _never_failing(handler))
