"""The bodies of issue 7's probe, as raw bytes over a socket to a real ``medbook serve`` (gunicorn):
each gets a problem+json refusal, never a 500 or an empty answer. The full sweep of adversarial
values over every operation is tests/integration/http/test_http_adversarial.py.
"""

from __future__ import annotations

import http.client
import json

import pytest
from e2e_support import HTTP_TIMEOUT, HttpClient, Server

from medbook.demo import DEMO_PASSWORD, DEMO_PATIENT

PROBLEM = "application/problem+json"

PROBE = [
    pytest.param(
        rb'{"phone":"13800138000","password":"abc\ud800","role":"patient"}',
        (400,),
        None,
        id="lone surrogate in the password",
    ),
    pytest.param(
        rb'{"\udead":1,"phone":"13800138000","password":"x","role":"patient"}',
        (400,),
        None,
        id="lone surrogate as a key",
    ),
    pytest.param(
        b'{"phone":' + b"9" * 5000 + b',"password":"x","role":"patient"}',
        (400, 422),
        "phone",
        id="a 5000-digit phone",
    ),
]


#: The same kinds of odd values in a waitlist join (a patient's: sent with a demo patient's token).
WAITLIST_PROBE = [
    pytest.param(
        rb'{"doctor_id":1,"date":"2026-11-26\ud800","period":"morning"}',
        (400,),
        None,
        id="lone surrogate in the date",
    ),
    pytest.param(
        b'{"doctor_id":' + b"9" * 5000 + b',"date":"2026-11-26","period":"morning"}',
        (400, 422),
        "doctor_id",
        id="a 5000-digit doctor id",
    ),
    pytest.param(
        '{"doctor_id":1,"date":"\uff12\uff10\uff12\uff16-11-26","period":"morning"}'.encode(),
        (422,),
        "date",
        id="a date in fullwidth digits",
    ),
    pytest.param(
        '{"doctor_id":1,"date":"\u0662\u0660\u0662\u0666-\u0661\u0661-\u0662\u0666",'
        '"period":"morning"}'.encode(),
        (422,),
        "date",
        id="a date in Arabic-Indic digits",
    ),
    pytest.param(b'{"date":"2026-11-26","period":"morning"}', (422,), "doctor_id", id="no doctor"),
]


@pytest.mark.parametrize(("body", "statuses", "field"), PROBE)
def test_the_probes_odd_logins_get_a_problem_not_a_500(
    demo_server: Server, body: bytes, statuses: tuple[int, ...], field: str | None
) -> None:
    _assert_refused(demo_server, "/v1/sessions", body, {}, statuses, field)


@pytest.mark.parametrize(("body", "statuses", "field"), WAITLIST_PROBE)
def test_odd_waitlist_joins_get_a_problem_not_a_500(
    demo_server: Server, body: bytes, statuses: tuple[int, ...], field: str | None
) -> None:
    token = HttpClient(demo_server.base_url).login(DEMO_PATIENT[0], DEMO_PASSWORD, "patient")
    headers = {"Authorization": f"Bearer {token}"}
    _assert_refused(demo_server, "/v1/waitlist", body, headers, statuses, field)


def _assert_refused(
    demo_server: Server,
    path: str,
    body: bytes,
    headers: dict[str, str],
    statuses: tuple[int, ...],
    field: str | None,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", demo_server.port, timeout=HTTP_TIMEOUT)
    try:
        connection.request(
            "POST", path, body=body, headers={"Content-Type": "application/json", **headers}
        )
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()

    assert response.status in statuses, (response.status, raw[:500])
    assert response.getheader("Content-Type", "").startswith(PROBLEM), response.getheaders()
    assert raw, "an empty body"
    problem = json.loads(raw)
    assert problem["status"] == response.status
    assert isinstance(problem["detail"], str) and problem["detail"]
    if response.status == 422:
        assert field in {e["field"] for e in problem["errors"]}, problem
