"""GET /v1/openapi.json: every route with its methods, and a document the responses really fit.

Every response of every HTTP test is checked against this document by ``http_support.Api``; the
tests here check the document itself, and that the check can fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import falcon.testing
import pytest
from http_support import (
    MAX_ID,
    MONDAY,
    PASSWORD,
    PNG,
    SCHEDULE_BODY,
    Api,
    SchemaMismatch,
    World,
    ecma_pattern,
    ok,
    openapi_path,
    problem,
    served_by,
    validate,
)

from medbook.entrypoints.http.app import PLAIN_ROUTES
from medbook.entrypoints.http.routes import ROUTES

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BINARY = {"type": "string", "format": "binary"}


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
    for path, method in served_by(api.client.app):  # what the app's router really holds
        served.setdefault(openapi_path(path), set()).add(method.lower())

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
            if operation.files:
                # A raw file body: exactly the accepted media types, each as bytes.
                assert {"413", "415", "422"} <= set(responses)
                assert declared["requestBody"]["required"] is True
                content = dict(declared["requestBody"]["content"])
                form = content.pop("multipart/form-data")
                assert content == {media_type: {"schema": BINARY} for media_type in operation.files}
                # Or the part named "file" of a form, as browsers and generated clients send it.
                assert form["schema"]["properties"] == {"file": BINARY}
                assert form["schema"]["required"] == ["file"]
            if operation.raw is not None:
                # A signed body, read as its bytes: documented as the JSON it holds.
                assert {"400", "413", "415"} <= set(responses)
                assert "application/json" in declared["requestBody"]["content"]
            if operation.body is None and not operation.files and operation.raw is None:
                assert "requestBody" not in declared, (route.path, method)
            parameters = {p["name"]: p for p in declared["parameters"] if p["in"] == "path"}
            assert set(parameters) == set(_path_names(route.path))
            for name, converter in _path_names(route.path).items():
                # A path field is an id (what the converter routes is what the schema allows),
                # or a string with the pattern its route declares.
                if converter is None:
                    assert parameters[name]["schema"] == {
                        "type": "string",
                        "pattern": route.patterns[name],
                    }
                    continue
                assert converter == "id", (route.path, name)
                assert parameters[name]["required"] is True
                assert parameters[name]["schema"] == {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_ID,
                }


def _path_names(path: str) -> dict[str, str | None]:
    """The fields of a route's path, with their converters."""
    fields = [part[1:-1].partition(":") for part in path.split("/") if part.startswith("{")]
    return {name: converter or None for name, _, converter in fields}


def test_stored_files_are_documented_as_bytes_of_any_type(
    openapi_document: dict[str, Any],
) -> None:
    item = openapi_document["paths"]["/files/{key}"]
    assert set(item) == {"get"}
    operation = item["get"]
    assert operation["operationId"] and operation["summary"]
    assert "security" not in operation and "requestBody" not in operation  # whoever has the URL
    [key] = operation["parameters"]
    assert (key["name"], key["in"], key["required"]) == ("key", "path", True)
    assert key["schema"]["type"] == "string"
    responses = operation["responses"]
    assert responses["200"]["content"] == {"*/*": {"schema": BINARY}}
    for status in ("404", "422"):
        assert responses[status]["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}
    assert set(responses) == {"200", "404", "422"}


def test_the_documented_file_key_takes_real_keys_and_refuses_traversal(
    world: World, openapi_document: dict[str, Any]
) -> None:
    schema = openapi_document["paths"]["/files/{key}"]["get"]["parameters"][0]["schema"]
    uploaded = ok(
        world.api.upload("/v1/uploads", PNG, "image/png", token=world.patient_a.token), 201
    )
    key = "uploads/" + uploaded["url"].removeprefix("/v1/uploads/")

    validate(key, schema, openapi_document)
    for bad in ("../etc/passwd", "/etc/passwd", "Uploads/x.png", "x" * 256, "a\n", ""):
        with pytest.raises(SchemaMismatch):
            validate(bad, schema, openapi_document)


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


DEPARTMENTS = "/v1/hospitals/{hospital_id}/departments"
#: The caller and a valid body of each operation below; each case changes some of its fields.
_VALID: dict[tuple[str, str], tuple[str | None, Callable[[World], dict[str, Any]]]] = {
    ("/v1/patients", "post"): (
        None,
        lambda w: {"phone": w.new_phone(), "name": "Someone", "password": PASSWORD},
    ),
    ("/v1/doctors/me/schedule", "put"): ("paediatrician", lambda w: dict(SCHEDULE_BODY)),
    ("/v1/doctors/me", "patch"): ("paediatrician", lambda w: {}),
    (DEPARTMENTS, "post"): ("admin", lambda w: {"name": "Dermatology"}),
}


def _quota(morning: int) -> dict[str, Any]:
    return {"monday": {"morning": morning, "afternoon": 0}}


@pytest.mark.parametrize(
    ("path", "method", "fields", "fits"),
    [
        pytest.param("/v1/patients", "post", {"name": "张伟"}, True, id="name-cjk"),
        pytest.param("/v1/patients", "post", {"name": "a" * 50}, True, id="name-50"),
        pytest.param("/v1/patients", "post", {"name": "a" * 51}, False, id="name-51"),
        pytest.param("/v1/patients", "post", {"name": ""}, False, id="name-empty"),
        pytest.param("/v1/patients", "post", {"name": " \u3000 "}, False, id="name-spaces"),
        pytest.param("/v1/patients", "post", {"name": "Zhao\nLi"}, False, id="name-newline"),
        pytest.param("/v1/patients", "post", {"name": "Zhao Li\n"}, False, id="name-newline-end"),
        pytest.param("/v1/patients", "post", {"phone": "12912345678"}, False, id="phone-12"),
        pytest.param("/v1/patients", "post", {"phone": "13912345678\n"}, False, id="phone-nl"),
        pytest.param("/v1/patients", "post", {"password": "a" * 7}, False, id="password-7"),
        pytest.param("/v1/patients", "post", {"password": "a" * 128}, True, id="password-128"),
        pytest.param("/v1/patients", "post", {"password": "a" * 129}, False, id="password-129"),
        pytest.param("/v1/doctors/me/schedule", "put", _quota(500), True, id="quota-500"),
        pytest.param("/v1/doctors/me/schedule", "put", _quota(501), False, id="quota-501"),
        pytest.param("/v1/doctors/me/schedule", "put", _quota(-1), False, id="quota-negative"),
        pytest.param("/v1/doctors/me", "patch", {"staff_number": ""}, False, id="staff-empty"),
        pytest.param("/v1/doctors/me", "patch", {"staff_number": "A" * 8}, True, id="staff-8"),
        pytest.param("/v1/doctors/me", "patch", {"staff_number": "A" * 9}, False, id="staff-9"),
        pytest.param("/v1/doctors/me", "patch", {"specialty": "a" * 200}, True, id="specialty-200"),
        pytest.param(
            "/v1/doctors/me",
            "patch",
            {"specialty": "a" * 201},
            False,
            id="specialty-201",
        ),
        pytest.param(DEPARTMENTS, "post", {"name": "a" * 100}, True, id="department-100"),
        pytest.param(DEPARTMENTS, "post", {"name": "a" * 101}, False, id="department-101"),
        pytest.param(DEPARTMENTS, "post", {"description": "d" * 2000}, True, id="description-2000"),
        pytest.param(
            DEPARTMENTS,
            "post",
            {"description": "d" * 2001},
            False,
            id="description-2001",
        ),
    ],
)
def test_the_server_and_the_document_agree_on_what_fits(
    world: World,
    openapi_document: dict[str, Any],
    path: str,
    method: str,
    fields: dict[str, Any],
    fits: bool,
) -> None:
    """The constraints the document states (lengths, ranges, patterns) are the server's own: what
    the document refuses the server refuses with a 422, and what it allows the server takes."""
    account, valid = _VALID[(path, method)]
    sent = valid(world) | fields
    schema = openapi_document["paths"][path][method]["requestBody"]["content"]["application/json"]
    if fits:
        validate(sent, schema["schema"], openapi_document)
    else:
        with pytest.raises(SchemaMismatch):
            validate(sent, schema["schema"], openapi_document)

    token = getattr(world, account).token if account else None
    result = world.api.request(
        method.upper(), path.format(hospital_id=world.shanghai), token=token, json=sent
    )

    if fits:
        assert result.status_code in (200, 201), result.text
    else:
        problem(result, 422, fields=set(fields) if path != "/v1/doctors/me/schedule" else None)


@pytest.mark.parametrize(
    ("lat", "lng", "fits"),
    [("90", "180", True), ("-90", "-180", True), ("90.001", "0", False), ("0", "-180.5", False)],
)
def test_the_server_and_the_document_agree_on_query_ranges(
    world: World, openapi_document: dict[str, Any], lat: str, lng: str, fits: bool
) -> None:
    parameters = openapi_document["paths"]["/v1/hospitals"]["get"]["parameters"]
    schemas = {p["name"]: p["schema"] for p in parameters}
    verdicts = []
    for name, value in (("lat", lat), ("lng", lng)):
        try:
            validate(float(value), schemas[name], openapi_document)
            verdicts.append(True)
        except SchemaMismatch:
            verdicts.append(False)
    assert all(verdicts) is fits

    result = world.api.get("/v1/hospitals", params={"lat": lat, "lng": lng})

    if fits:
        ok(result)
    else:
        problem(result, 422)


def test_request_schemas_forbid_unknown_properties_like_the_server(
    openapi_document: dict[str, Any],
) -> None:
    loose = []
    for path, item in openapi_document["paths"].items():
        if path.startswith("/fhir/"):
            # A FHIR resource: the server reads the elements it uses and ignores the others, as
            # FHIR lets a server do (docs/fhir.md); its schema is the loose one it documents.
            continue
        for method, operation in item.items():
            body = operation.get("requestBody")
            if body is None:
                continue
            for media_type, media in body["content"].items():
                if media_type == "multipart/form-data":  # a form of one file part
                    assert media["schema"]["additionalProperties"] is False, (method, path)
                    continue
                if media_type != "application/json":
                    # A file: raw bytes, no object to be loose with.
                    assert media == {"schema": BINARY}, (method, path, media_type)
                    continue
                for name, schema in _objects(openapi_document, media):
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
    uploaded = ok(world.api.upload("/v1/uploads", PNG, "image/png", token=world.doctor.token), 201)
    served = world.api.get(uploaded["url"], token=world.doctor.token)
    assert (served.status_code, served.content) == (200, PNG)


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"type": "integer", "minimum": 1, "maximum": 10}, [1, 10], [0, 11, -5]),
        ({"type": "number", "minimum": -90, "maximum": 90}, [-90, 0.5, 90.0], [-90.01, 91]),
        ({"type": "string", "minLength": 2, "maxLength": 3}, ["ab", "abc", "张伟"], ["a", "abcd"]),
        # Unanchored unless the pattern anchors itself, as JSON Schema's patterns are.
        ({"type": "string", "pattern": "[0-9]"}, ["a1b", "9"], ["abc", ""]),
        ({"type": "string", "pattern": "^a"}, ["a", "abc"], ["ba"]),
        ({"type": "string", "pattern": "b$"}, ["b", "ab"], ["ba", "ab\n"]),
        ({"type": "string", "pattern": "^1[3-9][0-9]{9}$"}, ["13912345678"], ["1391234567\n"]),
        # ECMAScript's \d is ASCII; "." stops at every line terminator; \s is ECMAScript's.
        ({"type": "string", "pattern": "^\\d+$"}, ["42"], ["٤٢"]),
        ({"type": "string", "pattern": "^a.b$"}, ["a-b", "a b"], ["a\nb", "a\u2028b"]),
        ({"type": "string", "pattern": "^\\S+$"}, ["ab"], ["a\u00a0b", "a\ufeffb"]),
        ({"type": "string", "pattern": "^[^\\s]+$"}, ["ab"], ["a\u3000b"]),
        (BINARY, [b"", PNG], ["text", None, [1]]),
    ],
)
def test_the_check_applies_the_constraints_of_the_document(
    openapi_document: dict[str, Any], schema: dict[str, Any], good: list[Any], bad: list[Any]
) -> None:
    for value in good:
        validate(value, schema, openapi_document)
    for value in bad:
        with pytest.raises(SchemaMismatch):
            validate(value, schema, openapi_document)


def test_the_check_knows_exclusive_bounds_and_item_counts() -> None:
    validate(1, {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 2}, {})
    validate([1], {"type": "array", "minItems": 1, "maxItems": 1}, {})
    for value, schema in (
        (0, {"type": "number", "exclusiveMinimum": 0}),
        (2, {"type": "number", "exclusiveMaximum": 2}),
        ([], {"type": "array", "minItems": 1}),
        ([1, 2], {"type": "array", "maxItems": 1}),
    ):
        with pytest.raises(SchemaMismatch):
            validate(value, schema, {})


def test_constraints_of_one_type_leave_values_of_another_alone(
    openapi_document: dict[str, Any],
) -> None:
    validate(5, {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]}, {})
    validate(None, {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 1}]}, {})
    with pytest.raises(SchemaMismatch):
        validate(True, {"type": "integer", "minimum": 0}, openapi_document)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "multipleOf": 2},
        {"type": "object", "minProperties": 1},
        {"type": "string", "const": "a"},
        {"type": "array", "uniqueItems": True},
        {"type": "string", "format": "email"},
        {"type": "integer", "format": "binary"},
        {"oneOf": [{"type": "string"}]},
    ],
)
def test_the_check_refuses_what_it_does_not_know_rather_than_pass_it(
    openapi_document: dict[str, Any], schema: dict[str, Any]
) -> None:
    with pytest.raises(SchemaMismatch, match=r"does not know|knows binary only"):
        validate(b"x" if schema.get("format") == "binary" else 1, schema, openapi_document)


@pytest.mark.parametrize("pattern", ["^(a)\\1$", "^[]$", "^\\p{L}$", "^(?<x>a)$", "[\\S]"])
def test_the_check_refuses_patterns_it_cannot_read_the_ecmascript_way(pattern: str) -> None:
    with pytest.raises(SchemaMismatch):
        ecma_pattern(pattern)


def test_every_pattern_of_the_document_reads_the_ecmascript_way(
    openapi_document: dict[str, Any],
) -> None:
    patterns = set()
    pending: list[Any] = [openapi_document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)

    assert patterns  # names, phones, identity numbers, file keys
    for pattern in patterns:
        ecma_pattern(pattern)
