"""Running the app under gunicorn from ``medbook serve``."""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from medbook.bootstrap import IPNetwork
from medbook.domain.records.shares import redact_codes
from medbook.entrypoints.http.app import get_app
from medbook.entrypoints.http.observability import worker_exited
from medbook.entrypoints.logs import json_log_config

#: What gunicorn's own messages may quote of a client's request: a request line or header line
#: it could not parse (in quotes), a URI with its query, a bearer token.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_QUERY = re.compile(r"\?\S*")
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")


def scrub(text: str) -> str:
    """A gunicorn error-log message without what a client wrote: quoted request or header lines
    become ``'…'``, query strings ``?…``, tokens and share codes are taken out."""
    text = _JWT.sub("[token]", text)
    text = _QUOTED.sub("'…'", text)
    return redact_codes(_QUERY.sub("?…", text))


class _Scrub(logging.Filter):
    """Every record of gunicorn's error log, its message formatted and scrubbed (``scrub``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), ()
        return True


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, with the secrets that travel in requests taken out: record-share codes
    out of every access-log line, and out of the error log everything a client wrote (a request
    line or header gunicorn could not parse, the URI of a request that failed or timed out)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not any(isinstance(f, _Scrub) for f in self.error_log.filters):
            self.error_log.addFilter(_Scrub())

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


def run(
    *, bind: str, workers: int, threads: int = 1, trusted_proxies: tuple[IPNetwork, ...] = ()
) -> None:
    """Serve the app from the environment's settings. ``threads``: 1 for gunicorn's sync workers,
    more for its gthread workers (that many requests at once per worker, on one app and one
    connection pool; idle keep-alive connections cost no thread). ``trusted_proxies``: the only
    peers whose ``X-Forwarded-Proto`` gunicorn believes for the request's scheme (its own default
    trusts every local process), the same as the app believes for client addresses."""
    log_config = json_log_config()
    # One line per request comes from the app (medbook.access: route template, status, user,
    # duration, request id); gunicorn's own access line would repeat it with the raw path.
    log_config["loggers"]["gunicorn.access"] = {"handlers": [], "propagate": False}
    _Gunicorn(
        {
            "bind": bind,
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "accesslog": None,
            "logger_class": RedactingLogger,
            "logconfig_dict": log_config,
            "child_exit": _child_exit,
            "forwarded_allow_ips": ",".join(str(network) for network in trusted_proxies),
            # Only X-Forwarded-Proto, which nginx overwrites: gunicorn's default also believes
            # X-Forwarded-Ssl and X-Forwarded-Protocol, which nginx passes on from the client.
            "secure_scheme_headers": {"X-FORWARDED-PROTO": "https"},
            "graceful_timeout": 10,
            "timeout": 30,
            "limit_request_line": 8190,
            # One control socket per machine by default: two servers would fight over it.
            "control_socket_disable": True,
        }
    ).run()
