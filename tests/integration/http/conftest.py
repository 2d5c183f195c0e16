"""Fixtures of the HTTP tests: the app on in-memory services, a checking client, a small world.

The SQL variants (``sql_world``) use the ``engine`` fixture, so they run on SQLite and MariaDB.
"""

from __future__ import annotations

from typing import Any

import falcon.testing
import pytest
from http_support import (
    MAX_BODY_BYTES,
    MAX_UPLOAD_BYTES,
    NOW,
    Api,
    World,
    build_world,
    fast_hasher,
)
from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.bootstrap import Services, build_services, in_memory
from medbook.entrypoints.http.app import create_app


@pytest.fixture(scope="session")
def openapi_document() -> dict[str, Any]:
    client = falcon.testing.TestClient(create_app(in_memory(hasher=fast_hasher())))
    result = client.simulate_get("/v1/openapi.json")
    assert result.status_code == 200
    document: dict[str, Any] = result.json
    return document


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def services(clock: ManualClock) -> Services:
    return in_memory(clock, hasher=fast_hasher(), max_upload_bytes=MAX_UPLOAD_BYTES)


def make_api(services: Services, document: dict[str, Any]) -> Api:
    app = create_app(services, max_body_bytes=MAX_BODY_BYTES)
    return Api(falcon.testing.TestClient(app), document)


@pytest.fixture
def api(services: Services, openapi_document: dict[str, Any]) -> Api:
    return make_api(services, openapi_document)


@pytest.fixture
def world(services: Services, api: Api, clock: ManualClock) -> World:
    return build_world(services, api, clock)


@pytest.fixture
def sql_services(engine: Engine, clock: ManualClock) -> Services:
    return build_services(
        lambda: SqlUnitOfWork(engine),
        clock,
        hasher=fast_hasher(),
        max_upload_bytes=MAX_UPLOAD_BYTES,
    )


@pytest.fixture
def sql_world(
    sql_services: Services, openapi_document: dict[str, Any], clock: ManualClock
) -> World:
    return build_world(sql_services, make_api(sql_services, openapi_document), clock)
