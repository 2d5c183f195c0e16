"""The production deployment of docs/deployment.md, run as written: nginx from Debian's package
with the repo's ``deploy/nginx/medbook.conf``, in front of ``medbook serve`` and ``medbook chat``
started from the repo's systemd units, with the settings of ``deploy/medbook.env.example``, on
the run's MariaDB database and the machine's Redis.

What changes from the files, and only that: the lines marked ``# site:`` in the nginx site
(ports, server name, certificate paths: a self-signed certificate made here), the ``CHANGE-ME``
values and the paths of the example settings, the path of the ``medbook`` command and the ports
in the units' ``ExecStart``. The units themselves are checked by ``systemd-analyze verify``.

The point of nginx is proved both ways: 50 clients sending half a request leave ``/healthz``
answering within a second through nginx, and the same 50 sent to gunicorn directly stall it.
"""

from __future__ import annotations

import configparser
import contextlib
import datetime as dt
import http.client
import ipaddress
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from chat_process_support import ChatClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from e2e_support import (
    HttpClient,
    clean_environment,
    empty_mariadb,
    free_port,
    is_listening,
    medbook_command,
    strong_secret,
    wait_healthy,
)

from medbook.demo import DEMO_PASSWORD, DEMO_PATIENT

pytestmark = pytest.mark.mariadb

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
SLOW_CLIENTS = 50
#: What "answering" means with the slow clients connected.
ANSWER_WITHIN = 1.0
DEMO_DOCTOR_PHONE = "13800000001"


# --- the pieces, from the repo's files -----------------------------------------------------------


def settings_from_example(workdir: Path, database_url: str, public_url: str) -> dict[str, str]:
    """deploy/medbook.env.example as systemd's EnvironmentFile= reads it, with every CHANGE-ME
    secret made real and this run's database, data directory and address."""
    values: dict[str, str] = {}
    for line in (DEPLOY / "medbook.env.example").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    assert values["MEDBOOK_JWT_SECRET"] == "CHANGE-ME", "the example must not carry a secret"
    values |= {
        "MEDBOOK_DATABASE_URL": database_url,
        "MEDBOOK_JWT_SECRET": strong_secret(),
        "MEDBOOK_PAYMENT_SECRET": strong_secret(),
        "MEDBOOK_METRICS_TOKEN": strong_secret(),
        "MEDBOOK_DATA_DIR": str(workdir / "data"),
        "MEDBOOK_PUBLIC_URL": public_url,
        # The machine's Redis is shared: this run's keys and channels apart from everyone's.
        "MEDBOOK_REDIS_PREFIX": f"deploy-test-{os.getpid()}",
    }
    assert not [k for k, v in values.items() if "CHANGE-ME" in v], values
    return values


def exec_start(unit: str) -> list[str]:
    """The ``ExecStart`` command of one of the repo's systemd units."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(DEPLOY / "systemd" / unit)
    return shlex.split(parser["Service"]["ExecStart"])


def run_as_unit(unit: str, replace: dict[str, str]) -> list[str]:
    """The unit's command with this venv's ``medbook`` and the substitutions in ``replace``."""
    command = exec_start(unit)
    assert command[0] == "/opt/medbook/venv/bin/medbook", command
    return [*medbook_command(), *(replace.get(arg, arg) for arg in command[1:])]


def bind_of(unit: str) -> str:
    command = exec_start(unit)
    return command[command.index("--bind") + 1]


def nginx_site(ports: dict[str, int], certificate: Path, key: Path) -> str:
    """deploy/nginx/medbook.conf with its ``# site:`` lines set for this run: loopback ports (the
    IPv6 listens dropped: a test machine may have no IPv6), the certificate made here."""
    site = (DEPLOY / "nginx" / "medbook.conf").read_text()
    lines = []
    for line in site.splitlines():
        if "# site" in line:
            line = line.replace("127.0.0.1:8000", f"127.0.0.1:{ports['http']}")
            line = line.replace("127.0.0.1:8001", f"127.0.0.1:{ports['chat']}")
            if "listen [::]" in line:
                continue
            line = line.replace("listen 80;", f"listen 127.0.0.1:{ports['plain']};")
            line = line.replace("listen 443 ", f"listen 127.0.0.1:{ports['tls']} ")
            line = line.replace("medbook.example.org;", "localhost;")
            line = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {certificate};", line)
            line = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", line)
            assert "example.org" not in line and ":8000" not in line, line
        lines.append(line)
    return "\n".join(lines) + "\n"


def nginx_main(prefix: Path, site: Path) -> str:
    """The nginx.conf around the site: what Debian's /etc/nginx/nginx.conf gives it (mime types,
    the http context), with every path in this run's directory."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix / "access.log"};
{temp}
    include {site};
}}
"""


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# --- the running deployment ----------------------------------------------------------------------


@dataclass
class Site:
    workdir: Path
    ports: dict[str, int]
    certificate: Path
    processes: dict[str, subprocess.Popen[bytes]]
    settings: dict[str, str]

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.ports['tls']}"

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certificate))

    def output(self) -> str:
        parts = []
        for name in ("serve.log", "chat.log", "nginx/error.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def _start(
    command: list[str], env: dict[str, str], workdir: Path, log: str
) -> subprocess.Popen[bytes]:
    with (workdir / log).open("ab") as out:
        return subprocess.Popen(  # the file stays open in the child
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait(5)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mariadb_database: str) -> Iterator[Site]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is missing: scripts/services-up installs Debian's nginx"
    workdir = tmp_path_factory.mktemp("deployment")
    (workdir / "data").mkdir()
    ports = {name: free_port() for name in ("http", "chat", "plain", "tls")}
    env = clean_environment(workdir)
    env |= settings_from_example(workdir, mariadb_database, f"https://localhost:{ports['tls']}")
    empty_mariadb(mariadb_database)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    certificate, key = self_signed(workdir)
    prefix = workdir / "nginx"
    prefix.mkdir()
    (prefix / "medbook.conf").write_text(nginx_site(ports, certificate, key))
    (prefix / "nginx.conf").write_text(nginx_main(prefix, prefix / "medbook.conf"))
    site = Site(workdir, ports, certificate, processes, env)
    try:
        for unit in ("medbook-migrate.service",):
            done = subprocess.run(
                run_as_unit(unit, {}), cwd=workdir, env=env, capture_output=True, timeout=120
            )
            assert done.returncode == 0, done.stderr.decode()
        # Accounts and a conversation to chat in: the demo's, in this database.
        demo = subprocess.run(
            [*medbook_command(), "demo"], cwd=workdir, env=env, capture_output=True, timeout=120
        )
        assert demo.returncode == 0, demo.stderr.decode()
        http_bind, chat_bind = bind_of("medbook-http.service"), bind_of("medbook-chat.service")
        assert (http_bind, chat_bind) == ("127.0.0.1:8000", "127.0.0.1:8001")
        processes["serve"] = _start(
            run_as_unit("medbook-http.service", {http_bind: f"127.0.0.1:{ports['http']}"}),
            env,
            workdir,
            "serve.log",
        )
        processes["chat"] = _start(
            run_as_unit("medbook-chat.service", {chat_bind: f"127.0.0.1:{ports['chat']}"}),
            env,
            workdir,
            "chat.log",
        )
        checked = subprocess.run(
            [nginx, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
            capture_output=True,
            timeout=30,
        )
        assert checked.returncode == 0, checked.stderr.decode()
        processes["nginx"] = _start(
            [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
            env,
            workdir,
            "nginx.log",
        )
        for name, port in (("serve", ports["http"]), ("chat", ports["chat"])):
            wait_healthy(
                processes[name], f"http://127.0.0.1:{port}/healthz", name, lambda: site.output()
            )
        deadline = time.monotonic() + 15
        while not is_listening(ports["tls"]):
            assert processes["nginx"].poll() is None, site.output()
            assert time.monotonic() < deadline, site.output()
            time.sleep(0.05)
        yield site
    finally:
        for process in reversed(list(processes.values())):
            _stop(process)
        empty_mariadb(mariadb_database)


# --- a client that talks HTTPS through nginx -----------------------------------------------------


def https_get(site: Site, path: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", site.ports["tls"], timeout=timeout, context=site.tls_context()
    )
    try:
        connection.request("GET", path, headers={"Host": "localhost"})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def https_client(site: Site) -> HttpClient:
    return HttpClient(site.https, tls=site.tls_context())


@contextlib.contextmanager
def slow_clients(port: int, *, tls: ssl.SSLContext | None = None) -> Iterator[list[socket.socket]]:
    """``SLOW_CLIENTS`` connections that each send half of a request and then wait: half of them
    stop inside the header, half inside a declared body."""
    opened: list[socket.socket] = []
    try:
        for n in range(SLOW_CLIENTS):
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock = tls.wrap_socket(raw, server_hostname="localhost") if tls else raw
            opened.append(sock)
            if n % 2:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            else:
                sock.sendall(
                    b"POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\n"
                    b'Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{"phone": '
                )
        time.sleep(0.5)  # let them reach whoever reads them
        yield opened
    finally:
        for sock in opened:
            with contextlib.suppress(OSError):
                sock.close()


def timed_health(url_get: object) -> float:
    started = time.monotonic()
    status = url_get()  # type: ignore[operator]
    assert status == 200
    return time.monotonic() - started


# --- the tests -----------------------------------------------------------------------------------


def test_the_units_are_valid_systemd_units() -> None:
    verify = shutil.which("systemd-analyze")
    assert verify, "systemd-analyze (Debian's systemd) checks the units"
    units = sorted((DEPLOY / "systemd").glob("medbook-*"))
    assert {u.name for u in units} >= {
        "medbook-http.service",
        "medbook-chat.service",
        "medbook-migrate.service",
        "medbook-expire-orders.service",
        "medbook-expire-orders.timer",
        "medbook-worker.service",
    }
    done = subprocess.run([verify, "verify", *map(str, units)], capture_output=True, timeout=60)
    # The only complaint allowed: /opt/medbook/venv is not installed on the test machine.
    complaints = [
        line
        for line in done.stderr.decode().splitlines()
        if line.strip() and "/opt/medbook/venv/bin/medbook is not executable" not in line
    ]
    assert not complaints, done.stderr.decode()


def test_fifty_half_sent_requests_leave_the_api_answering_within_a_second(site: Site) -> None:
    with slow_clients(site.ports["tls"], tls=site.tls_context()):
        for _ in range(5):
            took = timed_health(lambda: https_get(site, "/healthz", timeout=ANSWER_WITHIN)[0])
            assert took < ANSWER_WITHIN, site.output()
        status, _, body = https_get(site, "/v1/hospitals", timeout=ANSWER_WITHIN)
        assert status == 200 and json.loads(body), site.output()


def test_the_same_fifty_sent_to_gunicorn_directly_stall_it(site: Site) -> None:
    """The control: what nginx is there for. Without it the workers wait for the slow clients."""

    def direct() -> int:
        connection = http.client.HTTPConnection(
            "127.0.0.1", site.ports["http"], timeout=ANSWER_WITHIN
        )
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status
        finally:
            connection.close()

    with slow_clients(site.ports["http"]), pytest.raises(TimeoutError):
        direct()
    # The slow clients gone, the workers are free again.
    deadline = time.monotonic() + 10
    while True:
        try:
            assert direct() == 200
            break
        except (TimeoutError, ConnectionError):
            assert time.monotonic() < deadline, site.output()


def test_plain_http_only_redirects_to_https(site: Site) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", site.ports["plain"], timeout=5)
    try:
        connection.request("GET", "/v1/hospitals?x=1", headers={"Host": "localhost"})
        answer = connection.getresponse()
        assert answer.status == 301
        assert answer.getheader("Location") == "https://localhost/v1/hospitals?x=1"
    finally:
        connection.close()


def test_the_api_works_through_nginx_with_the_client_address_forwarded(site: Site) -> None:
    status, headers, body = https_get(site, "/v1/openapi.json")
    assert status == 200 and json.loads(body)["openapi"].startswith("3.1")
    assert headers["x-content-type-options"] == "nosniff"
    assert "server" not in headers or "/" not in headers["server"]  # no nginx version


def test_a_body_larger_than_nginx_takes_is_a_problem_not_an_html_page(site: Site) -> None:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", site.ports["tls"], timeout=10, context=site.tls_context()
    )
    try:
        connection.putrequest("POST", "/v1/uploads", skip_host=True)
        connection.putheader("Host", "localhost")
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(12 * 1024 * 1024))
        connection.endheaders()
        answer = connection.getresponse()  # nginx answers on the header alone
        assert answer.status == 413, (answer.getheaders(), answer.read())
        assert answer.getheader("Content-Type") == "application/problem+json"
        problem = json.loads(answer.read())
        assert (problem["status"], problem["code"]) == (413, "too_large")
    finally:
        connection.close()


def test_a_chat_session_works_through_nginx(site: Site) -> None:
    client = https_client(site)
    patient = client.login(DEMO_PATIENT[0], DEMO_PASSWORD, "patient")
    doctor = client.login(DEMO_DOCTOR_PHONE, DEMO_PASSWORD, "doctor")
    [conversation] = client.expect(200, "GET", "/v1/conversations", token=patient)
    url = f"wss://localhost:{site.ports['tls']}/v1/chat"
    context = site.tls_context()
    with (
        ChatClient(url, "patient via nginx", ssl=context) as p,
        ChatClient(url, "doctor via nginx", ssl=context) as d,
    ):
        p.auth(patient)
        d.auth(doctor)
        sent = p.send(conversation["id"], "Through the proxy", client_id="deploy-1")
        got = d.expect_message(sent["id"])
        assert (got["content"], got["sender_role"]) == ("Through the proxy", "patient")


def test_metrics_through_nginx_are_for_the_token_holder_only(site: Site) -> None:
    """An outside client, as nginx relays it (the address it came from appended to
    X-Forwarded-For; here a client on loopback names an outside address, which nginx keeps)."""
    outside = {"X-Forwarded-For": "203.0.113.9"}
    client = https_client(site)
    refused = client.call("GET", "/metrics", headers=outside)
    assert refused.status == 403 and refused.content_type == "application/problem+json"
    token = site.settings["MEDBOOK_METRICS_TOKEN"]
    allowed = client.call(
        "GET", "/metrics", headers={**outside, "Authorization": f"Bearer {token}"}
    )
    assert allowed.status == 200 and b"medbook_http_requests_total" in allowed.raw


def test_the_chat_counts_its_connections_and_messages(site: Site) -> None:
    """After the chat session above: /metrics on the chat's own port, for this host only."""
    chat = HttpClient(f"http://127.0.0.1:{site.ports['chat']}")
    reply = chat.call("GET", "/metrics")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/plain")
    text = reply.raw.decode()
    assert re.search(r"^medbook_chat_messages_total [1-9]", text, re.M), text[:2000]
    assert re.search(r"^medbook_chat_connections 0\.0$", text, re.M), text[:2000]
    outside = chat.call("GET", "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert outside.status == 403 and b"medbook_" not in outside.raw
    # Found by a live probe: a header sent twice was a 500 with a traceback in the log.
    for name, values, status in (
        ("X-Forwarded-For", ("8.8.8.8", "127.0.0.1"), 403),  # relayed, by nobody trusted
        ("Authorization", ("Bearer x", "Bearer y"), 200),  # two credentials: none; internal
    ):
        connection = http.client.HTTPConnection("127.0.0.1", site.ports["chat"], timeout=5)
        try:
            connection.putrequest("GET", "/metrics")
            for value in values:
                connection.putheader(name, value)
            connection.endheaders()
            assert connection.getresponse().status == status, name
        finally:
            connection.close()


def test_with_the_chat_down_nginx_answers_a_problem(site: Site) -> None:
    """Last: it stops the chat. A gone upstream is a 503 problem with Retry-After, like the API's
    own, not nginx's HTML 502 page."""
    _stop(site.processes["chat"])
    status, headers, body = https_get(site, "/v1/chat")
    assert status == 503, body
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == "5"
    assert json.loads(body)["code"] == "unavailable"
