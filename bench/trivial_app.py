"""The yardstick of the HTTP benchmark (issue 13): a Falcon app with one GET endpoint returning a
small JSON document, under gunicorn with the settings ``medbook serve`` uses (sync workers, no
gunicorn access log, the same timeouts and limits; see medbook.entrypoints.http.server.run).

    python bench/trivial_app.py --bind 127.0.0.1:8100 --workers 4
    curl http://127.0.0.1:8100/ping
"""

from __future__ import annotations

import argparse
from typing import Any

import falcon
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]


class Ping:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok", "service": "trivial"}


def make_app() -> falcon.App[falcon.Request, falcon.Response]:
    app = falcon.App()
    app.add_route("/ping", Ping())
    return app


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return make_app()


def main() -> None:
    parser = argparse.ArgumentParser(description="a trivial Falcon endpoint under gunicorn")
    parser.add_argument("--bind", default="127.0.0.1:8100")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="more than 1: gthread workers")
    args = parser.parse_args()
    _Gunicorn(
        {
            "bind": args.bind,
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread" if args.threads > 1 else "sync",
            "accesslog": None,
            "graceful_timeout": 10,
            "timeout": 30,
            "limit_request_line": 8190,
            "control_socket_disable": True,
        }
    ).run()


if __name__ == "__main__":
    main()
