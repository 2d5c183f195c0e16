"""One table from domain errors to HTTP status, and problem+json (RFC 9457) for every error."""

from __future__ import annotations

import json
import logging
from typing import Any

import falcon

from medbook.domain import errors as e
from medbook.entrypoints.http.converter import BodyError
from medbook.ports.unit_of_work import TransientConflict

log = logging.getLogger("medbook.http")

PROBLEM = "application/problem+json"

#: Most specific first: the first class an error is an instance of decides its status.
STATUS_OF: tuple[tuple[type[e.DomainError], int], ...] = (
    (e.Unauthenticated, 401),
    (e.Forbidden, 403),
    (e.NotFound, 404),
    (e.TooManyAttempts, 429),
    (e.TooLarge, 413),
    (e.UnsupportedType, 415),
    (e.DailyLimitReached, 409),
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


def status_of(error: e.DomainError) -> int:
    return next(status for cls, status in STATUS_OF if isinstance(error, cls))


def problem(
    resp: falcon.Response, status: int, detail: str, code: str | None = None, **extra: Any
) -> None:
    resp.status = falcon.code_to_http_status(status)
    resp.content_type = PROBLEM
    body: dict[str, Any] = {
        "type": "about:blank",
        "status": status,
        "title": TITLES.get(status, falcon.code_to_http_status(status)[4:]),
        "detail": detail,
    }
    if code:
        body["code"] = code
    body.update(extra)
    resp.text = json.dumps(body, ensure_ascii=False)


def handle_domain_error(
    req: falcon.Request, resp: falcon.Response, error: e.DomainError, params: dict[str, Any]
) -> None:
    status = status_of(error)
    extra: dict[str, Any] = {}
    if isinstance(error, e.InvalidValue):
        extra["errors"] = [{"field": error.field, "message": error.message.split(": ", 1)[-1]}]
    if isinstance(error, e.TooManyAttempts):
        resp.set_header("Retry-After", str(error.retry_after))
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
    for name, value in (error.headers or {}).items():
        resp.set_header(name, value)
    code = (error.code if isinstance(error.code, str) else None) or None
    problem(resp, status, error.description or error.title or "", code)


def handle_transient(
    req: falcon.Request, resp: falcon.Response, error: TransientConflict, params: dict[str, Any]
) -> None:
    log.warning("gave up after repeated conflicts on %s %s: %s", req.method, req.path, error)
    resp.set_header("Retry-After", "1")
    problem(resp, 503, "the service is busy; try again in a moment", "busy")


def handle_unexpected(
    req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]
) -> None:
    if isinstance(error, falcon.HTTPError):
        handle_http_error(req, resp, error, params)
        return
    log.exception("unexpected error on %s %s", req.method, req.path)
    problem(resp, 500, "something went wrong on our side; it has been logged", "internal_error")


def install(app: falcon.App) -> None:
    # Falcon picks the handler registered for the nearest class in the error's MRO.
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(e.DomainError, handle_domain_error)
    app.add_error_handler(BodyError, handle_body_error)
    app.add_error_handler(TransientConflict, handle_transient)
