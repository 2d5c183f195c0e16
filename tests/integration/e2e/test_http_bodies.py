"""Request bodies as gunicorn hands them to the app: chunked bodies are read, not taken as empty.

Falcon's ``bounded_stream`` reads ``Content-Length`` bytes, and a chunked request has no
``Content-Length``: before the fix, ``POST /v1/sessions`` with a chunked body answered "the body is
not valid JSON" as if nothing had been sent. Only a real server shows this (falcon.testing always
sets a length), so these run against ``medbook serve --demo``.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

from e2e_support import Server

from medbook.demo import DEMO_PASSWORD, DEMO_PATIENT


def _chunked_post(server: Server, path: str, chunks: Iterator[bytes]) -> tuple[int, dict, bytes]:
    address = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=chunks,
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def test_a_chunked_json_body_is_read(demo_server: Server) -> None:
    body = json.dumps({"phone": DEMO_PATIENT[0], "password": DEMO_PASSWORD, "role": "patient"})
    encoded = body.encode()
    chunks = iter([encoded[:7], encoded[7:20], encoded[20:]])

    status, headers, raw = _chunked_post(demo_server, "/v1/sessions", chunks)

    assert status == 200, raw
    assert json.loads(raw)["role"] == "patient"
    assert headers["cache-control"] == "no-store"


def test_a_chunked_body_over_the_limit_is_refused(demo_server: Server) -> None:
    # The demo server takes JSON bodies up to 1 MiB; 2 MiB in 64 KiB chunks.
    chunks = (b" " * 65536 for _ in range(32))

    status, headers, raw = _chunked_post(demo_server, "/v1/sessions", chunks)

    assert status == 413, raw
    assert headers["content-type"].startswith("application/problem+json")
