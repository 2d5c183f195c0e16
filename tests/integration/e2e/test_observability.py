"""What ``medbook serve`` tells its operator, read from a real server with two workers: one JSON
log line per request with no secret in any line, and ``/metrics`` adding up both workers.

The secrets a patient hands over in a whole visit (a password, the token they get, a resident
identity number, the notes of a medical record, a record-share code) are then looked for in
everything the server wrote: its log lines and its standard output.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import signal
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import HttpClient, Server, children_of, clean_environment, strong_secret

METRICS_TOKEN = secrets.token_urlsafe(32)
WORKERS = 2


def resident_id(birth: dt.date, sequence: int) -> str:
    """A valid 18-character resident identity number (ISO 7064 MOD 11-2 check character)."""
    first17 = f"110101{birth:%Y%m%d}{sequence:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    remainder = sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11
    return first17 + "10X98765432"[remainder]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("observed")
    env = clean_environment(
        workdir,
        {
            "MEDBOOK_JWT_SECRET": strong_secret(),
            "MEDBOOK_METRICS_TOKEN": METRICS_TOKEN,
            # The test client stands for nginx: its X-Request-ID names the request.
            "MEDBOOK_TRUSTED_PROXIES": "127.0.0.1/32",
        },
    )
    served = Server(workdir, env, ("--demo", "--chat-bind", "127.0.0.1:0")).start()
    yield served
    served.stop()


def log_lines(server: Server) -> list[dict[str, Any]]:
    """Every line of the server's log (stderr) that is a JSON object; other lines fail the test
    that asks for them, as text outside the structure."""
    lines = []
    for raw in server.stderr_path.read_text(errors="replace").splitlines():
        if raw.strip():
            lines.append(json.loads(raw))
    return lines


def metrics(http: HttpClient, **kw: Any) -> str:
    reply = http.call("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert reply.status == 200, reply
    assert reply.headers["content-type"].startswith("text/plain")
    return reply.raw.decode()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text format, labels in any order."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name) : line.rindex("}") + 1]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}{labels} in\n{text[:3000]}")


def test_a_whole_visit_leaves_no_secret_in_the_logs(server: Server) -> None:
    http = HttpClient(server.base_url)
    password = "correct horse " + secrets.token_hex(8)
    phone = f"139{secrets.randbelow(10**8):08d}"
    http.expect(
        201, "POST", "/v1/patients", {"phone": phone, "name": "Wu Lan", "password": password}
    )
    token = http.login(phone, password, "patient")
    id_number = resident_id(dt.date(1988, 3, 14), 2 * secrets.randbelow(400) + 2)
    http.expect(
        200,
        "POST",
        "/v1/patients/me/identity",
        {"name": "Wu Lan", "id_number": id_number},
        token=token,
    )
    notes = f"suspected hypertension, marker {secrets.token_hex(6)}"
    record = http.expect(
        201,
        "POST",
        "/v1/records",
        {
            "hospital_name": "Ruijin Hospital",
            "visit_date": "2026-11-02",
            "title": "Cardiology follow-up",
            "notes": notes,
        },
        token=token,
    )
    share = http.expect(
        201, "POST", "/v1/record-shares", {"record_ids": [record["id"]]}, token=token
    )
    code = share["code"]
    # A careless client: the code in a query string, in a wrong path, percent-escaped.
    http.call("GET", f"/v1/shared-records/{code}")
    http.call("GET", f"/v1/nowhere/{urllib.parse.quote(code, safe='')}?code={code}")
    http.call("GET", f"/v1/records?token={token}")
    # A wrong password is logged as a 401, never as what was typed.
    http.call(
        "POST", "/v1/sessions", {"phone": phone, "password": "wrong " + password, "role": "patient"}
    )

    written = server.stderr_path.read_text(errors="replace") + server.stdout_path.read_text(
        errors="replace"
    )
    for name, secret in {
        "password": password,
        "token": token,
        "token signature": token.rsplit(".", 1)[1],
        "identity number": id_number,
        "record notes": notes,
        "share code": code,
        "escaped share code": urllib.parse.quote(code, safe=""),
    }.items():
        assert secret not in written, f"the {name} is in the server's output"
    assert "Wu Lan" not in written  # nor a patient's name


def test_every_log_line_is_json_and_every_request_has_one(server: Server) -> None:
    http = HttpClient(server.base_url)
    marker = secrets.token_hex(16)
    reply = http.call("GET", "/v1/hospitals", headers={"X-Request-ID": marker})
    assert reply.status == 200 and reply.headers["x-request-id"] == marker
    # A request id a client makes up badly is replaced, not written into the log.
    bad = http.call("GET", "/v1/hospitals", headers={"X-Request-ID": 'x" <injected> {"a": 1}'})
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["x-request-id"])
    lines = log_lines(server)
    [line] = [entry for entry in lines if entry.get("request_id") == marker]
    assert line["logger"] == "medbook.access"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/v1/hospitals", 200)
    assert line["user_id"] is None and isinstance(line["duration_ms"], float)
    assert {"time", "level", "message"} <= set(line)
    # gunicorn's own lines are JSON too.
    assert any(entry.get("logger", "").startswith("gunicorn") for entry in lines)


def test_the_request_log_names_who_asked_and_the_route_not_the_path(server: Server) -> None:
    http = HttpClient(server.base_url)
    phone = f"139{secrets.randbelow(10**8):08d}"
    created = http.expect(
        201,
        "POST",
        "/v1/patients",
        {"phone": phone, "name": "Qian Yu", "password": "a long passphrase"},
    )
    token = http.login(phone, "a long passphrase", "patient")
    marker = secrets.token_hex(16)
    http.call("GET", "/v1/records/987654", token=token, headers={"X-Request-ID": marker})
    [line] = [entry for entry in log_lines(server) if entry.get("request_id") == marker]
    assert line["route"] == "/v1/records/{record_id:id}"
    assert (line["status"], line["user_id"], line["role"]) == (404, created["id"], "patient")
    assert "987654" not in json.dumps(line)


def test_metrics_add_up_every_worker(server: Server) -> None:
    http = HttpClient(server.base_url)
    before = metrics(http)
    try:
        start = sample(
            before, "medbook_http_requests_total", route="/v1/hospitals", method="GET", status="200"
        )
    except AssertionError:
        start = 0.0
    for _ in range(30):  # spread over both workers by the kernel's accept queue
        assert http.call("GET", "/v1/hospitals").status == 200
    after = metrics(http)
    assert (
        sample(
            after, "medbook_http_requests_total", route="/v1/hospitals", method="GET", status="200"
        )
        == start + 30
    )
    assert (
        sample(
            after,
            "medbook_http_request_duration_seconds_count",
            route="/v1/hospitals",
            method="GET",
        )
        >= 30
    )
    assert sample(after, "medbook_db_pool_connections", state="open") >= 0


def test_a_booking_is_counted_as_an_event(server: Server) -> None:
    http = HttpClient(server.base_url)
    from medbook.demo import DEMO_PASSWORD, DEMO_PATIENT

    token = http.login(DEMO_PATIENT[0], DEMO_PASSWORD, "patient")
    hospitals = http.expect(200, "GET", "/v1/hospitals")
    for hospital in hospitals:
        for department in http.expect(200, "GET", f"/v1/hospitals/{hospital['id']}/departments"):
            for doctor in http.expect(200, "GET", f"/v1/departments/{department['id']}/doctors"):
                for offered in http.expect(200, "GET", f"/v1/doctors/{doctor['id']}/sessions"):
                    if offered["remaining"] > 0:
                        booked = http.call(
                            "POST",
                            "/v1/appointments",
                            {
                                "doctor_id": doctor["id"],
                                "date": offered["date"],
                                "period": offered["period"],
                            },
                            token=token,
                        )
                        if booked.status == 201:
                            text = metrics(http)
                            assert (
                                sample(text, "medbook_events_total", event="appointment_booked")
                                >= 1
                            )
                            return
    raise AssertionError("the demo offered nothing to book")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 200),  # straight from loopback: internal
        ({"X-Forwarded-For": "203.0.113.9"}, 403),  # relayed by a proxy nobody trusts
        ({"Authorization": "Bearer wrong-token"}, 403),
        ({"X-Forwarded-For": "203.0.113.9", "Authorization": f"Bearer {METRICS_TOKEN}"}, 200),
    ],
)
def test_metrics_are_for_internal_callers_or_the_token(
    server: Server, headers: dict[str, str], status: int
) -> None:
    reply = HttpClient(server.base_url).call("GET", "/metrics", headers=headers)
    assert reply.status == status, reply
    if status == 403:
        assert reply.headers["content-type"] == "application/problem+json"
        assert "medbook_" not in reply.raw.decode()


def test_a_worker_that_exits_takes_nobody_else_s_numbers_with_it(server: Server) -> None:
    """gunicorn replaces a worker that exits (max requests, a crash, a reload). The exiting
    worker once removed the folder every worker writes its numbers to (an exit hook it
    inherited from the master), and the next request of each other worker failed with a 500."""
    assert server.process is not None
    master = server.process.pid

    def workers() -> set[int]:
        found = set()
        for pid in children_of(master):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"chat" not in command.split(b"\0"):  # the demo's chat server is a child too
                found.add(pid)
        return found

    before = workers()
    assert len(before) == WORKERS
    os.kill(min(before), signal.SIGTERM)
    deadline = time.monotonic() + 15
    while not (len(workers()) == WORKERS and workers() != before):
        assert time.monotonic() < deadline, "gunicorn did not replace the worker"
        time.sleep(0.05)
    http = HttpClient(server.base_url)
    statuses = {http.call("GET", "/v1/hospitals").status for _ in range(20)}
    assert statuses == {200}
    assert "medbook_http_requests_total" in metrics(http)


def test_the_logs_were_all_json(server: Server) -> None:
    """Last: after everything above, the whole log still parses line by line."""
    assert log_lines(server)
    assert Path(server.stderr_path).stat().st_size > 0
