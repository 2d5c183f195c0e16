"""Request bodies as gunicorn hands them to the app: chunked bodies are read, not taken as empty.

Falcon's ``bounded_stream`` reads ``Content-Length`` bytes, and a chunked request has no
``Content-Length``: before the fix, ``POST /v1/sessions`` with a chunked body answered "the body is
not valid JSON" as if nothing had been sent. Only a real server shows this (falcon.testing always
sets a length), so these run against ``medbook serve --demo``.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from e2e_support import HttpClient, Server
from PIL import Image

from medbook.demo import DEMO_PASSWORD, DEMO_PATIENT


def _chunked_post(
    server: Server, path: str, chunks: Iterator[bytes], headers: dict[str, str] | None = None
) -> tuple[int, dict, bytes]:
    address = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=chunks,
            headers={
                "Content-Type": "application/json",
                **(headers or {}),
                "Transfer-Encoding": "chunked",
            },
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


HEAD = (
    b"POST /v1/sessions HTTP/1.1\r\nHost: medbook\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\n"
)


@pytest.mark.parametrize(
    ("head", "size"),
    [
        # Over the 1 MiB JSON limit: refused after the first MiB, 5 MiB more still on their way.
        (HEAD.replace(b"Connection: close", b"Transfer-Encoding: chunked"), 6 * 1024 * 1024),
        # No token: refused before a byte of the 6 MiB upload is read.
        (b"POST /v1/uploads HTTP/1.1\r\nHost: medbook\r\nContent-Type: image/png\r\n", 6 << 20),
    ],
    ids=["chunked-over-the-limit", "upload-without-a-token"],
)
def test_an_answer_given_before_the_body_was_read_reaches_the_client(
    demo_server: Server, head: bytes, size: int
) -> None:
    # A server that closes with unread bytes in its socket sends a reset, and the client's kernel
    # then drops the answer the client has not read yet: the client sees a broken pipe, not the
    # 413 or 401. The server must read (and drop) what is left of a body of sane size first.
    chunked = b"chunked" in head
    framing = b"\r\n" if chunked else f"Content-Length: {size}\r\n\r\n".encode()
    piece = b" " * 65536
    address = urlsplit(demo_server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(head + framing)
        for _ in range(size // len(piece)):
            connection.sendall(b"10000\r\n" + piece + b"\r\n" if chunked else piece)
        if chunked:
            connection.sendall(b"0\r\n\r\n")
        response = http.client.HTTPResponse(connection)
        response.begin()
        assert response.status in (401, 413), response.read()
        assert response.getheader("content-type", "").startswith("application/problem+json")


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: 1000000\r\n\r\n" + b" " * 1000, b"Transfer-Encoding: chunked\r\n\r\n"],
    ids=["length", "chunked"],
)
def test_a_client_that_stops_sending_its_body_does_not_hold_the_answer(
    demo_server: Server, framing: bytes
) -> None:
    # The server reads what is left of a refused body only while the client keeps sending: a
    # client that stops gets its 401 after a second of silence, not after gunicorn's 30 s.
    head = b"POST /v1/uploads HTTP/1.1\r\nHost: medbook\r\nContent-Type: image/png\r\n"
    address = urlsplit(demo_server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(head + framing)
        response = http.client.HTTPResponse(connection)
        response.begin()  # a TimeoutError after 10 s would mean the worker is still waiting
        assert response.status == 401, response.read()


def test_a_body_the_call_does_not_read_is_answered_at_once(demo_server: Server) -> None:
    # No waiting for the lingering read when the body has all come: it stops at the body's end.
    address = urlsplit(demo_server.base_url)
    request = (
        b"POST /healthz HTTP/1.1\r\nHost: medbook\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    with socket.create_connection((address.hostname, address.port), timeout=0.9) as connection:
        connection.sendall(request)
        response = http.client.HTTPResponse(connection)
        response.begin()  # within the lingering read's 1 s of patience
        assert response.status == 405


def test_a_chunked_form_upload_is_read_like_one_with_a_length(demo_server: Server) -> None:
    # Falcon's form parser needs a Content-Length, and a chunked body has none: it was a 500.
    token = HttpClient(demo_server.base_url).login(DEMO_PATIENT[0], DEMO_PASSWORD, "patient")
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(picture, "PNG")
    form = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        + picture.getvalue()
        + b"\r\n--B--\r\n"
    )

    status, _, raw = _chunked_post(
        demo_server,
        "/v1/uploads",
        iter([form[:40], form[40:]]),
        {"Content-Type": "multipart/form-data; boundary=B", "Authorization": f"Bearer {token}"},
    )

    assert status == 201, raw
    assert json.loads(raw)["size"] == len(picture.getvalue())


def _raw(server: Server, request: bytes, *, close_write: bool = False) -> tuple[int, bytes]:
    """Send ``request`` bytes as they are; the status and body of the answer."""
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(request)
        if close_write:
            connection.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, response.read()


@pytest.mark.parametrize(
    ("framing", "close_write"),
    [
        (b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", False),  # not a chunk size
        (b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", False),  # no CRLF after a chunk
        (b"Transfer-Encoding: chunked\r\n\r\n10\r\n{}", True),  # cut short
        (b"Content-Length: 100\r\n\r\n{}", True),  # fewer bytes than it says
    ],
    ids=["bad-chunk-size", "chunk-without-terminator", "chunked-cut-short", "length-cut-short"],
)
def test_a_badly_framed_body_is_a_400_problem(
    demo_server: Server, framing: bytes, close_write: bool
) -> None:
    status, raw = _raw(demo_server, HEAD + framing, close_write=close_write)

    assert status == 400, raw
    assert json.loads(raw)["code"] == "malformed_body"
