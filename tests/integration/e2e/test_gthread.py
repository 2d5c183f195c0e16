"""``medbook serve --threads N``: gunicorn's gthread workers (issue 13's worker-class lever). A
client's connection stays open between requests (sync workers close it after each answer), and
requests from many clients at once are all answered, by threads sharing one app and one pool."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from e2e_support import Server, clean_environment, free_port


def _serve(workdir: Path, *args: str) -> Server:
    chat_bind = ("--chat-bind", f"127.0.0.1:{free_port()}")
    return Server(workdir, clean_environment(workdir), ("--demo", *chat_bind, *args)).start()


@pytest.fixture(scope="module")
def threaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = _serve(tmp_path_factory.mktemp("gthread"), "--threads", "4")
    yield server
    server.stop()


def _hospitals(connection: http.client.HTTPConnection) -> tuple[int, str | None, int]:
    connection.request("GET", "/v1/hospitals")
    response = connection.getresponse()
    body = json.loads(response.read())
    return response.status, response.getheader("Connection"), len(body)


def test_a_client_s_connection_stays_open_between_requests(threaded: Server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", threaded.port, timeout=10)
    try:
        status, _, _ = _hospitals(connection)
        first = connection.sock
        answers = [_hospitals(connection) for _ in range(5)]
        assert status == 200
        assert all(s == 200 and header != "close" and n > 0 for s, header, n in answers), answers
        assert connection.sock is first  # the same socket: never closed and opened again
    finally:
        connection.close()


def test_requests_from_many_clients_at_once_are_all_answered(threaded: Server) -> None:
    def client(_: int) -> list[int]:
        connection = http.client.HTTPConnection("127.0.0.1", threaded.port, timeout=20)
        try:
            return [_hospitals(connection)[0] for _ in range(10)]
        finally:
            connection.close()

    with ThreadPoolExecutor(24) as pool:
        statuses = [s for answers in pool.map(client, range(24)) for s in answers]

    assert statuses == [200] * 240


def test_sync_workers_close_the_connection_after_each_answer(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The other side of the first test: what ``--threads`` changes (the default is 1)."""
    server = _serve(tmp_path_factory.mktemp("sync"))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        status, header, _ = _hospitals(connection)
        assert (status, header) == (200, "close")
    finally:
        connection.close()
        server.stop()
