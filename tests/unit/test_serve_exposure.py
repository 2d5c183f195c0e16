"""``medbook serve`` warns when gunicorn listens where other machines reach it directly."""

from __future__ import annotations

import pytest

from medbook.entrypoints.cli import exposure_warning


@pytest.mark.parametrize(
    "bind",
    ["127.0.0.1:8000", "127.0.0.53:80", "localhost:8000", "[::1]:8000", "unix:/run/medbook.sock"],
)
def test_a_proxy_on_the_same_host_is_no_warning(bind: str) -> None:
    assert exposure_warning(bind) is None


@pytest.mark.parametrize(
    "bind", ["0.0.0.0:8000", "[::]:8000", ":8000", "10.0.0.5:8000", "medbook.internal:8000"]
)
def test_any_other_address_warns_and_names_the_guide(bind: str) -> None:
    warning = exposure_warning(bind)
    assert warning is not None
    assert bind in warning
    assert "docs/deployment.md" in warning


def test_gunicorn_believes_forwarded_schemes_only_from_the_trusted_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """gunicorn's own default believes X-Forwarded-Proto from every local process; medbook
    gives it the operator's MEDBOOK_TRUSTED_PROXIES instead (none: nobody)."""
    import ipaddress

    from medbook.entrypoints.http import server

    captured: dict[str, object] = {}

    class Capture:
        def __init__(self, options: dict[str, object]) -> None:
            captured.update(options)

        def run(self) -> None:
            pass

    monkeypatch.setattr(server, "_Gunicorn", Capture)
    server.run(bind="127.0.0.1:0", workers=1)
    assert captured["forwarded_allow_ips"] == ""
    proxies = (ipaddress.ip_network("10.0.0.2/32"), ipaddress.ip_network("fd00::/8"))
    server.run(bind="127.0.0.1:0", workers=1, trusted_proxies=proxies)
    assert captured["forwarded_allow_ips"] == "10.0.0.2/32,fd00::/8"


def test_more_than_one_thread_runs_gthread_workers_and_one_runs_sync_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from medbook.entrypoints import cli
    from medbook.entrypoints.http import server

    captured: dict[str, object] = {}

    class Capture:
        def __init__(self, options: dict[str, object]) -> None:
            captured.update(options)

        def run(self) -> None:
            pass

    monkeypatch.setattr(server, "_Gunicorn", Capture)
    server.run(bind="127.0.0.1:0", workers=2)
    assert (captured["worker_class"], captured["threads"]) == ("sync", 1)
    server.run(bind="127.0.0.1:0", workers=2, threads=8)
    assert (captured["worker_class"], captured["threads"]) == ("gthread", 8)

    parser = cli._parser()
    assert parser.parse_args(["serve"]).threads == 1
    assert parser.parse_args(["serve", "--threads", "4"]).threads == 4
    for wrong in ("0", "-1", "x", "257"):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", "--threads", wrong])


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        (
            "Invalid request from ip=203.0.113.7: Invalid HTTP request line: "
            "'GET /v1/shared-records/IYqaQIQtrWKJSWs32A9OSudRUE671sEzd_7EZC2nzpM?phone=13912345678 "
            "HTTP/1.1'",
            "13912345678",
        ),
        (
            "Invalid request from ip=203.0.113.7: Invalid HTTP header name: "
            "'Authorization Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyIn0.c2lnbmF0dXJl'",
            "eyJhbGciOiJIUzI1NiJ9",
        ),
        (
            "Invalid request from ip=203.0.113.7: Invalid HTTP header name: "
            "'password=Zq9-secretPassw0rd: 1'",
            "Zq9-secretPassw0rd",
        ),
        ("Error handling request /v1/records/1/attachments?phone=13912345678", "13912345678"),
        (
            "Error handling request /v1/shared-records/IYqaQIQtrWKJSWs32A9OSudRUE671sEzd_7EZC2nzpM",
            "IYqaQIQtrWKJSWs32A9OSudRUE671sEzd_7EZC2nzpM",
        ),
    ],
)
def test_gunicorn_s_error_log_keeps_nothing_a_client_wrote(message: str, secret: str) -> None:
    """Found by a live probe: the access log was clean, but gunicorn's error log quoted whole
    request and header lines it could not parse, and the URI of a request that timed out."""
    import logging

    from gunicorn.config import Config  # type: ignore[import-untyped]

    from medbook.entrypoints.http.server import RedactingLogger

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = RedactingLogger(Config())
    logger.error_log.handlers = [Keep()]
    logger.warning(message)
    logger.error("%s", message)
    logger.exception("Error handling request %s", message.rpartition(" ")[2])
    assert len(lines) == 3
    assert all(secret not in line for line in lines), lines
    assert all("%" not in line for line in lines), lines
