"""The object store (S3) dies under ``medbook serve``, then comes back.

The module runs its own S3-compatible server (moto's, ``moto_process.py``: a free loopback
port), never a shared one, and serves medbook on it as an operator would (``medbook migrate``,
``add-hospital``, ``create-admin``, ``medbook serve`` with ``MEDBOOK_STORAGE_URL=s3://…``, on
SQLite). Files are uploaded, read, attached; then moto is killed (SIGKILL), and:

- every request that needs the store (an upload, an avatar, an attachment, reading an upload or
  an attachment) answers 503 ``application/problem+json`` with the code ``storage_unavailable``
  and a Retry-After, within DOWN_ANSWER_BOUND_S;
- everything else works as before: logging in, listings, booking, records without attachments,
  ``/readyz`` (a store outage must not take the instances out of the load balancer);
- deleting a record with an attachment still works: its rows go, its file is left behind in the
  store and logged by key (nothing retries it);
- nothing is half written: no row points at an object the store does not hold, and the only
  objects no row points at are uploads (chat files have no row) and the files logged left behind;
- once moto is back on the same port, medbook uses it again without a restart.

moto keeps everything in memory: after its restart the test creates the bucket again and puts
back what the store held before the kill, as a real store (MinIO, OSS) would still hold it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from e2e_support import (
    BEIJING,
    Account,
    Cli,
    Deployment,
    HttpClient,
    Reply,
    Server,
    clean_environment,
    phone_numbers,
    strong_secret,
)
from moto_process import MotoProcess, isolate_aws
from PIL import Image
from server_process import running

PROBLEM = "application/problem+json"
BUCKET = "medbook-outage"
REGION = "cn-hangzhou"
#: Seconds any answer may take while the store is down: its port refuses at once, so a request
#: costs two refused connects and botocore's backoff (under 1 s); the rest is room for a loaded
#: 2-core CI machine. Far below gunicorn's 30 s worker timeout and the client's 15 s.
DOWN_ANSWER_BOUND_S = 5.0


@pytest.fixture(scope="module")
def aws_isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Dummy credentials, no proxy, no ~/.aws for this process and the servers it starts."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_aws(monkeypatch, tmp_path_factory.mktemp("aws-home"))
        yield


@pytest.fixture(scope="module")
def moto(aws_isolated: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running(MotoProcess(tmp_path_factory.mktemp("own-moto"))) as server:
        server.create_bucket(BUCKET, REGION)
        yield server


@pytest.fixture(scope="module")
def served(moto: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """``medbook serve`` on SQLite, its files in the module's own moto."""
    workdir = tmp_path_factory.mktemp("storage-outage-serve")
    storage_url = f"s3://{BUCKET}?endpoint={moto.endpoint}&region={REGION}&addressing=path"
    env = clean_environment(
        workdir,
        {
            "MEDBOOK_DATABASE_URL": f"sqlite:///{workdir / 'medbook.sqlite3'}",
            "MEDBOOK_JWT_SECRET": strong_secret(),
            "MEDBOOK_STORAGE_URL": storage_url,
        },
    )
    cli = Cli(workdir, env)
    cli.ok("migrate")
    hospitals = {BEIJING[0]: cli.add_hospital(*BEIJING)}
    admin = Account("13711110002", "an admin passphrase", "admin")
    cli.create_admin(hospitals[BEIJING[0]], admin.phone, "Store Admin", admin.password)
    server = Server(workdir, env).start()
    try:
        http = HttpClient(server.base_url)
        yield Deployment("sqlite", server, cli, http, hospitals, admin, phone_numbers("153"))
    finally:
        server.stop()


# --- helpers -------------------------------------------------------------------------------------


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(out, "PNG")
    return out.getvalue()


def send_file(http: HttpClient, method: str, path: str, data: bytes, who: Account) -> Reply:
    return http.call(
        method, path, data=data, headers={"Content-Type": "image/png"}, token=who.token
    )


def timed(call: Callable[[], Reply]) -> tuple[Reply, float]:
    began = time.monotonic()
    reply = call()
    return reply, time.monotonic() - began


def is_storage_unavailable(reply: Reply) -> bool:
    return (
        reply.status == 503
        and reply.content_type == PROBLEM
        and reply.body.get("code") == "storage_unavailable"
        and reply.headers.get("retry-after", "").isdigit()
        and int(reply.headers["retry-after"]) > 0
    )


def query(served: Deployment, sql: str, *args: object) -> set[str]:
    """The one column ``sql`` selects, from medbook's own database (read-only)."""
    database = served.server.workdir / "medbook.sqlite3"
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return {value for (value,) in db.execute(sql, args).fetchall()}


def referenced_keys(served: Deployment) -> set[str]:
    """Every object key a row of the database points at: avatars and record attachments."""
    return query(served, "SELECT avatar_key FROM doctors WHERE avatar_key IS NOT NULL") | query(
        served, "SELECT storage_key FROM record_attachments"
    )


def snapshot(moto: Any) -> dict[str, tuple[bytes, str, dict[str, str]]]:
    """Every object of the bucket: its bytes, content type and metadata."""
    client = moto.client(REGION)
    objects = {}
    for key in moto.keys(BUCKET, REGION):
        found = client.get_object(Bucket=BUCKET, Key=key)
        objects[key] = (found["Body"].read(), found["ContentType"], found["Metadata"])
    return objects


def restore(moto: Any, objects: dict[str, tuple[bytes, str, dict[str, str]]]) -> None:
    client = moto.client(REGION)
    for key, (data, content_type, metadata) in objects.items():
        client.put_object(
            Bucket=BUCKET, Key=key, Body=data, ContentType=content_type, Metadata=metadata
        )


def later_session(http: HttpClient, doctor_id: int) -> dict[str, Any]:
    """A session of the doctor two days ahead or more: none can start during the test."""
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    sessions = http.expect(200, "GET", f"/v1/doctors/{doctor_id}/sessions")
    return next(s for s in sessions if dt.date.fromisoformat(s["date"]) >= soon)


RECORD = {"hospital_name": "Ruijin Hospital", "visit_date": "2026-11-20", "title": "Follow-up"}


# --- the outage ----------------------------------------------------------------------------------


def test_a_store_outage_fails_only_what_needs_the_store_quickly_then_heals_by_itself(
    served: Deployment, moto: Any
) -> None:
    http = served.http
    doctor, _ = served.verified_doctor(name="Dr Avatar")
    patient = served.register("patient", "Store Patient")
    first, second, third = png((200, 30, 30)), png((30, 200, 30)), png((30, 30, 200))

    # 1. The store is up: uploads, an avatar, attachments.
    uploaded = send_file(http, "POST", "/v1/uploads", first, patient)
    assert uploaded.status == 201, uploaded
    upload_url = uploaded.body["url"]
    assert http.get(upload_url, token=patient.token).raw == first
    avatar = send_file(http, "PUT", "/v1/doctors/me/avatar", first, doctor)
    assert avatar.status == 200, avatar
    kept = http.expect(201, "POST", "/v1/records", RECORD, token=patient.token)
    attached = send_file(http, "POST", f"/v1/records/{kept['id']}/attachments", first, patient)
    assert attached.status == 201, attached
    attachment_url = attached.body["url"]
    doomed = http.expect(201, "POST", "/v1/records", RECORD, token=patient.token)
    assert (
        send_file(http, "POST", f"/v1/records/{doomed['id']}/attachments", second, patient).status
        == 201
    )
    held = snapshot(moto)
    rows = referenced_keys(served)
    assert rows <= set(held) and len(rows) == 3  # an avatar and two attachments
    doomed_keys = query(
        served, "SELECT storage_key FROM record_attachments WHERE record_id = ?", doomed["id"]
    )
    assert len(doomed_keys) == 1

    # 2. The store dies.
    log_from = served.server.output_sizes()
    moto.kill()
    needing_the_store = {
        "upload": lambda: send_file(http, "POST", "/v1/uploads", second, patient),
        "avatar": lambda: send_file(http, "PUT", "/v1/doctors/me/avatar", second, doctor),
        "attach": lambda: send_file(
            http, "POST", f"/v1/records/{kept['id']}/attachments", second, patient
        ),
        "read an upload": lambda: http.get(upload_url, token=patient.token),
        "read an attachment": lambda: http.get(attachment_url, token=patient.token),
    }
    for what, call in needing_the_store.items():
        reply, took = timed(call)
        assert is_storage_unavailable(reply), (what, reply)
        assert took <= DOWN_ANSWER_BOUND_S, (what, took)

    session = later_session(http, doctor.id or 0)
    booking = {"doctor_id": doctor.id, "date": session["date"], "period": session["period"]}
    not_needing_it = {
        "login": (200, lambda: http.post("/v1/sessions", login_body(patient))),
        "sessions": (200, lambda: http.get(f"/v1/doctors/{doctor.id}/sessions")),
        "book": (201, lambda: http.post("/v1/appointments", booking, token=patient.token)),
        "my appointments": (200, lambda: http.get("/v1/appointments", token=patient.token)),
        "a record": (201, lambda: http.post("/v1/records", RECORD, token=patient.token)),
        "my records": (200, lambda: http.get("/v1/records", token=patient.token)),
        "a doctor": (200, lambda: http.get(f"/v1/doctors/{doctor.id}")),
        "readyz": (200, lambda: http.get("/readyz")),
        "delete a record with a file": (
            204,
            lambda: http.call("DELETE", f"/v1/records/{doomed['id']}", token=patient.token),
        ),
    }
    for what, (status, call) in not_needing_it.items():
        reply, took = timed(call)
        assert reply.status == status, (what, reply)
        assert took <= DOWN_ANSWER_BOUND_S, (what, took)
    listed = http.expect(200, "GET", "/v1/records", token=patient.token)
    assert [len(r["attachments"]) for r in listed if r["id"] == kept["id"]] == [1]
    # Refused uploads wrote no row; the deleted record's rows are gone, its file left behind.
    assert referenced_keys(served) == rows - doomed_keys

    # 3. The store comes back on the same port, holding what it held (moto must be told).
    moto.restart()
    moto.create_bucket(BUCKET, REGION)
    restore(moto, held)
    again = send_file(http, "POST", "/v1/uploads", third, patient)
    assert again.status == 201, again
    assert http.get(again.body["url"], token=patient.token).raw == third
    assert http.get(upload_url, token=patient.token).raw == first
    assert http.get(attachment_url, token=patient.token).raw == first
    assert send_file(http, "PUT", "/v1/doctors/me/avatar", third, doctor).status == 200
    added = send_file(http, "POST", f"/v1/records/{kept['id']}/attachments", third, patient)
    assert added.status == 201, added
    assert http.get(added.body["url"], token=patient.token).raw == third

    # 4. Nothing half written: every row's object is there; every object without a row is an
    # upload (those have none) or a file logged as left behind.
    stored = moto.keys(BUCKET, REGION)
    rows_now = referenced_keys(served)
    assert rows_now <= stored, rows_now - stored
    unreferenced = {k for k in stored - rows_now if not k.startswith("uploads/")}
    assert unreferenced == doomed_keys
    log = served.server.output(log_from, max_lines=100_000)
    assert all(f"stored file {key} left behind" in log for key in doomed_keys), log
    assert "Traceback" not in log and "WORKER TIMEOUT" not in log, log
    assert "Booting worker" not in log, log
    assert "object store unavailable" in log, log


def login_body(who: Account) -> dict[str, str]:
    return {"phone": who.phone, "password": who.password, "role": who.role}
