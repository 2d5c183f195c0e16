"""Security headers on every answer, errors and stored files included; HSTS only for requests that
came over TLS (directly, or through a trusted proxy's ``X-Forwarded-Proto``); CORS for an
allow-list of origins only (issue 12, "security posture")."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping

import falcon.testing
import pytest
from http_support import MAX_BODY_BYTES, PDF, PNG, World, file_path, ok

from medbook.bootstrap import IPNetwork, Services
from medbook.entrypoints.http.app import create_app, get_app

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"
APP_ORIGIN = "https://app.example.org"
PROXY = "10.0.0.2"
STRANGER = "203.0.113.7"


def client(
    services: Services,
    trusted_proxies: tuple[IPNetwork, ...] = (),
    cors_origins: tuple[str, ...] = (),
) -> falcon.testing.TestClient:
    app = create_app(
        services,
        max_body_bytes=MAX_BODY_BYTES,
        trusted_proxies=trusted_proxies,
        cors_origins=cors_origins,
    )
    return falcon.testing.TestClient(app)


def behind_proxy(services: Services) -> falcon.testing.TestClient:
    """The app behind a reverse proxy in 10.0.0.0/8 (``MEDBOOK_TRUSTED_PROXIES=10.0.0.0/8``)."""
    return client(services, trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))


def with_cors(services: Services) -> falcon.testing.TestClient:
    """The app with ``MEDBOOK_CORS_ORIGINS=https://app.example.org``."""
    return client(services, cors_origins=(APP_ORIGIN,))


def cors_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.startswith("access-control-")}


def assert_safe(headers: Mapping[str, str], policy: str = API_POLICY) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == policy


# --- every answer --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "media_type"),
    [
        ("GET", "/v1/hospitals", 200, "application/json"),
        ("GET", "/v1/me", 401, "application/problem+json"),
        ("GET", "/v1/doctors/99999", 404, "application/problem+json"),
        ("GET", "/v1/nowhere", 404, "application/problem+json"),
        ("DELETE", "/healthz", 405, "application/problem+json"),
        ("POST", "/v1/sessions", 415, "application/problem+json"),
        ("GET", "/healthz", 200, "application/json"),
        ("GET", "/v1/openapi.json", 200, "application/json"),
    ],
)
def test_every_api_answer_carries_the_security_headers(
    world: World, method: str, path: str, status: int, media_type: str
) -> None:
    result = world.api.client.simulate_request(method, path)

    assert result.status_code == status
    assert result.headers["content-type"].startswith(media_type)
    assert_safe(result.headers)
    assert result.headers["cache-control"] == "no-store"
    # Plain HTTP, no CORS setting: neither HSTS nor any CORS header.
    assert "strict-transport-security" not in result.headers
    assert cors_headers(result.headers) == {}
    assert "vary" not in result.headers


def test_a_public_file_keeps_its_caching_and_is_neither_framed_nor_run(world: World) -> None:
    url = ok(
        world.api.upload(
            "/v1/doctors/me/avatar", PNG, "image/png", method="PUT", token=world.doctor.token
        )
    )["avatar_url"]

    served = world.api.get(file_path(url))

    assert served.status_code == 200
    assert served.content == PNG
    assert_safe(served.headers, "default-src 'none'; frame-ancestors 'none'; sandbox")
    assert served.headers["cache-control"] == "private, max-age=86400, immutable"


def test_a_missing_public_file_is_a_problem_with_the_api_policy(world: World) -> None:
    result = world.api.get("/files/avatars/nothing-here.png")

    assert result.status_code == 404
    assert_safe(result.headers)


def test_a_pdf_still_downloads_as_an_attachment(world: World) -> None:
    uploaded = ok(
        world.api.upload("/v1/uploads", PDF, "application/pdf", token=world.patient_a.token), 201
    )

    served = world.api.get(uploaded["url"], token=world.patient_a.token)

    assert served.status_code == 200
    assert served.content == PDF
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == "attachment"
    assert_safe(served.headers, "default-src 'none'; frame-ancestors 'none'; sandbox")


def test_a_resource_that_sets_its_own_policy_keeps_it(services: Services) -> None:
    """A web client served at ``/`` will bring its own policy (scripts, styles, images)."""

    class Page:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.content_type = "text/html"
            resp.set_header("Content-Security-Policy", "default-src 'self'")
            resp.text = "<!DOCTYPE html><title>medbook</title>"

    app = create_app(services)
    app.add_route("/", Page())

    result = falcon.testing.TestClient(app).simulate_get("/")

    assert result.headers["content-security-policy"] == "default-src 'self'"
    assert result.headers["x-frame-options"] == "DENY"


# --- HSTS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded_proto", "sent"),
    [
        (PROXY, "https", True),
        (PROXY, "HTTPS", True),
        (PROXY, "http, https", True),  # the proxy appended what it saw: https
        (PROXY, "https, http", False),  # the nearest proxy saw plain HTTP; the left is anyone's
        (PROXY, "http", False),
        (PROXY, None, False),
        (STRANGER, "https", False),  # an untrusted peer cannot ask for HSTS
        ("::ffff:10.0.0.2", "https", True),
        ("10.0.0.2:51234", "https", True),
        ("unknown", "https", False),
    ],
)
def test_hsts_behind_a_trusted_proxy_only_when_it_says_https(
    services: Services, peer: str, forwarded_proto: str | None, sent: bool
) -> None:
    headers = {"X-Forwarded-Proto": forwarded_proto} if forwarded_proto else {}

    result = behind_proxy(services).simulate_get("/healthz", remote_addr=peer, headers=headers)

    assert result.status_code == 200
    assert result.headers.get("strict-transport-security") == (HSTS if sent else None)


@pytest.mark.parametrize(("method", "path"), [("GET", "/healthz"), ("GET", "/v1/nowhere")])
def test_hsts_on_every_answer_to_a_request_over_tls(
    services: Services, method: str, path: str
) -> None:
    result = client(services).simulate_request(method, path, protocol="https")

    assert result.headers["strict-transport-security"] == HSTS


def test_no_hsts_on_plain_http_nor_from_forwarded_proto_without_trusted_proxies(
    services: Services,
) -> None:
    app = client(services)
    plain = app.simulate_get("/healthz")
    claimed = app.simulate_get(
        "/healthz", remote_addr=PROXY, headers={"X-Forwarded-Proto": "https"}
    )

    assert "strict-transport-security" not in plain.headers
    assert "strict-transport-security" not in claimed.headers


# --- CORS ----------------------------------------------------------------------------------------


def preflight(
    app: falcon.testing.TestClient,
    path: str,
    origin: str,
    method: str = "GET",
    request_headers: str = "authorization",
) -> falcon.testing.Result:
    return app.simulate_options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": request_headers,
        },
    )


def listed(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",")}


def test_a_preflight_from_the_allowed_origin_is_answered(services: Services) -> None:
    result = preflight(
        with_cors(services), "/v1/doctors/me", APP_ORIGIN, "PATCH", "authorization,x-evil"
    )

    assert result.status_code == 200
    assert result.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "PATCH" in result.headers["access-control-allow-methods"]
    allowed = listed(result.headers["access-control-allow-headers"])
    assert {"authorization", "content-type"} <= allowed
    assert "x-evil" not in allowed  # only the headers the API reads, not whatever is asked
    assert int(result.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in result.headers
    assert "Origin" in result.headers["vary"]
    assert_safe(result.headers)


def test_a_preflight_for_an_upload_allows_its_headers(services: Services) -> None:
    result = preflight(
        with_cors(services),
        "/v1/uploads",
        APP_ORIGIN,
        "POST",
        "authorization,content-type,x-filename",
    )

    assert result.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in result.headers["access-control-allow-methods"]
    assert {"authorization", "content-type", "x-filename"} <= listed(
        result.headers["access-control-allow-headers"]
    )


@pytest.mark.parametrize(("path", "status"), [("/v1/hospitals", 200), ("/v1/me", 401)])
def test_the_allowed_origin_may_read_answers_and_errors(
    services: Services, path: str, status: int
) -> None:
    result = with_cors(services).simulate_get(path, headers={"Origin": APP_ORIGIN})

    assert result.status_code == status
    assert result.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = listed(result.headers["access-control-expose-headers"])
    assert {"retry-after", "location", "www-authenticate"} <= exposed
    assert "access-control-allow-credentials" not in result.headers
    assert "Origin" in result.headers["vary"]
    assert_safe(result.headers)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.org",
        "http://app.example.org",  # another scheme is another origin
        "https://app.example.org:8443",
        "https://app.example.org.evil.example",
        "null",
    ],
)
def test_any_other_origin_gets_no_cors_headers(services: Services, origin: str) -> None:
    app = with_cors(services)

    simple = app.simulate_get("/v1/hospitals", headers={"Origin": origin})
    asked = preflight(app, "/v1/me", origin)

    assert simple.status_code == 200
    assert cors_headers(simple.headers) == {}
    assert cors_headers(asked.headers) == {}


def test_without_the_setting_no_origin_gets_cors_headers(world: World) -> None:
    simple = world.api.client.simulate_get("/v1/hospitals", headers={"Origin": APP_ORIGIN})
    asked = preflight(world.api.client, "/v1/me", APP_ORIGIN)

    assert cors_headers(simple.headers) == {}
    assert cors_headers(asked.headers) == {}


@pytest.mark.parametrize(
    "origins", [("*",), ("https://app.example.org/",), ("app.example.org",), ("https://*.org",)]
)
def test_create_app_refuses_what_is_not_an_origin(
    services: Services, origins: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="MEDBOOK_CORS_ORIGINS"):
        create_app(services, cors_origins=origins)


# --- from the environment (gunicorn's get_app) ---------------------------------------------------


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("MEDBOOK_") and not name.startswith("MEDBOOK_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MEDBOOK_DATABASE_URL", "memory://")
    monkeypatch.setenv("MEDBOOK_JWT_SECRET", secrets.token_urlsafe(48))
    return monkeypatch


def test_get_app_takes_the_origins_and_proxies_from_the_environment(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("MEDBOOK_CORS_ORIGINS", f"{APP_ORIGIN}, http://localhost:5173")
    environment.setenv("MEDBOOK_TRUSTED_PROXIES", "10.0.0.0/8")
    app = falcon.testing.TestClient(get_app())

    local = app.simulate_get("/healthz", headers={"Origin": "http://localhost:5173"})
    proxied = app.simulate_get(
        "/healthz", remote_addr=PROXY, headers={"X-Forwarded-Proto": "https"}
    )

    assert local.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert proxied.headers["strict-transport-security"] == HSTS


def test_get_app_refuses_to_serve_with_a_bad_origin(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("MEDBOOK_CORS_ORIGINS", "https://app.example.org/")

    with pytest.raises(SystemExit, match=r"MEDBOOK_CORS_ORIGINS.*https://app\.example\.org/"):
        get_app()
