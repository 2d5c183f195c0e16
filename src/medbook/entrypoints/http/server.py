"""Running the app under gunicorn from ``medbook serve``."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from medbook.domain.records.shares import redact_codes
from medbook.entrypoints.http.app import get_app
from medbook.entrypoints.http.observability import worker_exited
from medbook.entrypoints.logs import json_log_config


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, with the secrets that travel in URL paths (record-share codes) taken
    out of every access-log line."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {
            key: redact_codes(value) if isinstance(value, str) else value
            for key, value in atoms.items()
        }


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return get_app()  # in each worker: its own engine and connection pool


def _child_exit(server: Any, worker: Any) -> None:
    worker_exited(worker.pid)


def run(*, bind: str, workers: int) -> None:
    log_config = json_log_config()
    # One line per request comes from the app (medbook.access: route template, status, user,
    # duration, request id); gunicorn's own access line would repeat it with the raw path.
    log_config["loggers"]["gunicorn.access"] = {"handlers": [], "propagate": False}
    _Gunicorn(
        {
            "bind": bind,
            "workers": workers,
            "accesslog": None,
            "logger_class": RedactingLogger,
            "logconfig_dict": log_config,
            "child_exit": _child_exit,
            "graceful_timeout": 10,
            "timeout": 30,
            "limit_request_line": 8190,
            # One control socket per machine by default: two servers would fight over it.
            "control_socket_disable": True,
        }
    ).run()
