"""Log lines as JSON objects, for every medbook process (``medbook serve``, ``medbook chat``).

One object per line on standard error, with ``time``, ``level``, ``logger`` and ``message``, plus
whatever a record carries in ``extra`` (the request log's route, status, user and duration). A
log shipper (journald, Vector, Filebeat) reads them without a parser of its own.
"""

from __future__ import annotations

from typing import Any


def json_log_config(level: str = "INFO") -> dict[str, Any]:
    """``logging.config.dictConfig`` settings: every record one JSON object on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                # ISO 8601 in UTC, to the microsecond: "2026-12-01T16:07:59.336117+00:00".
                "timestamp": "time",
                "rename_fields": {"levelname": "level", "name": "logger"},
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": level, "handlers": ["stderr"], "propagate": False},
        },
    }
