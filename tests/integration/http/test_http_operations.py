"""Liveness, readiness, and the answers to what no route serves or no handler expects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from http_support import Api, World, fast_hasher, ok, problem

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.bootstrap import build_services
from medbook.domain.shared.errors import InvalidValue
from medbook.entrypoints.http.app import create_app


def test_healthz_is_200(api: Api) -> None:
    assert ok(api.get("/healthz")) == {"status": "ok"}


def test_readyz_is_200_when_the_store_answers(api: Api) -> None:
    assert ok(api.get("/readyz")) == {"status": "ready"}


@pytest.mark.parametrize("database", ["missing-folder/medbook.sqlite3", "empty.sqlite3"])
def test_readyz_is_503_when_the_database_does_not_answer(
    tmp_path: Path, openapi_document: dict[str, Any], database: str
) -> None:
    # A file in a folder that does not exist cannot be opened; an empty one has no tables.
    engine = make_engine(f"sqlite:///{tmp_path / database}")
    try:
        services = build_services(lambda: SqlUnitOfWork(engine), hasher=fast_hasher())
        api = Api(falcon.testing.TestClient(create_app(services)), openapi_document)

        problem(api.get("/readyz"), 503, "not_ready")
        assert ok(api.get("/healthz")) == {"status": "ok"}  # alive all the same
    finally:
        engine.dispose()


def test_an_unknown_path_is_a_404_problem(api: Api) -> None:
    problem(api.get("/v1/nothing-here"), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/appointments", {"GET", "POST"}),
        ("GET", "/v1/sessions", {"POST"}),
        ("PUT", "/v1/doctors/1", {"GET"}),
        ("POST", "/healthz", {"GET"}),
    ],
)
def test_a_method_a_route_does_not_serve_is_a_405_problem(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    result = api.request(method, path)

    problem(result, 405)
    assert allowed <= {m.strip() for m in result.headers["allow"].split(",")}


def test_a_trailing_slash_is_ignored(world: World) -> None:
    assert ok(world.api.get("/v1/hospitals/")) == ok(world.api.get("/v1/hospitals"))


def test_an_unexpected_error_is_a_500_problem_that_tells_nothing_of_the_inside(
    clock: ManualClock,
) -> None:
    def broken_store() -> Any:
        raise RuntimeError("secret connection string mysql://root:hunter2@db")

    services = build_services(broken_store, clock, hasher=fast_hasher())
    client = falcon.testing.TestClient(create_app(services))

    result = client.simulate_get("/v1/hospitals")

    assert result.status_code == 500
    assert result.headers["content-type"].startswith("application/problem+json")
    assert result.json["status"] == 500
    assert result.json["code"] == "internal_error"
    assert "hunter2" not in result.text and "RuntimeError" not in result.text


def test_an_error_whose_text_cannot_be_written_as_utf8_still_answers_a_problem(
    clock: ManualClock,
) -> None:
    # An error echoing what a client sent (a lone surrogate, say) must not break its own answer:
    # before, Falcon failed to encode the body and the client got a 500 with no body at all.
    def echoing_store() -> Any:
        raise InvalidValue("name\udead", "was \ud800 sent by someone")

    services = build_services(echoing_store, clock, hasher=fast_hasher())
    client = falcon.testing.TestClient(create_app(services))

    result = client.simulate_get("/v1/hospitals")

    assert result.status_code == 422
    assert result.headers["content-type"].startswith("application/problem+json")
    assert result.json["status"] == 422
    assert result.json["errors"][0]["field"].startswith("name")
