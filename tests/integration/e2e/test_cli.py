"""The ``medbook`` command as an operator runs it: a subprocess in a fresh directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_support import (
    Cli,
    HttpClient,
    Server,
    clean_environment,
    free_port,
    is_listening,
    strong_secret,
)
from sqlalchemy import create_engine

from medbook.adapters.sql.migrate import head_revision
from medbook.bootstrap import Settings, bootstrap

#: A refusal must come quickly; a server that started anyway is killed after this.
REFUSAL_TIMEOUT = 30.0


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """An operator's shell: a fresh directory (default SQLite under ./medbook-data), a strong
    MEDBOOK_JWT_SECRET and no other MEDBOOK_* setting."""
    return Cli(tmp_path, clean_environment(tmp_path, {"MEDBOOK_JWT_SECRET": strong_secret()}))


def head() -> str:
    engine = create_engine("sqlite://")
    try:
        revision = head_revision(engine)
    finally:
        engine.dispose()
    assert revision
    return revision


def test_help_lists_the_operators_commands(cli: Cli) -> None:
    done = cli.run("--help")
    assert done.returncode == 0, done.stderr
    assert "usage: medbook" in done.stdout
    for command in ("serve", "migrate", "add-hospital", "create-admin"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.MULTILINE), (command, done.stdout)


def _refuses_to_serve(cli: Cli, secret_hint: str | None) -> str:
    port = free_port()
    done = cli.run(
        "serve", "--workers", "1", "--bind", f"127.0.0.1:{port}", timeout=REFUSAL_TIMEOUT
    )
    assert done.returncode != 0, done
    assert not is_listening(port)
    assert "Listening at" not in done.stdout + done.stderr
    assert "MEDBOOK_JWT_SECRET" in done.stderr
    assert "refusing to serve" in done.stderr
    if secret_hint:
        assert secret_hint not in done.stdout + done.stderr, "the message repeats the secret"
    return done.stderr


def test_serve_refuses_to_start_without_a_jwt_secret(cli: Cli) -> None:
    del cli.env["MEDBOOK_JWT_SECRET"]
    message = _refuses_to_serve(cli, None)
    assert "--demo" in message  # it says how to try medbook out instead


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "short-secret",
        "x" * 64,
        "changeme" * 8,
        "0123456789" * 5,
    ],
    ids=["empty", "short", "one-character", "repeated-word", "repeated-digits"],
)
def test_serve_refuses_to_start_with_a_weak_jwt_secret(cli: Cli, secret: str) -> None:
    cli.env["MEDBOOK_JWT_SECRET"] = secret
    _refuses_to_serve(cli, secret if len(secret) >= 8 else None)


def test_serve_refuses_a_database_that_was_never_migrated(cli: Cli) -> None:
    port = free_port()
    done = cli.run(
        "serve", "--workers", "1", "--bind", f"127.0.0.1:{port}", timeout=REFUSAL_TIMEOUT
    )
    assert done.returncode != 0, done
    assert "medbook migrate" in done.stderr
    assert not is_listening(port)


def test_migrate_prints_the_revision_and_is_idempotent(cli: Cli) -> None:
    first = cli.ok("migrate")
    assert first.strip() == f"The database schema is at revision {head()}."
    assert (cli.cwd / "medbook-data" / "medbook.sqlite3").is_file()
    assert cli.ok("migrate") == first


def test_add_hospital_prints_the_new_id(cli: Cli) -> None:
    first = cli.ok(
        "add-hospital", "--name", "Huashan Hospital", "--lat", "31.21", "--lng", "121.44"
    )
    second = cli.ok("add-hospital", "--name", "Zhongshan Hospital", "--address", "180 Fenglin Rd")
    assert re.fullmatch(r"\d+\n", first) and re.fullmatch(r"\d+\n", second), (first, second)
    assert int(second) != int(first)


def test_add_hospital_refuses_bad_values_with_a_message(cli: Cli) -> None:
    done = cli.run("add-hospital", "--name", "Nowhere", "--lat", "100", "--lng", "0")
    assert done.returncode != 0
    assert "lat" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_create_admin_reads_the_password_from_stdin_and_the_admin_logs_in(cli: Cli) -> None:
    cli.ok("migrate")
    hospital = cli.add_hospital("Huashan Hospital", "12 Wulumuqi Rd", 31.21, 121.44)
    password = "correct horse battery staple"
    created = cli.create_admin(hospital, "13712345678", "Gu Ming", password)
    assert re.fullmatch(rf"Created admin \d+ of hospital {hospital}\.\n", created), created
    assert password not in created

    server = Server(cli.cwd, cli.env).start()  # without --demo: the operator's secret
    try:
        http = HttpClient(server.base_url)
        token = http.login("13712345678", password, "admin")
        me = http.expect(200, "GET", "/v1/me", token=token)
        assert (me["role"], me["name"], me["hospital_id"]) == ("admin", "Gu Ming", hospital)
        wrong = http.post(
            "/v1/sessions", {"phone": "13712345678", "password": "wrong password", "role": "admin"}
        )
        assert wrong.status == 401, wrong
        department = http.expect(
            201,
            "POST",
            f"/v1/hospitals/{hospital}/departments",
            {"name": "Dermatology", "description": ""},
            token=token,
        )
        assert department["name"] == "Dermatology"
    finally:
        assert server.stop() == 0, server.output()  # SIGTERM is a clean shutdown
    assert password not in server.output()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("--hospital", "{h}", "--phone", "13712340000", "--name", "A"), "short\n", "password"),
        (("--hospital", "{h}", "--phone", "13712340000", "--name", "A"), "", "password"),
        (
            ("--hospital", "999999", "--phone", "13712340000", "--name", "A"),
            "long enough\n",
            "999999",
        ),
        (("--hospital", "{h}", "--phone", "12345", "--name", "A"), "long enough\n", "phone"),
    ],
    ids=["short-password", "no-password", "no-such-hospital", "bad-phone"],
)
def test_create_admin_refuses_bad_input_with_a_message(
    cli: Cli, args: tuple[str, ...], stdin: str, message: str
) -> None:
    hospital = cli.add_hospital("Huashan Hospital", "", 31.21, 121.44)
    done = cli.run("create-admin", *(a.format(h=hospital) for a in args), stdin=stdin)
    assert done.returncode != 0, done
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "Created admin" not in done.stdout


def test_create_admin_refuses_a_phone_already_used_by_an_admin(cli: Cli) -> None:
    hospital = cli.add_hospital("Huashan Hospital", "", 31.21, 121.44)
    cli.create_admin(hospital, "13712340001", "First", "long enough")
    done = cli.run(
        "create-admin", "--hospital", str(hospital), "--phone", "13712340001", "--name", "Second",
        stdin="another one\n",
    )  # fmt: skip
    assert done.returncode != 0
    assert "phone_taken" in done.stderr


def test_serve_demo_prints_how_to_log_in_on_its_own_address(tmp_path: Path) -> None:
    server = Server(
        tmp_path, clean_environment(tmp_path), ("--demo", "--chat-bind", f"127.0.0.1:{free_port()}")
    ).start()
    try:
        out = server.stdout_path.read_text()
        assert f"127.0.0.1:{server.port}/v1/sessions" in out
        assert f"The web client: http://127.0.0.1:{server.port}/ " in out
        assert (tmp_path / "medbook-data" / "medbook.sqlite3").is_file()
    finally:
        assert server.stop() == 0, server.output()


def test_sessions_lists_the_booking_window_the_rules_decide(cli: Cli) -> None:
    # The command used to compute its own 14 days from the UTC date: one day short of the window
    # every evening in Shanghai. Without dates it now lists exactly what the service offers.
    cli.ok("demo")

    listed = [line.split()[:2] for line in cli.ok("sessions", "1").splitlines() if line.strip()]

    services = bootstrap(Settings(data_dir=cli.cwd / "medbook-data"))
    try:
        offered = services.booking.offered_sessions(1)
    finally:
        services.close()
    assert listed == [[o.session.date.isoformat(), o.session.period.value] for o in offered]
    assert listed, "the demo doctor offers sessions in the window"
