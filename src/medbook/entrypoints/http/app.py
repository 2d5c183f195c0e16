"""The Falcon application: ``create_app(services)``, and ``get_app()`` for gunicorn."""

from __future__ import annotations

import logging
from typing import Any

import falcon

from medbook import bootstrap
from medbook.entrypoints.http import errors
from medbook.entrypoints.http.api import IdConverter, Route, make_resource
from medbook.entrypoints.http.files import Files
from medbook.entrypoints.http.openapi import document
from medbook.entrypoints.http.routes import ROUTES

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


class SafeHeaders:
    """Headers every answer carries, errors included.

    ``nosniff``: a browser takes the declared content type, never guesses one from the bytes.
    ``no-store``: the API's answers carry tokens and personal data (a patient's appointments, a
    doctor's profile), which no browser, proxy or CDN may keep; a resource that may be cached
    (stored files) says so itself and is left alone.
    """

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        resp.set_header("X-Content-Type-Options", "nosniff")
        if resp.get_header("Cache-Control") is None:
            resp.set_header("Cache-Control", "no-store")


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
) -> falcon.App[falcon.Request, falcon.Response]:
    app = falcon.App(cors_enable=False, middleware=[SafeHeaders()])
    app.req_options.strip_url_path_trailing_slash = True
    app.router_options.converters["id"] = IdConverter
    errors.install(app)
    for route in routes:
        app.add_route(route.path, make_resource(services, route, max_body_bytes, trusted_proxies))
    app.add_route("/healthz", Health())
    app.add_route("/readyz", Ready(services))
    app.add_route("/files/{key:path}", Files(services.uploads.storage))
    app.add_route("/v1/openapi.json", OpenApi(document(routes, PLAIN_ROUTES)))
    return app


def get_app() -> falcon.App[falcon.Request, falcon.Response]:
    """For gunicorn (``medbook.entrypoints.http.app:get_app()``): settings from the environment."""
    settings = bootstrap.Settings.from_env()
    try:
        bootstrap.check_jwt_secret(settings.jwt_secret or "")
    except ValueError as error:
        raise SystemExit(f"refusing to serve: MEDBOOK_JWT_SECRET {error}") from None
    services = bootstrap.bootstrap(settings)
    return create_app(
        services,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=settings.trusted_proxies,
    )
