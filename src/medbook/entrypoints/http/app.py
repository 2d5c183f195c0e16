"""The Falcon application: ``create_app(services)``, and ``get_app()`` for gunicorn."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Sequence
from typing import Any

import falcon

from medbook import bootstrap
from medbook.entrypoints.http import errors, fhir
from medbook.entrypoints.http.api import UNREADABLE, IdConverter, Route, body_ended, make_resource
from medbook.entrypoints.http.client import IPNetwork, from_trusted_proxy
from medbook.entrypoints.http.files import Files
from medbook.entrypoints.http.observability import Metrics, RequestLog
from medbook.entrypoints.http.openapi import document
from medbook.entrypoints.http.routes import ROUTES
from medbook.entrypoints.metrics import MetricsAccess
from medbook.entrypoints.web import WebAsset, WebPage
from medbook.entrypoints.web.sandbox import SandboxCheckout

log = logging.getLogger("medbook.http")

PLAIN_ROUTES = (
    ("/healthz", "GET", "Liveness: the process answers"),
    ("/readyz", "GET", "Readiness: the database answers"),
    ("/v1/openapi.json", "GET", "This document"),
)


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Ready:
    def __init__(self, services: bootstrap.Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            with self.services.new_uow() as uow:
                uow.hospitals.get(0)
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"
            log.warning("not ready: %s", error)
            errors.problem(resp, 503, "the database does not answer", "not_ready")
            return
        resp.media = {"status": "ready"}


#: An API answer is data, never a page: it may load nothing, run nothing, and no site may frame it.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
#: A year, subdomains included; sent only in answers to requests that came over TLS.
HSTS = "max-age=31536000; includeSubDomains"


class SafeHeaders:
    """Headers every answer carries, errors included.

    ``nosniff``: a browser takes the declared content type, never guesses one from the bytes.
    ``no-store``: the API's answers carry tokens and personal data (a patient's appointments, a
    doctor's profile), which no browser, proxy or CDN may keep; a resource that may be cached
    (stored files) says so itself and is left alone.
    ``Content-Security-Policy``: ``API_POLICY``, unless the resource set its own (stored files,
    which are also sandboxed; a web client's pages); ``X-Frame-Options`` says no framing to
    browsers that predate ``frame-ancestors``.
    ``Referrer-Policy: no-referrer``: record-share codes travel in URLs, which must not leak to
    another site through the ``Referer`` of a link or image.
    ``Strict-Transport-Security``: only on an answer to a request that came over TLS (see
    ``came_over_tls``); sent over plain HTTP it would mean nothing, and believed from anyone's
    ``X-Forwarded-Proto`` it would let an untrusted peer decide.
    """

    def __init__(self, trusted_proxies: Sequence[IPNetwork] = ()) -> None:
        self.trusted_proxies = trusted_proxies

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        resp.set_header("X-Content-Type-Options", "nosniff")
        if resp.get_header("Cache-Control") is None:
            resp.set_header("Cache-Control", "no-store")
        if resp.get_header("Content-Security-Policy") is None:
            resp.set_header("Content-Security-Policy", API_POLICY)
        resp.set_header("X-Frame-Options", "DENY")
        resp.set_header("Referrer-Policy", "no-referrer")
        if came_over_tls(req, self.trusted_proxies):
            resp.set_header("Strict-Transport-Security", HSTS)


#: The most of a refused body the server still reads (and drops) before it answers, and the most
#: time it spends on that, as nginx's lingering close gives up after a while: 6 MiB beyond the
#: largest upload it takes, 2 seconds, and at most 1 second of silence from the client.
LINGER_BYTES = 16 * 1024 * 1024
LINGER_SECONDS = 2.0
LINGER_IDLE_SECONDS = 1.0
_PIECE = 64 * 1024


class LingeringClose:
    """Read what is left of a request body before the answer goes out, for a short while.

    An answer can come before the body was read: a 401 to an upload without a token, a 413 once a
    chunked body passed the limit. The worker then closes the connection with the client's bytes
    still unread, which makes the kernel send a reset, and a reset makes the client's kernel drop
    the answer the client has not read yet: the client sees a broken pipe instead of the 401 or
    413. Reading the rest first lets the answer arrive.

    The body is read through the WSGI input (so a keep-alive connection stays in step), never past
    its end: a ``Content-Length`` body only if it was not read to its end, a chunked one unless
    ``body_stream`` saw its end. Bounded three ways: ``LINGER_BYTES`` (a body that says it is
    larger is not read at all), ``LINGER_SECONDS`` between pieces, and under gunicorn each wait on
    the socket at most ``LINGER_IDLE_SECONDS``: a client that stops sending frees the worker after
    a second. A client that sends a byte a second can still hold the worker, as it can on any call
    that reads a body; nginx, which the deployment puts in front, takes whole bodies before it
    passes them on.
    """

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        length = req.content_length
        if length is not None:
            if 0 < length <= LINGER_BYTES and not req.bounded_stream.eof:
                _drop(req.bounded_stream, req.env.get("gunicorn.socket"))
        elif "chunked" in (req.get_header("Transfer-Encoding") or "").lower() and not body_ended(
            req
        ):
            _drop(req.stream, req.env.get("gunicorn.socket"))


def _drop(stream: Any, sock: socket.socket | None) -> None:
    """Read and drop up to ``LINGER_BYTES`` of ``stream``: until its end, an error, or the time
    is up."""
    deadline = time.monotonic() + LINGER_SECONDS
    before = sock.gettimeout() if sock is not None else None
    total = 0
    try:
        while total <= LINGER_BYTES and time.monotonic() < deadline:
            if sock is not None:
                sock.settimeout(LINGER_IDLE_SECONDS)
            piece = stream.read(_PIECE)
            if not piece:
                return
            total += len(piece)
    except UNREADABLE:  # a timeout, a reset, a bad chunk: nothing more to wait for
        return
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(before)


def came_over_tls(req: falcon.Request, trusted_proxies: Sequence[IPNetwork]) -> bool:
    """The request reached us over TLS, or reached a trusted proxy over TLS: its
    ``X-Forwarded-Proto`` is believed only from a trusted proxy, and read from the right (the
    entry the nearest proxy wrote; entries to its left may be the client's own)."""
    if req.scheme == "https":
        return True
    if not from_trusted_proxy(req.remote_addr, trusted_proxies):
        return False
    forwarded = (req.get_header("X-Forwarded-Proto") or "").split(",")
    return forwarded[-1].strip().lower() == "https"


#: Request headers a browser client may send besides the safelisted ones: its token, the body's
#: type, and an upload's file name.
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "X-Filename", "Content-Disposition")
#: Response headers a browser client may read besides the safelisted ones.
CORS_EXPOSED_HEADERS = ("Location", "Retry-After", "WWW-Authenticate", "Content-Disposition")


class Cors:
    """Falcon's ``CORSMiddleware`` for an allow-list of exact origins, without credentials
    (the API takes bearer tokens, never cookies), with two refinements: a preflight allows only
    the request headers the API reads (Falcon echoes whatever a browser asks for), and every answer
    varies by ``Origin`` (it names the one origin it allows, so no cache may hand it to another).
    """

    def __init__(self, origins: Sequence[str]) -> None:
        self.falcon: falcon.CORSMiddleware[Any, Any] = falcon.CORSMiddleware(
            allow_origins=list(origins),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            allow_credentials=None,
        )

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        self.falcon.process_response(req, resp, resource, req_succeeded)
        resp.append_header("Vary", "Origin")
        if resp.get_header("Access-Control-Allow-Headers") is not None:
            resp.set_header("Access-Control-Allow-Headers", ", ".join(CORS_REQUEST_HEADERS))


class OpenApi:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.spec


def create_app(
    services: bootstrap.Services,
    *,
    routes: tuple[Route, ...] = ROUTES,
    max_body_bytes: int = 1024 * 1024,
    trusted_proxies: tuple[bootstrap.IPNetwork, ...] = (),
    cors_origins: Sequence[str] = (),
    metrics_networks: Sequence[bootstrap.IPNetwork] = bootstrap.LOOPBACK,
    metrics_token: str | None = None,
    sandbox_secret: bytes | None = None,
    chat_url: str = "",
) -> falcon.App[falcon.Request, falcon.Response]:
    """The app on ``services``. ``cors_origins``: the exact origins (``https://app.example.org``)
    whose scripts may call it from a browser; none, no CORS headers at all."""
    origins = bootstrap.check_origins(cors_origins)
    # The request log first: it sees the request before anyone and the answer after everyone.
    middleware: list[RequestLog | LingeringClose | SafeHeaders | fhir.FhirOutcomes | Cors] = [
        RequestLog(services.pool_use, trusted_proxies),
        LingeringClose(),
        SafeHeaders(trusted_proxies),
        fhir.FhirOutcomes(),  # FHIR's errors are OperationOutcomes, whoever raised them
    ]
    if origins:
        middleware.append(Cors(origins))
    # Falcon's own CORS (cors_enable) would allow every origin: the allow-list is ``Cors``.
    app = falcon.App(cors_enable=False, middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    app.router_options.converters["id"] = IdConverter
    errors.install(app)
    for route in routes:
        app.add_route(route.path, make_resource(services, route, max_body_bytes, trusted_proxies))
    app.add_route("/healthz", Health())
    app.add_route("/readyz", Ready(services))
    app.add_route("/files/{key:path}", Files(services.uploads.storage))
    fhir.add_routes(app, services, max_body_bytes)
    app.add_route("/v1/openapi.json", OpenApi(document(routes, PLAIN_ROUTES)))
    app.add_route("/", WebPage(chat_url))
    app.add_route("/web/{name:path}", WebAsset())
    if sandbox_secret is not None:  # demo mode only: see SandboxCheckout
        app.add_route("/sandbox/pay/{payment_id}", SandboxCheckout(services, sandbox_secret))
    app.add_route(
        "/metrics",
        Metrics(MetricsAccess(metrics_token, tuple(metrics_networks), tuple(trusted_proxies))),
    )
    return app


def get_app() -> falcon.App[falcon.Request, falcon.Response]:
    """For gunicorn (``medbook.entrypoints.http.app:get_app()``): settings from the environment."""
    try:
        settings = bootstrap.Settings.from_env()
    except ValueError as error:  # a malformed setting, named in the message
        raise SystemExit(f"refusing to serve: {error}") from None
    try:
        bootstrap.check_jwt_secret(settings.jwt_secret or "")
    except ValueError as error:
        raise SystemExit(f"refusing to serve: MEDBOOK_JWT_SECRET {error}") from None
    services = bootstrap.bootstrap(settings)
    return create_app(
        services,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=settings.trusted_proxies,
        cors_origins=settings.cors_origins,
        metrics_networks=settings.metrics_networks,
        metrics_token=settings.metrics_token,
        sandbox_secret=sandbox_secret(settings),
        chat_url=settings.chat_url,
    )


def sandbox_secret(settings: bootstrap.Settings) -> bytes | None:
    """The sandbox gateway's key when its checkout page is asked for (``--demo``) and the sandbox
    is the gateway in use; else None, and the page is not served at all."""
    if settings.sandbox_checkout and settings.payment_gateway == "sandbox":
        return settings.payment_secret.encode() if settings.payment_secret else None
    return None
