"""FHIR R4 over HTTP, under ``/fhir/R4/``: the CapabilityStatement, read, search, and booking by
creating an Appointment (``medbook.entrypoints.fhir`` does the work; this is its transport).

Answers are ``application/fhir+json``. Every error under ``/fhir/`` is an OperationOutcome with
the same status the v1 API would give (``FhirOutcomes`` rewrites the problem documents the
app's error handlers write, so a 404 from the router or a 503 from an outage reads the same).
A bearer token is optional: without one the caller is anonymous, who may read the directory and
open slots; a token that is sent must be valid (401 otherwise).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import falcon

from medbook.domain.shared.actors import Actor
from medbook.entrypoints.fhir import FhirError, FhirServer, of_fhir_error, of_problem
from medbook.entrypoints.http.api import (
    bearer_actor,
    ensure_length,
    json_of,
    media_type_of,
    read_within,
)
from medbook.entrypoints.http.errors import PROBLEM

if TYPE_CHECKING:
    from medbook.bootstrap import Services

FHIR_JSON = "application/fhir+json"
#: A Host header's host (a DNS name, IPv4 or bracketed IPv6 address) and port.
HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)
BASE = "/fhir/R4"
#: The media types a FHIR request body may be sent as.
BODY_TYPES = (FHIR_JSON, "application/json")
#: The routes, for the app and the tests' list of what it serves.
ROUTES = (
    (f"{BASE}/metadata", "GET"),
    (f"{BASE}/{{resource_type}}", "GET"),
    (f"{BASE}/{{resource_type}}", "POST"),
    (f"{BASE}/{{resource_type}}/{{resource_id}}", "GET"),
)


def send(resp: falcon.Response, resource: dict[str, Any], status: int = 200) -> None:
    resp.status = falcon.code_to_http_status(status)
    resp.content_type = f"{FHIR_JSON}; charset=utf-8"
    resp.data = json.dumps(resource, ensure_ascii=False).encode("utf-8")


class _Fhir:
    def __init__(self, services: Services, max_body: int) -> None:
        self.services = services
        self.max_body = max_body

    def server(self, req: falcon.Request) -> FhirServer:
        """The FHIR server at this API's public URL (``MEDBOOK_PUBLIC_URL``), else at the URL
        the request names, whose host must be a host name or address (with a port): answers
        carry it (``fullUrl``, ``Location``), so ``Host: evil"><script>`` must not reach them."""
        public = self.services.health.public_url
        if not public:
            if not HOST.fullmatch(req.netloc):
                raise FhirError(
                    400, "invalid", "the Host header does not name a host", code="bad_host"
                )
            public = req.prefix
        return FhirServer(self.services, public.rstrip("/") + BASE)

    def actor(self, req: falcon.Request) -> Actor | None:
        """The caller, or None for a request without a token (one that is sent must be valid)."""
        if req.get_header("Authorization") is None:
            return None
        actor = bearer_actor(self.services, req)
        req.context.actor = actor  # for the request log: who asked
        return actor


class Metadata(_Fhir):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.actor(req)  # public, but a token that is sent must be valid
        send(resp, self.server(req).metadata())


class TypeResource(_Fhir):
    """``GET [type]?…``: a search; ``POST [type]``: a create (only an Appointment)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, resource_type: str) -> None:
        actor = self.actor(req)
        params: dict[str, Sequence[str]] = {
            name: value if isinstance(value, list) else [value]
            for name, value in req.params.items()
        }
        server = self.server(req)
        self_url = server.base_url + "/" + quote(resource_type, safe="")
        if req.query_string:
            self_url += "?" + req.query_string
        send(resp, server.search(actor, resource_type, params, self_url))

    def on_post(self, req: falcon.Request, resp: falcon.Response, resource_type: str) -> None:
        actor = self.actor(req)
        server = self.server(req)
        server.check_create(actor, resource_type)  # before a byte of the body is read
        created = server.create(actor, resource_type, self._body(req))
        resp.location = server.url_of(created)
        send(resp, created, 201)

    def _body(self, req: falcon.Request) -> object:
        if media_type_of(req) not in BODY_TYPES:
            raise falcon.HTTPUnsupportedMediaType(
                description=f"send the resource as {FHIR_JSON}", code="unsupported_media_type"
            )
        ensure_length(req, self.max_body)
        return json_of(read_within(req, self.max_body))


class InstanceResource(_Fhir):
    """``GET [type]/[id]``: a read."""

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, resource_type: str, resource_id: str
    ) -> None:
        actor = self.actor(req)
        send(resp, self.server(req).read(actor, resource_type, resource_id))


def handle_fhir_error(
    req: falcon.Request, resp: falcon.Response, error: FhirError, params: dict[str, Any]
) -> None:
    if error.allow is not None:
        resp.set_header("Allow", ", ".join(error.allow))
    send(resp, of_fhir_error(error), error.status)


class FhirOutcomes:
    """Under ``/fhir/``, an error's problem document becomes an OperationOutcome with the same
    status, code and fields (headers such as ``WWW-Authenticate`` and ``Retry-After`` stay)."""

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        path = "/" + req.path.lstrip("/")  # Falcon routes //fhir/… as /fhir/…
        if path != "/fhir" and not path.startswith("/fhir/"):
            return
        if not (resp.content_type or "").startswith(PROBLEM):
            return
        try:
            problem = json.loads(resp.data or b"{}")
        except ValueError:
            problem = {}
        if not isinstance(problem, dict):
            problem = {}
        problem.setdefault("status", int(str(resp.status).split()[0]))
        send(resp, of_problem(problem), int(problem["status"]))


def add_routes(app: falcon.App[Any, Any], services: Services, max_body: int) -> None:
    app.add_route(f"{BASE}/metadata", Metadata(services, max_body))
    app.add_route(f"{BASE}/{{resource_type}}", TypeResource(services, max_body))
    app.add_route(f"{BASE}/{{resource_type}}/{{resource_id}}", InstanceResource(services, max_body))
    app.add_error_handler(FhirError, handle_fhir_error)


# --- the OpenAPI document ------------------------------------------------------------------------

#: A FHIR resource, as far as the OpenAPI document describes it (the CapabilityStatement and
#: HL7's own definitions say the rest).
_RESOURCE = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}},
}
_OUTCOME = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {"severity": {"type": "string"}, "code": {"type": "string"}},
            },
        },
    },
}
#: The statuses a FHIR interaction may answer with besides its success.
_ERRORS = (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503)


def _answers(success: int, description: str) -> dict[str, Any]:
    answers: dict[str, Any] = {
        str(success): {
            "description": description,
            "content": {FHIR_JSON: {"schema": _RESOURCE}},
        }
    }
    for status in _ERRORS:
        answers[str(status)] = {
            "description": "An OperationOutcome saying why",
            "content": {FHIR_JSON: {"schema": _OUTCOME}},
        }
    return answers


def openapi_paths(resource_types: Sequence[str]) -> dict[str, Any]:
    """The FHIR routes as OpenAPI path items (their searches' parameters are per type: the
    CapabilityStatement lists them)."""
    kind = {
        "name": "resource_type",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(resource_types)},
    }
    logical_id = {
        "name": "resource_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9.-]{1,64}$"},
    }
    metadata_answer = {
        "200": {
            "description": "The CapabilityStatement",
            "content": {FHIR_JSON: {"schema": _RESOURCE}},
        },
        **{
            str(status): {
                "description": "An OperationOutcome saying why (a bad token; a bad Host)",
                "content": {FHIR_JSON: {"schema": _OUTCOME}},
            }
            for status in (400, 401)
        },
    }
    return {
        f"{BASE}/metadata": {
            "get": {
                "operationId": "fhir_capabilities",
                "summary": "FHIR R4: what this server implements (CapabilityStatement)",
                "tags": ["fhir"],
                "responses": metadata_answer,
            }
        },
        f"{BASE}/{{resource_type}}": {
            "get": {
                "operationId": "fhir_search",
                "summary": "FHIR R4 search: a searchset Bundle (parameters per type: see "
                "the CapabilityStatement)",
                "tags": ["fhir"],
                "parameters": [kind],
                "responses": _answers(200, "A searchset Bundle"),
            },
            "post": {
                "operationId": "fhir_create",
                "summary": "FHIR R4 create: a proposed Appointment books its Slot",
                "tags": ["fhir"],
                "parameters": [kind],
                "requestBody": {
                    "required": True,
                    "content": {
                        FHIR_JSON: {"schema": _RESOURCE},
                        "application/json": {"schema": _RESOURCE},
                    },
                },
                "responses": _answers(201, "The booked Appointment"),
            },
        },
        f"{BASE}/{{resource_type}}/{{resource_id}}": {
            "get": {
                "operationId": "fhir_read",
                "summary": "FHIR R4 read",
                "tags": ["fhir"],
                "parameters": [kind, logical_id],
                "responses": _answers(200, "The resource"),
            }
        },
    }
