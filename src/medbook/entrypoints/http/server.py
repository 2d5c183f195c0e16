"""Running the app under gunicorn from ``medbook serve``."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from medbook.entrypoints.http.app import get_app


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return get_app()  # in each worker: its own engine and connection pool


def run(*, bind: str, workers: int) -> None:
    _Gunicorn(
        {
            "bind": bind,
            "workers": workers,
            "accesslog": "-",
            "errorlog": "-",
            "graceful_timeout": 10,
            "timeout": 30,
            "limit_request_line": 8190,
            # One control socket per machine by default: two servers would fight over it.
            "control_socket_disable": True,
        }
    ).run()
