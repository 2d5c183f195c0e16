"""OperationOutcome: how a FHIR server says what went wrong.

Every refusal carries medbook's own error code (the ``code`` of the v1 API's problem documents,
such as ``session_full``) in ``issue.details.coding`` under ``ERROR_SYSTEM``, so a client of
either interface reads the same reasons; and ``expression`` names the field a 422 is about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from medbook.entrypoints.fhir.resources import ERROR_SYSTEM, Resource
from medbook.entrypoints.fhir.search import FhirError

#: The issue type (http://hl7.org/fhir/issue-type) an HTTP status stands for.
ISSUE_TYPE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    500: "exception",
    503: "transient",
}


def operation_outcome(
    status: int,
    diagnostics: str,
    code: str | None = None,
    *,
    issue: str | None = None,
    fields: Iterable[tuple[str, str]] = (),
) -> Resource:
    """An OperationOutcome for an error answered with ``status``: one issue, or one per
    ``(field, message)`` of a request that had several wrong fields."""
    kind = issue or ISSUE_TYPE.get(status, "exception" if status >= 500 else "invalid")
    details: Resource = {"text": diagnostics}
    if code:
        details["coding"] = [{"system": ERROR_SYSTEM, "code": code}]
    issues: list[Resource] = []
    for name, message in fields:
        issues.append(
            {
                "severity": "error",
                "code": kind,
                "details": details,
                "diagnostics": f"{name}: {message}",
                "expression": [name],
            }
        )
    if not issues:
        issues.append(
            {"severity": "error", "code": kind, "details": details, "diagnostics": diagnostics}
        )
    return {"resourceType": "OperationOutcome", "issue": issues}


def of_fhir_error(error: FhirError) -> Resource:
    outcome = operation_outcome(error.status, error.diagnostics, error.code, issue=error.issue)
    if error.expression:
        outcome["issue"][0]["expression"] = [error.expression]
    return outcome


def of_problem(problem: Mapping[str, Any]) -> Resource:
    """The OperationOutcome of a v1 problem document (RFC 9457), with its fields."""
    status = problem.get("status")
    status = status if isinstance(status, int) else 500
    detail = str(problem.get("detail") or problem.get("title") or "error")
    errors = problem.get("errors")
    fields = []
    if isinstance(errors, list):
        for item in errors:
            if isinstance(item, Mapping):
                fields.append((str(item.get("field") or "body"), str(item.get("message") or "")))
    code = problem.get("code")
    return operation_outcome(status, detail, code if isinstance(code, str) else None, fields=fields)
