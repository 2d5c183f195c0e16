"""Schemathesis against the OpenAPI document a real ``medbook serve --demo`` serves.

The document is loaded from the live URL (``schemathesis.openapi.from_url``). Every operation is
called with generated requests, schema-valid and schema-invalid ones (at most ``MAX_EXAMPLES`` of
each), once per kind of caller: anonymous, and with the bearer token of a demo patient, doctor and
hospital admin (given to schemathesis as a configured header, so it knows the token is the
caller's). Each response must:

- not be a server error (5xx);
- carry a status the operation declares, with the declared content type, and a body that
  validates against the declared schema (problem+json for errors);
- reject a schema-invalid request with a 4xx (``negative_data_rejection``);
- come from an operation that really enforces the authentication it declares (``ignored_auth``).

A second test, on a demo server of its own (anonymous and as the demo patient), asks the converse
of the document: a request it calls valid must not be refused as invalid
(``positive_data_acceptance``: a 422 fails, unless it names only a rule between query parameters,
which OpenAPI cannot state).

Generation is derandomized (the same examples every run, so CI is reproducible); set
``MEDBOOK_FUZZ_RANDOM=1`` to explore new ones: Hypothesis then prints the seed of a failing run
(``pytest --hypothesis-seed=N`` replays it) and schemathesis a curl command for the request.
Where schemathesis cannot make any schema-invalid request (binary bodies, free-form path strings)
that case is skipped, saying so.

Schemathesis' own pytest integration (``schemathesis.pytest.from_fixture``) cannot be used: in
schemathesis 4.32 it reads ``request.node._nodeid``, which pytest 9 no longer has. Each test
therefore drives one operation with ``operation.as_strategy()`` under Hypothesis itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from e2e_support import HttpClient, Server, clean_environment, free_port
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from medbook.demo import DEMO_ADMIN, DEMO_PASSWORD, DEMO_PATIENT
from medbook.entrypoints.http.app import PLAIN_ROUTES
from medbook.entrypoints.http.openapi import document
from medbook.entrypoints.http.routes import ROUTES

MAX_EXAMPLES = 15
REQUEST_TIMEOUT = 10.0
DEMO_DOCTOR = "13800000001"

CONFORMANCE: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]

CALLERS = {
    "anonymous": None,
    "patient": (DEMO_PATIENT[0], "patient"),
    "doctor": (DEMO_DOCTOR, "doctor"),
    "admin": (DEMO_ADMIN[0], "admin"),
}


SCHEMA_PATH = "/v1/openapi.json"


def _operations() -> dict[str, bool]:
    """The document's operations, made in-process from the same route table the server serves
    (a test below checks the live document has exactly these), to parametrise over: label ->
    whether it has parameters or a body that generated requests can get wrong. The document's
    own operation is left out (schemathesis does not call it; the first test reads it)."""
    spec = document(ROUTES, PLAIN_ROUTES)
    return {
        f"{method.upper()} {path}": bool(op.get("parameters") or op.get("requestBody"))
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if path != SCHEMA_PATH
    }


OPERATIONS = _operations()
#: (operation, generation mode): schema-invalid requests only for operations that take input.
MODES = [
    *[pytest.param(label, GenerationMode.POSITIVE, id=f"{label}-positive") for label in OPERATIONS],
    *[
        pytest.param(label, GenerationMode.NEGATIVE, id=f"{label}-negative")
        for label, takes_input in OPERATIONS.items()
        if takes_input
    ],
]


def _load(server: Server, headers: dict[str, str] | None = None) -> Any:
    """The document the live server serves, loaded by schemathesis from its URL; ``headers`` go
    with every request (schemathesis then knows the token is the caller's, not generated)."""
    loaded = schemathesis.openapi.from_url(
        f"{server.base_url}{SCHEMA_PATH}", timeout=REQUEST_TIMEOUT
    )
    loaded.config.update(
        base_url=server.base_url, request_timeout=REQUEST_TIMEOUT, headers=headers or None
    )
    return loaded


@pytest.fixture(scope="module")
def anonymous_schema(demo_server: Server) -> Any:
    """The document of this module's demo server, called anonymously."""
    return _load(demo_server)


@pytest.fixture(scope="module")
def pristine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A demo server of its own, whose directory no fuzzed call has changed (a fuzzed doctor or
    admin may move or un-approve a demo doctor, which takes their sessions off the offer)."""
    workdir = tmp_path_factory.mktemp("pristine-serve")
    server = Server(
        workdir, clean_environment(workdir), ("--demo", "--chat-bind", f"127.0.0.1:{free_port()}")
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["anonymous", "patient"])
def pristine_schema(request: pytest.FixtureRequest, pristine_server: Server) -> Any:
    """The pristine server's document, called anonymously or by the demo patient (who cannot
    change the directory)."""
    if request.param == "anonymous":
        return _load(pristine_server)
    token = HttpClient(pristine_server.base_url).login(DEMO_PATIENT[0], DEMO_PASSWORD, "patient")
    return _load(pristine_server, {"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module", params=list(CALLERS))
def api_schema(request: pytest.FixtureRequest, demo_server: Server) -> Any:
    """The document, called by one kind of caller: anonymous, or with a demo account's token."""
    account = CALLERS[request.param]
    if account is None:
        return _load(demo_server)
    phone, role = account
    token = HttpClient(demo_server.base_url).login(phone, DEMO_PASSWORD, role)
    return _load(demo_server, {"Authorization": f"Bearer {token}"})


def fuzz(operation: Any, mode: GenerationMode, checks: list[Callable[..., Any]]) -> None:
    """Up to MAX_EXAMPLES generated calls of ``operation``; each response must pass ``checks``.
    A failure is shrunk to a small example and reported with a curl command to replay it."""
    callers_token = "authorization" in {h.lower() for h in operation.schema.config.headers or {}}

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        # The same examples on every run, so that CI is reproducible; MEDBOOK_FUZZ_RANDOM=1
        # explores new ones (and prints the seed of anything it finds).
        derandomize=not os.environ.get("MEDBOOK_FUZZ_RANDOM"),
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def calls(case: Any) -> None:
        if callers_token and case.headers:
            # A generated Authorization header is replaced on the wire by the caller's token,
            # but the checks would judge the request by the generated (invalid) one.
            for name in [h for h in case.headers if h.lower() == "authorization"]:
                del case.headers[name]
        case.call_and_validate(checks=checks)

    try:
        calls()
    except hypothesis.errors.Unsatisfiable:
        if mode is not GenerationMode.NEGATIVE:
            raise
        pytest.skip(f"schemathesis cannot make a schema-invalid request for {operation.label}")


def test_the_live_document_has_the_operations_tested_here(anonymous_schema: Any) -> None:
    assert anonymous_schema.raw_schema["openapi"] == "3.1.0"
    paths = anonymous_schema.raw_schema["paths"]
    live = {f"{method.upper()} {path}" for path, item in paths.items() for method in item}
    assert live == {*OPERATIONS, f"GET {SCHEMA_PATH}"}


@pytest.mark.parametrize(("label", "mode"), MODES)
def test_every_operation_answers_within_its_contract(
    api_schema: Any, label: str, mode: GenerationMode
) -> None:
    fuzz(api_schema.find_operation_by_label(label), mode, CONFORMANCE)


#: Rules between query parameters, which OpenAPI cannot state (each parameter has its own schema):
#: (operation, field, what the 422 says). A 422 naming only these is not the document's fault.
CROSS_PARAMETER_RULES = (
    ("GET /v1/doctors/{doctor_id}/sessions", "to", re.compile(r"before from|after from")),
    ("GET /v1/hospitals", "lat", re.compile(r"both lat and lng")),
    ("GET /v1/hospitals", "lng", re.compile(r"both lat and lng")),
)


def _breaks_only_cross_parameter_rules(label: str, response: Any) -> bool:
    if response.status_code != 422:
        return False
    errors = response.json().get("errors") or []
    return bool(errors) and all(
        any(
            (label, error.get("field")) == (op, field) and rule.search(error.get("message", ""))
            for op, field, rule in CROSS_PARAMETER_RULES
        )
        for error in errors
    )


#: Operations whose bodies must carry a signature no generated request can make: a schema-valid
#: body with a wrong signature is refused with 400 ``bad_signature``, as it must be.
SIGNED_OPERATIONS = frozenset({"POST /v1/payments/notify", "POST /v1/payments/wechat/notify"})


def _unsigned(label: str, response: Any) -> bool:
    if label not in SIGNED_OPERATIONS or response.status_code != 400:
        return False
    return bool(response.json().get("code") == "bad_signature")


#: FHIR's search and create: one path for every resource type in the document, whose per-type
#: rules (a Slot search needs ``schedule``; a Location cannot be searched; only an Appointment
#: proposal can be created) are the CapabilityStatement's, which test_fhir.py checks interaction
#: by interaction. A refusal of those (400, 405, 422 as an OperationOutcome) is fine here.
FHIR_PER_TYPE = frozenset({"GET /fhir/R4/{resource_type}", "POST /fhir/R4/{resource_type}"})


def _fhir_per_type_rule(label: str, response: Any) -> bool:
    return (
        label in FHIR_PER_TYPE
        and response.status_code in (400, 405, 422)
        and response.json().get("resourceType") == "OperationOutcome"
    )


def schema_valid_request_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance``, but a 422 for a rule between query parameters is fine, and
    so is a 400 for a signature a generated request cannot make, and a FHIR per-type rule."""
    if _breaks_only_cross_parameter_rules(case.operation.label, response):
        return None
    if _unsigned(case.operation.label, response):
        return None
    if _fhir_per_type_rule(case.operation.label, response):
        return None
    return positive_data_acceptance(ctx, response, case)


@pytest.mark.parametrize("label", OPERATIONS)
def test_every_schema_valid_request_is_accepted(pristine_schema: Any, label: str) -> None:
    """A request the document calls valid may be refused (401, 403, 404, 409 …) but never as
    invalid (422), or the document does not tell clients what the server accepts: a 422 means
    a constraint (pattern, length, range) the server applies and the document does not state."""
    checks = [not_a_server_error, schema_valid_request_accepted]
    fuzz(pristine_schema.find_operation_by_label(label), GenerationMode.POSITIVE, checks)
