"""The S3 adapter when its store is gone: a moto server of the test's own (``moto_process``), killed
and brought back on the same port; a loopback socket that never answers; a stub that answers as a
failing or a refusing store.

- every call that needs the store raises the port's ``StorageUnavailable`` (never a botocore
  error) within the bounds the client is configured with, and a store that comes back is used
  again by the same adapter, without building a new one;
- a store's own refusal (credentials, a missing key) is not an outage and stays what it is;
- the upload service, when the store dies halfway through a change: what was committed stays
  committed, and what it could not delete is logged by key, the remaining keys not tried.

moto keeps everything in memory: after a restart the test creates its bucket again.
"""

from __future__ import annotations

import datetime as dt
import http.server
import io
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from moto_process import MotoProcess
from PIL import Image
from server_process import running

from medbook.adapters.storage import storage_from_url
from medbook.adapters.storage.s3 import (
    CONNECT_TIMEOUT_S,
    MAX_ATTEMPTS,
    READ_TIMEOUT_S,
    S3Storage,
)
from medbook.bootstrap import in_memory
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import ObjectNotFound, StorageUnavailable
from medbook.ports.storage import ObjectStorage, StoredObject

BUCKET = "medbook-outage"
REGION = "cn-hangzhou"
#: botocore's backoff before its one retry is at most this long (standard mode, first retry).
BACKOFF_S = 1.0
#: An upload waits this long for ``100 Continue`` before it sends its body (botocore's own).
EXPECT_CONTINUE_S = 1.0
#: Seconds a call may take against a killed store: its port refuses at once, so two refused
#: connects and one backoff; the rest is slack for a loaded machine.
REFUSED_BOUND_S = BACKOFF_S + 2.0
#: Seconds an upload may take against a store that answers every attempt with an error: each
#: attempt may wait for ``100 Continue`` first, then one backoff, plus slack (the refused bound
#: left the waits out, and a CI run once took 3.01 s of its 3).
ANSWERED_BOUND_S = MAX_ATTEMPTS * EXPECT_CONTINUE_S + BACKOFF_S + 2.0
#: Seconds an upload may take against a store that accepts connections and never answers: the
#: wait for ``100 Continue`` and a read timeout per attempt, and one backoff, plus slack.
HUNG_BOUND_S = MAX_ATTEMPTS * (EXPECT_CONTINUE_S + READ_TIMEOUT_S) + BACKOFF_S + 2.0
#: gunicorn kills a sync worker whose request takes this long.
GUNICORN_TIMEOUT_S = 30


@pytest.fixture
def moto(tmp_path: Path, aws_env: None) -> Iterator[MotoProcess]:
    with running(MotoProcess(tmp_path)) as server:
        server.create_bucket(BUCKET, REGION)
        yield server


def storage_on(endpoint: str) -> S3Storage:
    return S3Storage(BUCKET, endpoint_url=endpoint, region=REGION)


def timed(call: Callable[[], object]) -> tuple[float, BaseException | None]:
    began = time.monotonic()
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the test looks at what it was
        return time.monotonic() - began, error
    return time.monotonic() - began, None


def read_all(storage: ObjectStorage, key: str) -> bytes:
    with storage.open(key) as stream:
        return stream.read()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


# --- the adapter ---------------------------------------------------------------------------------


def test_every_wait_on_the_store_is_bounded_well_below_a_worker_timeout(aws_env: None) -> None:
    storage = storage_from_url(
        f"s3://{BUCKET}?endpoint=http://127.0.0.1:9&region={REGION}",
        data_dir=Path("unused"),
        public_base_url="",
    )
    config = storage._client.meta.config  # type: ignore[attr-defined]
    assert (config.connect_timeout, config.read_timeout) == (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
    assert config.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
    # The worst call (each attempt connects slowly, then waits a whole read), twice in one
    # request (an avatar stored, then the rollback's delete), still ends before gunicorn's kill.
    worst_call = MAX_ATTEMPTS * (CONNECT_TIMEOUT_S + EXPECT_CONTINUE_S + READ_TIMEOUT_S) + BACKOFF_S
    assert 2 * worst_call < GUNICORN_TIMEOUT_S


def test_a_killed_store_is_unavailable_at_once_and_used_again_once_it_is_back(
    moto: MotoProcess,
) -> None:
    storage = storage_on(moto.endpoint)
    storage.put("uploads/2026/12/before.png", b"before", content_type="image/png")
    assert read_all(storage, "uploads/2026/12/before.png") == b"before"

    moto.kill()
    calls: dict[str, Callable[[], object]] = {
        "put": lambda: storage.put("uploads/2026/12/b.png", b"during", content_type="image/png"),
        "put a stream": lambda: storage.put(
            "uploads/2026/12/c.png", io.BytesIO(b"during"), content_type="image/png"
        ),
        "stat": lambda: storage.stat("uploads/2026/12/before.png"),
        "open": lambda: storage.open("uploads/2026/12/before.png"),
        "delete": lambda: storage.delete("uploads/2026/12/before.png"),
    }
    for name, call in calls.items():
        took, error = timed(call)
        assert isinstance(error, StorageUnavailable), (name, error)
        assert error.code == "storage_unavailable"
        assert took <= REFUSED_BOUND_S, (name, took)
    # A link is signed here, not asked of the store: it still comes.
    assert storage.url("uploads/2026/12/before.png").startswith(moto.endpoint)

    moto.restart()
    moto.create_bucket(BUCKET, REGION)  # moto kept nothing
    storage.put("uploads/2026/12/after.png", b"after", content_type="image/png")
    assert read_all(storage, "uploads/2026/12/after.png") == b"after"
    # What the restarted moto forgot is missing (404), not unavailable.
    with pytest.raises(ObjectNotFound):
        storage.stat("uploads/2026/12/before.png")


def test_a_store_that_never_answers_is_unavailable_within_the_read_timeouts(
    aws_env: None,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        # Listening, never accepting: the kernel completes the connections, nobody answers.
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        storage = storage_on(f"http://127.0.0.1:{silent.getsockname()[1]}")
        took, error = timed(
            lambda: storage.put("uploads/2026/12/a.png", b"data", content_type="image/png")
        )
    assert isinstance(error, StorageUnavailable), error
    assert MAX_ATTEMPTS * READ_TIMEOUT_S <= took <= HUNG_BOUND_S, took


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers every request with the server's ``status`` and an S3 error document."""

    def _answer(self) -> None:
        status, code = self.server.answer  # type: ignore[attr-defined]
        self.server.requests += 1  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = f"<Error><Code>{code}</Code><Message>stub</Message></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stub(aws_env: None) -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.requests = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "InternalError")])
def test_a_store_failing_on_its_side_is_unavailable_after_one_retry(
    stub: http.server.ThreadingHTTPServer, status: int, code: str
) -> None:
    stub.answer = (status, code)  # type: ignore[attr-defined]
    storage = storage_on(f"http://127.0.0.1:{stub.server_address[1]}")
    took, error = timed(
        lambda: storage.put("uploads/2026/12/a.png", b"data", content_type="image/png")
    )
    assert isinstance(error, StorageUnavailable), error
    assert took <= ANSWERED_BOUND_S
    assert stub.requests == MAX_ATTEMPTS  # type: ignore[attr-defined]


def test_a_store_refusing_the_credentials_is_not_an_outage(
    stub: http.server.ThreadingHTTPServer,
) -> None:
    """An operator's mistake stays an error of its own (a 500, logged with its traceback), not
    a 503 that tells clients to come back later."""
    stub.answer = (403, "AccessDenied")  # type: ignore[attr-defined]
    storage = storage_on(f"http://127.0.0.1:{stub.server_address[1]}")
    _, error = timed(
        lambda: storage.put("uploads/2026/12/a.png", b"data", content_type="image/png")
    )
    assert error is not None and not isinstance(error, StorageUnavailable), error
    assert "AccessDenied" in str(error)


# --- the upload service --------------------------------------------------------------------------


class Dying:
    """The store, killed right after the next ``put`` when ``die_after_put`` is set; counts the
    deletions asked of it."""

    def __init__(self, inner: ObjectStorage, moto: MotoProcess) -> None:
        self.inner = inner
        self.moto = moto
        self.die_after_put = False
        self.deletions: list[str] = []

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        stored = self.inner.put(key, data, content_type=content_type, metadata=metadata)
        if self.die_after_put:
            self.moto.kill()
        return stored

    def open(self, key: str) -> BinaryIO:
        return self.inner.open(key)

    def stat(self, key: str) -> StoredObject:
        return self.inner.stat(key)

    def delete(self, key: str) -> None:
        self.deletions.append(key)
        self.inner.delete(key)

    def url(self, key: str, *, expires_in: dt.timedelta | None = None) -> str:
        return self.inner.url(key, expires_in=expires_in)


def left_behind(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(r.args[0])  # type: ignore[index]
        for r in caplog.records
        if r.levelno == logging.ERROR and r.msg.startswith("stored file %s left behind")
    ]


def test_an_avatar_changed_as_the_store_dies_is_kept_and_the_old_file_logged(
    moto: MotoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    store = Dying(storage_on(moto.endpoint), moto)
    services = in_memory(storage=store)
    doctor = services.accounts.register_doctor("13912345678", "Dr Outage", "a good passphrase")
    assert doctor.id is not None
    actor = Actor(doctor.id, Role.DOCTOR)
    old = services.uploads.set_avatar(actor, io.BytesIO(png())).avatar_key
    assert old is not None

    store.die_after_put = True
    changed = services.uploads.set_avatar(actor, io.BytesIO(png()))

    # Committed before the store was needed again: the answer is the new avatar, not an error.
    assert changed.avatar_key not in (None, old)
    with services.new_uow() as uow:
        assert uow.doctors.get(doctor.id).avatar_key == changed.avatar_key  # type: ignore[union-attr]
    assert left_behind(caplog) == [old]


def test_files_left_behind_are_all_logged_and_tried_once_while_the_store_is_down(
    moto: MotoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    store = Dying(storage_on(moto.endpoint), moto)
    services = in_memory(storage=store)
    keys = [f"records/2026/12/{n}.png" for n in range(3)]
    moto.kill()

    took, error = timed(lambda: services.uploads.delete_keys(keys))

    assert error is None
    assert store.deletions == keys[:1]  # the next ones would each cost the timeouts again
    assert left_behind(caplog) == keys
    assert took <= REFUSED_BOUND_S
