"""Fixtures for the end-to-end tests: real ``medbook serve`` processes (see ``e2e_support``).

- ``demo_server``: ``medbook serve --demo --workers 2`` in a fresh directory (SQLite under
  ./medbook-data), one per test module.
- ``deployment``: a served medbook, parametrised over two set-ups: ``sqlite`` (the demo server)
  and ``mariadb``, the operator's way on the run's MariaDB database with a strong random
  ``MEDBOOK_JWT_SECRET``: ``medbook migrate``, ``medbook add-hospital`` (twice),
  ``medbook create-admin`` (password on stdin), then ``medbook serve`` without ``--demo``.

When a test fails, the output of every running server since the test began is attached to its
report.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import (
    BEIJING,
    LIVE_SERVERS,
    LOGS,
    SECRETS,
    SHANGHAI,
    Account,
    Cli,
    Deployment,
    HttpClient,
    Server,
    clean_environment,
    empty_mariadb,
    free_port,
    phone_numbers,
    strong_secret,
)

from medbook.demo import DEMO_ADMIN, DEMO_PASSWORD, DEMO_PATIENT


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "setup":
        item.stash[_OFFSETS] = {id(s): s.output_sizes() for s in LIVE_SERVERS}
    if report.failed:
        offsets = item.stash.get(_OFFSETS, {})
        for server in LIVE_SERVERS:
            report.sections.append(
                (
                    f"medbook serve output ({call.when})",
                    server.output(offsets.get(id(server), (0, 0))),
                )
            )
    return report


_OFFSETS = pytest.StashKey[dict[int, tuple[int, int]]]()


def _hospital_ids(http: HttpClient) -> dict[str, int]:
    listed = http.expect(200, "GET", "/v1/hospitals")
    ids = {h["name"]: h["id"] for h in listed}
    return {BEIJING[0]: ids[BEIJING[0]], SHANGHAI[0]: ids[SHANGHAI[0]]}


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log() -> Iterator[None]:
    """After the whole run: no password, token, identity number, share code or record note that
    a test sent or was given appears in any log a server or chat process wrote (issue 12)."""
    yield
    found = []
    for path in LOGS:
        if not path.exists():
            continue
        text = path.read_text(errors="replace")
        found += [f"{path}: {secret[:6]}…" for secret in SECRETS if secret in text]
    assert not found, f"secrets in the logs: {found}"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``medbook serve --demo --workers 2`` in a fresh directory."""
    workdir = tmp_path_factory.mktemp("demo-serve")
    # Its chat server on a free port: every demo would want the default 8001.
    chat_bind = ("--chat-bind", f"127.0.0.1:{free_port()}")
    server = Server(workdir, clean_environment(workdir), ("--demo", *chat_bind)).start()
    yield server
    server.stop()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    backend: str = request.param
    if backend == "sqlite":
        server = request.getfixturevalue("demo_server")
        http = HttpClient(server.base_url)
        cli = Cli(server.workdir, server.env)
        admin = Account(DEMO_ADMIN[0], DEMO_PASSWORD, "admin")
        yield Deployment(
            backend, server, cli, http, _hospital_ids(http), admin, phone_numbers("150")
        )
        return

    url: str = request.getfixturevalue("mariadb_database")
    empty_mariadb(url)
    workdir = tmp_path_factory.mktemp("mariadb-serve")
    env = clean_environment(
        workdir, {"MEDBOOK_DATABASE_URL": url, "MEDBOOK_JWT_SECRET": strong_secret()}
    )
    cli = Cli(workdir, env)
    try:
        migrated = cli.ok("migrate")
        assert re.search(r"revision \w+", migrated), migrated
        hospitals = {
            name: cli.add_hospital(name, a, lat, lng) for name, a, lat, lng in (BEIJING, SHANGHAI)
        }
        admin = Account("13711110000", "an admin passphrase", "admin")
        created = cli.create_admin(
            hospitals[BEIJING[0]], admin.phone, "Operator Admin", admin.password
        )
        assert f"of hospital {hospitals[BEIJING[0]]}" in created, created
        server = Server(workdir, env).start()
        try:
            http = HttpClient(server.base_url)
            assert _hospital_ids(http) == hospitals
            yield Deployment(backend, server, cli, http, hospitals, admin, phone_numbers("151"))
        finally:
            server.stop()
    finally:
        empty_mariadb(url)  # the run's database is shared with the other MariaDB tests


@pytest.fixture(scope="module")
def demo_patient() -> Account:
    return Account(DEMO_PATIENT[0], DEMO_PASSWORD, "patient")
