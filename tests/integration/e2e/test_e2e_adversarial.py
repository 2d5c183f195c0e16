"""The bodies of issue 7's probe, as raw bytes over a socket to a real ``medbook serve`` (gunicorn):
each gets a problem+json refusal, never a 500 or an empty answer. The full sweep of adversarial
values over every operation is tests/integration/http/test_http_adversarial.py.
"""

from __future__ import annotations

import http.client
import json

import pytest
from e2e_support import HTTP_TIMEOUT, Server

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


@pytest.mark.parametrize(("body", "statuses", "field"), PROBE)
def test_the_probes_odd_logins_get_a_problem_not_a_500(
    demo_server: Server, body: bytes, statuses: tuple[int, ...], field: str | None
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", demo_server.port, timeout=HTTP_TIMEOUT)
    try:
        connection.request(
            "POST", "/v1/sessions", body=body, headers={"Content-Type": "application/json"}
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
