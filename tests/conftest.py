"""Shared by every test: proof in the report that the MariaDB tests really ran."""

from __future__ import annotations

import os

import pytest


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    outcomes: dict[str, int] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            counted = report.when == "call" or outcome in ("skipped", "error")
            if counted and (
                "mariadb" in report.nodeid or "mariadb" in getattr(report, "keywords", {})
            ):
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    summary = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "none ran"
    terminalreporter.write_line(f"MariaDB tests: {summary}")
    if os.environ.get("CI") and outcomes.get("skipped"):
        terminalreporter.write_line("error: MariaDB tests must not skip in CI", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [
        r
        for r in (reporter.stats.get("skipped", []) if reporter else [])
        if "mariadb" in r.nodeid or "mariadb" in r.keywords
    ]
    if skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
