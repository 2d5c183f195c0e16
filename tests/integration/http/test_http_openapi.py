"""GET /v1/openapi.json: every route with its methods, and a document the responses really fit.

Every response of every HTTP test is checked against this document by ``http_support.Api``; the
tests here check the document itself, and that the check can fail.
"""

from __future__ import annotations

import json
from typing import Any

import falcon.testing
import pytest
from http_support import (
    MONDAY,
    PASSWORD,
    Api,
    SchemaMismatch,
    World,
    ok,
    openapi_path,
    validate,
)

from medbook.entrypoints.http.app import PLAIN_ROUTES
from medbook.entrypoints.http.routes import ROUTES


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def test_the_document_is_served_as_openapi_3_1(api: Api) -> None:
    document = ok(api.get("/v1/openapi.json"))

    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_route_is_in_the_document_with_exactly_its_methods(api: Api) -> None:
    document = ok(api.get("/v1/openapi.json"))
    served: dict[str, set[str]] = {}
    for route in ROUTES:
        served.setdefault(openapi_path(route.path), set()).update(
            m.lower() for m in route.operations
        )
    for path, method, _ in PLAIN_ROUTES:
        served.setdefault(path, set()).add(method.lower())

    documented = {path: set(item) for path, item in document["paths"].items()}

    assert documented == served


def test_every_operation_declares_its_success_and_its_errors(
    openapi_document: dict[str, Any],
) -> None:
    for route in ROUTES:
        item = openapi_document["paths"][openapi_path(route.path)]
        for method, operation in route.operations.items():
            declared = item[method.lower()]
            responses = declared["responses"]
            assert str(operation.status) in responses, (route.path, method)
            assert declared["summary"] and declared["operationId"]
            if operation.auth:
                assert "401" in responses and declared["security"] == [{"bearer": []}]
            if operation.body is not None:
                assert {"400", "413", "415", "422"} <= set(responses)
                assert "application/json" in declared["requestBody"]["content"]
            names = {p["name"] for p in declared["parameters"] if p["in"] == "path"}
            assert names == set(_path_names(route.path))
            for parameter in declared["parameters"]:
                if parameter["in"] == "path":
                    assert parameter["schema"] == {"type": "integer"}


def _path_names(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


def test_operation_ids_are_unique(openapi_document: dict[str, Any]) -> None:
    ids = [op["operationId"] for item in openapi_document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_query_parameters_are_named_as_clients_send_them(
    openapi_document: dict[str, Any],
) -> None:
    def query(path: str, method: str = "get") -> set[str]:
        parameters = openapi_document["paths"][path][method]["parameters"]
        return {p["name"] for p in parameters if p["in"] == "query"}

    assert query("/v1/hospitals") == {"lat", "lng"}
    assert query("/v1/doctors/{doctor_id}/sessions") == {"from", "to"}
    assert query("/v1/appointments") == {"date"}
    assert query("/v1/notifications") == {"unread_only"}


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        (
            "/v1/patients",
            "post",
            {"phone": "13912345678", "name": "N", "password": PASSWORD, "x": 1},
        ),
        ("/v1/appointments", "post", {"doctor_id": 1, "date": MONDAY.isoformat()}),
    ],
)
def test_bodies_the_server_refuses_do_not_fit_the_documented_request_schemas(
    openapi_document: dict[str, Any], path: str, method: str, body: dict[str, Any]
) -> None:
    """The server forbids unknown fields (422): the document must say so too."""
    schema = openapi_document["paths"][path][method]["requestBody"]["content"]["application/json"]
    with pytest.raises(SchemaMismatch):
        validate(body, schema["schema"], openapi_document)


def test_request_schemas_forbid_unknown_properties_like_the_server(
    openapi_document: dict[str, Any],
) -> None:
    loose = []
    for path, item in openapi_document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody")
            if body is None:
                continue
            for name, schema in _objects(openapi_document, body["content"]["application/json"]):
                if schema.get("additionalProperties") is not False:
                    loose.append(f"{method.upper()} {path}: {name}")
    assert not loose, f"request schemas that allow unknown properties: {sorted(set(loose))}"


def _objects(document: dict[str, Any], media: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every object schema reachable from a media type's schema, with its component name."""
    found: list[tuple[str, dict[str, Any]]] = []
    pending = [("body", media["schema"])]
    seen: set[str] = set()
    while pending:
        name, schema = pending.pop()
        if "$ref" in schema:
            if schema["$ref"] in seen:
                continue
            seen.add(schema["$ref"])
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = _schema(document, schema)
        if schema.get("type") == "object":
            found.append((name, schema))
            pending.extend((name, s) for s in schema.get("properties", {}).values())
        pending.extend((name, s) for s in schema.get("anyOf", []))
        if "items" in schema:
            pending.append((name, schema["items"]))
    return found


# --- the check itself ----------------------------------------------------------------------------


def test_the_response_check_refuses_a_body_that_does_not_fit(
    openapi_document: dict[str, Any],
) -> None:
    schema = {"$ref": "#/components/schemas/AppointmentOut"}
    good = {
        "id": 1,
        "status": "booked",
        "patient_id": 2,
        "patient_name": None,
        "patient_phone": None,
        "doctor_id": 3,
        "doctor_name": "Zhang Wei",
        "hospital": None,
        "department": None,
        "date": "2026-11-26",
        "period": "morning",
        "number": 1,
        "booked_at": "2026-11-25T00:30:00+00:00",
        "cancelled_at": None,
        "cancelled_by": None,
    }
    validate(good, schema, openapi_document)
    for bad in (
        good | {"number": "1"},
        good | {"period": "evening"},
        good | {"date": "2026-11-31"},
        good | {"booked_at": "2026-11-25T00:30:00"},
        {k: v for k, v in good.items() if k != "doctor_name"},
        good | {"id": True},
    ):
        with pytest.raises(SchemaMismatch):
            validate(bad, schema, openapi_document)


def test_the_client_refuses_a_status_the_operation_does_not_declare(
    openapi_document: dict[str, Any],
) -> None:
    """A stand-in app answers GET /v1/me with a 418: the checking client must object."""

    class Teapot:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.status = falcon.HTTP_418
            resp.content_type = "application/problem+json"
            resp.text = json.dumps({"status": 418, "title": "Teapot", "detail": "short and stout"})

    app = falcon.App()
    app.add_route("/v1/me", Teapot())
    api = Api(falcon.testing.TestClient(app), openapi_document)

    with pytest.raises(AssertionError, match="does not declare"):
        api.get("/v1/me")


def test_successful_reads_of_every_kind_fit_the_document(world: World) -> None:
    """One success of each read; ``world.api`` checks each answer against the document."""
    for path, method, _ in PLAIN_ROUTES:
        ok(world.api.request(method, path))
    ok(world.api.get(f"/v1/doctors/{world.doctor.id}/sessions"))
    ok(world.api.get(f"/v1/doctors/{world.doctor.id}"))
    ok(world.api.get(f"/v1/departments/{world.cardiology}/doctors"))
    ok(world.api.get(f"/v1/hospitals/{world.shanghai}/departments"))
    ok(world.api.get("/v1/hospitals", params={"lat": "31", "lng": "121"}))
    ok(world.api.get("/v1/me", token=world.doctor.token))
    booked = world.book(world.patient_a, MONDAY, "morning")
    ok(world.api.get(f"/v1/appointments/{booked['id']}", token=world.doctor.token))
    ok(world.api.get("/v1/appointments", token=world.doctor.token))
