"""Helpers for the end-to-end tests: the ``medbook`` CLI run as a subprocess, ``medbook serve``
(gunicorn, two workers) on a free port, and a small urllib JSON client to talk to it.

Each server runs in its own temporary working directory (so ``./medbook-data`` is fresh), with
``XDG_RUNTIME_DIR`` pointed there too (gunicorn's control socket would otherwise be shared by every
server on the machine) and every ``MEDBOOK_*`` variable of the caller removed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

STARTUP_TIMEOUT = 30.0
POLL_INTERVAL = 0.1
STOP_TIMEOUT = 15.0  # gunicorn's graceful_timeout is 10 s
CLI_TIMEOUT = 60.0
HTTP_TIMEOUT = 15.0

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: The two hospitals every deployment has: (name, address, lat, lng). The demo loads them; the
#: MariaDB deployment adds them with ``medbook add-hospital``.
BEIJING = ("Peking Union Medical College Hospital", "1 Shuaifuyuan, Beijing", 39.9127, 116.4171)
SHANGHAI = ("Ruijin Hospital", "197 Ruijin 2nd Road, Shanghai", 31.2122, 121.4688)


def free_port() -> int:
    """A TCP port nobody listens on right now (bind port 0, let the kernel choose, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def is_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def strong_secret() -> str:
    return secrets.token_urlsafe(48)


def medbook_command() -> list[str]:
    """The installed ``medbook`` console script next to this interpreter, or its equivalent."""
    script = Path(sys.executable).with_name("medbook")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [
        sys.executable,
        "-c",
        "import sys; from medbook.entrypoints.cli import main; sys.exit(main())",
    ]


def clean_environment(workdir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any MEDBOOK_* setting (but a registration limit that a
    test run does not reach), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDBOOK_")}
    env["XDG_RUNTIME_DIR"] = str(workdir)
    env["PYTHONUNBUFFERED"] = "1"
    # One server per module registers dozens of accounts, all from 127.0.0.1.
    env["MEDBOOK_REGISTRATIONS_PER_HOUR"] = "10000"
    env.update(extra or {})
    return env


def wait_healthy(
    process: subprocess.Popen[Any], url: str, name: str, output: Callable[[], str]
) -> None:
    """Poll ``url`` until it answers 200; fail the test with ``output()`` when ``process``
    exits first or STARTUP_TIMEOUT passes."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"{name} exited with {process.returncode} before it answered /healthz\n{output()}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last = f"status {response.status}"
        except (OSError, urllib.error.URLError) as error:
            last = str(error)
        time.sleep(POLL_INTERVAL)
    pytest.fail(
        f"{name} did not answer /healthz within {STARTUP_TIMEOUT:.0f} s ({last})\n{output()}",
        pytrace=False,
    )


# --- the CLI -------------------------------------------------------------------------------------


@dataclass
class Cli:
    """Runs ``medbook ...`` in ``cwd`` with ``env``."""

    cwd: Path
    env: dict[str, str]

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = CLI_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run ``medbook *args``; past ``timeout`` its whole process group is killed and the
        test fails (a command that should have refused to start may have started a server)."""
        command = [*medbook_command(), *args]
        with subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                out, err = process.communicate(stdin or "", timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                out, err = process.communicate()
                pytest.fail(
                    f"`medbook {' '.join(args)}` still ran after {timeout:.0f} s\n"
                    f"--- stdout\n{out}\n--- stderr\n{err}",
                    pytrace=False,
                )
        return subprocess.CompletedProcess(command, process.returncode, out, err)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """Run; fail the test with the command's output unless it exits 0; its stdout."""
        done = self.run(*args, stdin=stdin)
        if done.returncode != 0:
            pytest.fail(
                f"`medbook {' '.join(args)}` exited {done.returncode}\n"
                f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}",
                pytrace=False,
            )
        return done.stdout

    def add_hospital(self, name: str, address: str, lat: float, lng: float) -> int:
        out = self.ok(
            "add-hospital", "--name", name, "--address", address, "--lat", str(lat), "--lng",
            str(lng),
        )  # fmt: skip
        assert re.fullmatch(r"\d+\n?", out), f"add-hospital printed {out!r}, not an id"
        return int(out)

    def create_admin(self, hospital_id: int, phone: str, name: str, password: str) -> str:
        return self.ok(
            "create-admin", "--hospital", str(hospital_id), "--phone", phone, "--name", name,
            stdin=password + "\n",
        )  # fmt: skip


# --- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    def __repr__(self) -> str:
        return f"<{self.status} {self.content_type} {self.raw[:500]!r}>"


class HttpClient:
    """A tiny JSON client on urllib: every status comes back as a ``Reply``, never raised."""

    def __init__(self, base_url: str, *, tls: ssl.SSLContext | None = None) -> None:
        self.base_url = base_url
        self.tls = tls  # for https: the context that trusts the server's certificate

    def call(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        remember_secrets(json_body)
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=sent
        )
        try:
            with urllib.request.urlopen(
                request, timeout=HTTP_TIMEOUT, context=self.tls
            ) as response:
                reply = Reply(response.status, _lower(response.headers), response.read())
                if reply.content_type == "application/json":
                    remember_secrets(reply.body)
                return reply
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, _lower(error.headers), error.read())

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, json_body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, json_body, **kw)

    def expect(self, status: int, method: str, path: str, json_body: Any = None, **kw: Any) -> Any:
        """Call, assert the status, return the parsed body."""
        reply = self.call(method, path, json_body, **kw)
        assert reply.status == status, f"{method} {path} -> {reply!r}, expected {status}"
        return reply.body

    def login(self, phone: str, password: str, role: str) -> str:
        body = self.expect(
            200, "POST", "/v1/sessions", {"phone": phone, "password": password, "role": role}
        )
        assert body["role"] == role
        return str(body["token"])


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


# --- the server ----------------------------------------------------------------------------------

LIVE_SERVERS: list[Server] = []

#: Every log a server or chat process of this run wrote (their standard error), and every secret
#: a test sent or was given over HTTP: at the end of the run the logs are searched for each
#: (conftest ``no_secret_in_any_log``).
LOGS: list[Path] = []
SECRETS: set[str] = set()
#: Body fields whose values are secrets or health data, with the shortest value worth searching
#: for (shorter ones would match by chance).
SECRET_FIELDS = {"password": 8, "token": 20, "id_number": 18, "code": 20, "notes": 12}


def remember_secrets(body: Any) -> None:
    """The values of ``SECRET_FIELDS`` anywhere in a JSON body, kept in ``SECRETS``."""
    if isinstance(body, dict):
        for key, value in body.items():
            shortest = SECRET_FIELDS.get(key)
            if shortest and isinstance(value, str) and len(value) >= shortest:
                SECRETS.add(value)
            else:
                remember_secrets(value)
    elif isinstance(body, list):
        for item in body:
            remember_secrets(item)


@dataclass
class Server:
    """A ``medbook serve`` process: started, polled until /healthz answers, stopped."""

    workdir: Path
    env: dict[str, str]
    args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / "serve.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "serve.stderr"

    def start(self) -> Server:
        command = [
            *medbook_command(),
            "serve",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{self.port}",
            *self.args,
        ]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(  # the files stay open in the child
                command,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: gunicorn and its workers
            )
        LIVE_SERVERS.append(self)
        LOGS.append(self.stderr_path)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        wait_healthy(self.process, self.base_url + "/healthz", "medbook serve", self.output)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL to its process group after STOP_TIMEOUT; its exit status."""
        if self in LIVE_SERVERS:
            LIVE_SERVERS.remove(self)
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
        return process.returncode

    def output_sizes(self) -> tuple[int, int]:
        return (_size(self.stdout_path), _size(self.stderr_path))

    def output(self, since: tuple[int, int] = (0, 0), max_lines: int = 200) -> str:
        parts = []
        for name, path, offset in (
            ("stderr", self.stderr_path, since[1]),
            ("stdout", self.stdout_path, since[0]),
        ):
            text = _read_from(path, offset)
            lines = text.splitlines()
            if len(lines) > max_lines:
                lines = [f"... ({len(lines) - max_lines} earlier lines)", *lines[-max_lines:]]
            parts.append(f"--- medbook serve {name} ({self.base_url})\n" + "\n".join(lines))
        return "\n".join(parts)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _read_from(path: Path, offset: int) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


# --- deployments ---------------------------------------------------------------------------------


@dataclass
class Account:
    phone: str
    password: str
    role: str
    id: int | None = None
    token: str | None = None


@dataclass
class Deployment:
    """A served medbook and what the tests need to know about it."""

    backend: str
    server: Server
    cli: Cli
    http: HttpClient
    #: name -> id of the two hospitals, Beijing first
    hospitals: dict[str, int]
    #: an admin of the Beijing hospital
    admin: Account
    phones: Iterator[str]

    def new_phone(self) -> str:
        return next(self.phones)

    def register(self, role: str, name: str = "Test User") -> Account:
        """A new patient or doctor, registered over HTTP and logged in."""
        account = Account(self.new_phone(), "a good passphrase", role)
        path = "/v1/patients" if role == "patient" else "/v1/doctors"
        body = {"phone": account.phone, "name": name, "password": account.password}
        created = self.http.expect(201, "POST", path, body)
        account.id = created["id"]
        account.token = self.http.login(account.phone, account.password, role)
        return account

    def admin_token(self) -> str:
        if self.admin.token is None:
            self.admin.token = self.http.login(self.admin.phone, self.admin.password, "admin")
        return self.admin.token

    def new_department(self, name: str | None = None) -> int:
        """A department of the Beijing hospital, added by its admin over HTTP."""
        hospital = self.hospitals[BEIJING[0]]
        body = {"name": name or f"Clinic {secrets.token_hex(4)}", "description": "e2e"}
        created = self.http.expect(
            201, "POST", f"/v1/hospitals/{hospital}/departments", body, token=self.admin_token()
        )
        return int(created["id"])

    def verified_doctor(self, quota: int = 5, name: str = "Dr Test") -> tuple[Account, int]:
        """A doctor who registered, joined a new department of the Beijing hospital, was approved
        by its admin and keeps ``quota`` places every morning and afternoon; and the department.
        """
        department = self.new_department()
        doctor = self.register("doctor", name)
        self.http.expect(
            200,
            "PATCH",
            "/v1/doctors/me",
            {"hospital_id": self.hospitals[BEIJING[0]], "department_id": department},
            token=doctor.token,
        )
        approved = self.http.expect(
            200,
            "POST",
            f"/v1/doctors/{doctor.id}/approval",
            {"approved": True},
            token=self.admin_token(),
        )
        assert approved["verified"] is True
        every_day = {"morning": quota, "afternoon": quota}
        schedule = dict.fromkeys(WEEKDAYS, every_day)
        self.http.expect(200, "PUT", "/v1/doctors/me/schedule", schedule, token=doctor.token)
        return doctor, department


def phone_numbers(prefix: str) -> Iterator[str]:
    """Unused mainland mobile numbers: ``prefix`` (3 digits, 13x-19x) then a running number."""
    start = secrets.randbelow(10**7)
    for n in itertools.count():
        yield f"{prefix}{(start + n) % 10**8:08d}"


def empty_mariadb(url: str) -> None:
    """Every row of every medbook table deleted (the run's database is shared by modules)."""
    from medbook.adapters.sql import make_engine
    from medbook.adapters.sql.schema import metadata

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()


def children_of(pid: int) -> set[int]:
    """The child processes of ``pid`` (gunicorn's workers, for its master), whichever of its
    threads forked them."""
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError):
            children.update(int(child) for child in (task / "children").read_text().split())
    return children


def run_at_once(
    command: list[str], env: dict[str, str], workdir: Path, count: int, timeout: float
) -> list[tuple[int, str, str]]:
    """``count`` processes of ``command`` started together; each one's exit code, stdout and
    stderr, once all have ended (each within ``timeout`` seconds)."""
    processes = [
        subprocess.Popen(
            command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        results.append((process.returncode, out, err))
    return results
