"""Medical records over HTTP: a patient's records of hospital visits (create, list, read, edit,
delete, every text and date bound a 422 naming its field), their private attachments (photos and
PDFs, typed from their bytes, served only to the record's patient through
``/v1/records/{id}/attachments/{id}``, never as a public ``/files/`` link), on the in-memory
storage, on local disk and on an S3-compatible server (moto's), and on SQLite and MariaDB.

The world's clock stands at 2026-11-25T00:30Z; "today" for a visit date is the date in UTC+14
(14:30 on 2026-11-25), so 2026-11-25 is a visit that happened and 2026-11-26 one in the future
until 10:00Z.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from http_support import (
    FILES,
    GIF,
    JPEG,
    MAX_UPLOAD_BYTES,
    NOW,
    PASSWORD,
    PDF,
    PNG,
    WEBP,
    Account,
    Api,
    World,
    fast_hasher,
    ok,
    padded_pdf,
    pooled_world,
    problem,
    race,
)
from sqlalchemy import Engine

from medbook.adapters.memory import ManualClock
from medbook.adapters.memory.storage import MemoryStorage
from medbook.adapters.storage.local import LocalStorage
from medbook.adapters.storage.s3 import S3Storage
from medbook.bootstrap import in_memory
from medbook.entrypoints.http.app import create_app

# The S3-compatible test server of the storage tests (moto's, on loopback), reused as it is.
_spec = importlib.util.spec_from_file_location(
    "medbook_storage_test_fixtures", Path(__file__).parents[1] / "storage" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_s3_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_s3_fixtures)
s3_server = _s3_fixtures.s3_server
aws_env = _s3_fixtures.aws_env
s3_admin = _s3_fixtures.s3_admin
s3_prefix = _s3_fixtures.s3_prefix

#: A step of the clock, short enough that the world's tokens (valid an hour) stay valid.
STEP = dt.timedelta(minutes=10)
MAX_ATTACHMENTS = 20
BODY = {
    "hospital_name": "Ruijin Hospital",
    "visit_date": "2026-11-20",
    "title": "Cardiology follow-up",
    "notes": "Blood pressure 135/85.\nKeep the medication.",
}
#: The headers every served attachment carries, whatever its type.
SAFE_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "cache-control": "private, max-age=300",
}

# --- helpers -------------------------------------------------------------------------------------


def create(api: Api, who: Account, **changes: Any) -> falcon.testing.Result:
    return api.post("/v1/records", token=who.token, json={**BODY, **changes})


def made(world: World, who: str = "patient_a", **changes: Any) -> dict[str, Any]:
    return ok(create(world.api, getattr(world, who), **changes), 201)  # type: ignore[no-any-return]


def attach(
    api: Api,
    who: Account,
    record_id: int,
    data: bytes,
    content_type: str = "image/png",
    **options: Any,
) -> falcon.testing.Result:
    path = f"/v1/records/{record_id}/attachments"
    return api.upload(path, data, content_type, token=who.token, **options)


def stored_keys(world: World) -> list[str]:
    storage = world.services.uploads.storage
    assert isinstance(storage, MemoryStorage)
    return sorted(storage.keys())


def stamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def assert_served(api: Api, url: str, token: str, data: bytes, content_type: str) -> None:
    served = api.get(url, token=token)
    assert served.status_code == 200, served.text
    assert served.content == data
    assert served.headers["content-type"] == content_type
    assert int(served.headers["content-length"]) == len(data)
    for name, value in SAFE_HEADERS.items():
        assert served.headers[name] == value, name
    if content_type == "application/pdf":
        assert served.headers["content-disposition"] == "attachment"
    else:
        assert "content-disposition" not in served.headers


def record_path(record_id: int) -> str:
    return f"/v1/records/{record_id}"


# --- create, list, read --------------------------------------------------------------------------


def test_a_patient_creates_a_record(world: World) -> None:
    created = made(world)

    assert created == {
        "id": created["id"],
        **BODY,
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
        "attachments": [],
    }
    assert isinstance(created["id"], int) and created["id"] >= 1
    assert stamp(created["created_at"]) == NOW
    assert stamp(created["updated_at"]) == NOW
    assert ok(world.api.get(record_path(created["id"]), token=world.patient_a.token)) == created
    assert ok(world.api.get("/v1/records", token=world.patient_a.token)) == [created]


def test_notes_are_optional(world: World) -> None:
    body = {k: v for k, v in BODY.items() if k != "notes"}
    created = ok(world.api.post("/v1/records", token=world.patient_a.token, json=body), 201)
    assert created["notes"] == ""


def test_text_is_normalised_to_nfc_and_trimmed(world: World) -> None:
    created = made(
        world,
        hospital_name="\u3000Ho\u0302pital Ruijin  ",
        title="  Caf\u0065\u0301 check-up ",
        notes="  first line\nsecond line\twith a tab  ",
    )

    assert created["hospital_name"] == "H\u00f4pital Ruijin"
    assert created["title"] == "Caf\u00e9 check-up"
    assert created["notes"] == "first line\nsecond line\twith a tab"
    again = ok(world.api.get(record_path(created["id"]), token=world.patient_a.token))
    assert (again["hospital_name"], again["title"], again["notes"]) == (
        "H\u00f4pital Ruijin",
        "Caf\u00e9 check-up",
        "first line\nsecond line\twith a tab",
    )


def test_the_longest_texts_and_the_boundary_dates_are_taken(world: World) -> None:
    created = made(
        world,
        hospital_name="h" * 200,
        title="t" * 200,
        notes="n" * 5000,
        visit_date="2026-11-25",
    )
    oldest = made(world, visit_date="1900-01-01")

    assert (len(created["hospital_name"]), len(created["title"]), len(created["notes"])) == (
        200,
        200,
        5000,
    )
    assert created["visit_date"] == "2026-11-25"
    assert oldest["visit_date"] == "1900-01-01"


def test_the_list_is_the_most_recent_visit_first(world: World) -> None:
    middle = made(world, visit_date="2026-01-10")
    newest = made(world, visit_date="2026-11-20")
    oldest = made(world, visit_date="2025-05-01")
    same_day_later = made(world, visit_date="2026-01-10")

    listed = ok(world.api.get("/v1/records", token=world.patient_a.token))

    assert [r["id"] for r in listed] == [
        newest["id"],
        same_day_later["id"],
        middle["id"],
        oldest["id"],
    ]
    assert [r["visit_date"] for r in listed] == [
        "2026-11-20",
        "2026-01-10",
        "2026-01-10",
        "2025-05-01",
    ]


def test_the_list_shows_only_ones_own_records(world: World) -> None:
    mine = made(world, title="A's visit")
    theirs = made(world, "patient_b", title="B's visit")

    assert ok(world.api.get("/v1/records", token=world.patient_a.token)) == [mine]
    assert ok(world.api.get("/v1/records", token=world.patient_b.token)) == [theirs]
    newcomer = world.register_patient("Sun Qi")
    assert ok(world.api.get("/v1/records", token=newcomer.token)) == []


# --- edit ----------------------------------------------------------------------------------------

EDITS: list[dict[str, str]] = [
    {"hospital_name": "Peking Union Medical College Hospital"},
    {"visit_date": "2026-11-25"},
    {"title": "Second opinion"},
    {"notes": "Stop the medication."},
    {"notes": ""},
    {"title": "New title", "notes": "New notes", "visit_date": "2024-02-29"},
    {
        "hospital_name": "Huashan Hospital",
        "visit_date": "1900-01-01",
        "title": "All four",
        "notes": "x",
    },
]


@pytest.mark.parametrize("edit", EDITS, ids=lambda e: "+".join(e))
def test_a_patch_changes_what_it_names_and_only_that(world: World, edit: dict[str, str]) -> None:
    created = made(world)
    world.clock.advance(STEP)

    edited = ok(world.api.patch(record_path(created["id"]), token=world.patient_a.token, json=edit))

    assert edited == {**created, **edit, "updated_at": edited["updated_at"]}
    assert stamp(edited["updated_at"]) == NOW + STEP
    assert stamp(edited["created_at"]) == NOW
    assert ok(world.api.get(record_path(created["id"]), token=world.patient_a.token)) == edited


def test_a_patch_normalises_text_like_a_create(world: World) -> None:
    created = made(world)

    edited = ok(
        world.api.patch(
            record_path(created["id"]),
            token=world.patient_a.token,
            json={"title": " Re\u0301sume\u0301 ", "hospital_name": "\u00a0Ruijin\u2003"},
        )
    )

    assert (edited["title"], edited["hospital_name"]) == ("R\u00e9sum\u00e9", "Ruijin")


def test_a_patch_moves_the_list_order_with_the_visit_date(world: World) -> None:
    first = made(world, visit_date="2026-01-01")
    second = made(world, visit_date="2026-02-01")

    path = record_path(first["id"])
    ok(world.api.patch(path, token=world.patient_a.token, json={"visit_date": "2026-03-01"}))

    listed = ok(world.api.get("/v1/records", token=world.patient_a.token))
    assert [r["id"] for r in listed] == [first["id"], second["id"]]


# --- delete --------------------------------------------------------------------------------------


def test_a_deleted_record_is_gone(world: World) -> None:
    created = made(world)
    kept = made(world, title="Kept")
    path = record_path(created["id"])

    result = world.api.request("DELETE", path, token=world.patient_a.token)

    assert result.status_code == 204 and result.content == b""
    problem(world.api.get(path, token=world.patient_a.token), 404, "record_not_found")
    problem(
        world.api.patch(path, token=world.patient_a.token, json={"title": "x"}),
        404,
        "record_not_found",
    )
    problem(world.api.request("DELETE", path, token=world.patient_a.token), 404)
    problem(attach(world.api, world.patient_a, created["id"], PNG), 404, "record_not_found")
    assert ok(world.api.get("/v1/records", token=world.patient_a.token)) == [kept]


def test_an_unknown_record_is_404(world: World) -> None:
    for method in ("GET", "DELETE"):
        result = world.api.request(method, "/v1/records/999999", token=world.patient_a.token)
        problem(result, 404, "record_not_found")
    result = world.api.patch("/v1/records/999999", token=world.patient_a.token, json={"title": "x"})
    problem(result, 404, "record_not_found")


# --- validation ----------------------------------------------------------------------------------

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "\u200b\u3000"}, "title"),
    ({"title": "t" * 201}, "title"),
    ({"title": "bad\x00title"}, "title"),
    ({"title": "bad\x07title"}, "title"),
    ({"title": "two\nlines"}, "title"),
    ({"title": "\u202etxt.exe"}, "title"),
    ({"title": 42}, "title"),
    ({"hospital_name": ""}, "hospital_name"),
    ({"hospital_name": "  "}, "hospital_name"),
    ({"hospital_name": "h" * 201}, "hospital_name"),
    ({"hospital_name": "Ruijin\x1bHospital"}, "hospital_name"),
    ({"hospital_name": "Ruijin\u2028Hospital"}, "hospital_name"),
    ({"notes": "n" * 5001}, "notes"),
    ({"notes": "bad\x00notes"}, "notes"),
    ({"notes": "bad\u202enotes"}, "notes"),
    ({"visit_date": "2026-11-26"}, "visit_date"),
    ({"visit_date": "2027-01-01"}, "visit_date"),
    ({"visit_date": "1899-12-31"}, "visit_date"),
    ({"visit_date": "0001-01-01"}, "visit_date"),
    ({"visit_date": "2026-13-01"}, "visit_date"),
    ({"visit_date": "2026-11-20T08:00:00+08:00"}, "visit_date"),
    ({"visit_date": None}, "visit_date"),
    ({"patient_id": 2}, "patient_id"),
    ({"attachments": []}, "attachments"),
]


@pytest.mark.parametrize(("changes", "field"), INVALID, ids=lambda v: repr(v)[:40])
def test_an_invalid_record_is_422_naming_the_field_and_nothing_is_made(
    world: World, changes: dict[str, Any], field: str
) -> None:
    problem(create(world.api, world.patient_a, **changes), 422, fields={field})
    assert ok(world.api.get("/v1/records", token=world.patient_a.token)) == []


@pytest.mark.parametrize("field", ["hospital_name", "visit_date", "title"])
def test_a_missing_required_field_is_422(world: World, field: str) -> None:
    body = {k: v for k, v in BODY.items() if k != field}
    result = world.api.post("/v1/records", token=world.patient_a.token, json=body)
    problem(result, 422, fields={field})


#: Invalid in a PATCH: every invalid create value but the extra fields, plus an unknown field.
INVALID_EDITS = [
    (changes, field)
    for changes, field in INVALID
    if field in ("hospital_name", "title", "notes", "visit_date") and changes[field] is not None
] + [
    ({"patient_id": 2}, "patient_id"),
    ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
    ({"id": 5}, "id"),
    ({"title": "Fine", "notes": "n" * 5001}, "notes"),
    ({"visit_date": "2026-11-24", "hospital_name": ""}, "hospital_name"),
    ({"title": "Fine", "visit_date": "2026-11-26"}, "visit_date"),
]


@pytest.mark.parametrize(("changes", "field"), INVALID_EDITS, ids=lambda v: repr(v)[:40])
def test_an_invalid_patch_is_422_naming_the_field_and_changes_nothing(
    world: World, changes: dict[str, Any], field: str
) -> None:
    created = made(world)
    world.clock.advance(STEP)
    path = record_path(created["id"])

    problem(world.api.patch(path, token=world.patient_a.token, json=changes), 422, fields={field})

    assert ok(world.api.get(path, token=world.patient_a.token)) == created


def test_today_is_the_date_in_utc_plus_14(world: World) -> None:
    """At 09:59:59Z it is still 2026-11-25 in UTC+14; at 10:00Z it is 2026-11-26 there."""
    tomorrow = {"visit_date": "2026-11-26"}
    world.clock.set(dt.datetime(2026, 11, 25, 9, 59, 59, tzinfo=dt.UTC))
    token = world.login(world.patient_a.phone, "patient")
    refused = world.api.post("/v1/records", token=token, json={**BODY, **tomorrow})
    problem(refused, 422, fields={"visit_date"})

    world.clock.set(dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC))
    taken = ok(world.api.post("/v1/records", token=token, json={**BODY, **tomorrow}), 201)

    assert taken["visit_date"] == "2026-11-26"


# --- ownership and roles -------------------------------------------------------------------------


def test_another_patient_sees_no_record_of_mine(world: World) -> None:
    created = made(world)
    attached = ok(attach(world.api, world.patient_a, created["id"], PNG), 201)
    path = record_path(created["id"])
    keys = stored_keys(world)
    b = world.patient_b.token

    problem(world.api.get(path, token=b), 404, "record_not_found")
    problem(world.api.patch(path, token=b, json={"title": "Mine now"}), 404, "record_not_found")
    problem(world.api.request("DELETE", path, token=b), 404, "record_not_found")
    problem(world.api.get(attached["url"], token=b), 404, "record_not_found")
    problem(world.api.request("DELETE", attached["url"], token=b), 404, "record_not_found")
    problem(attach(world.api, world.patient_b, created["id"], PDF), 404, "record_not_found")

    assert stored_keys(world) == keys
    assert ok(world.api.get(path, token=world.patient_a.token)) == {
        **created,
        "attachments": [attached],
    }
    assert_served(world.api, attached["url"], world.patient_a.token, PNG, "image/png")


@pytest.mark.parametrize("account", ["doctor", "admin"])
def test_doctors_and_admins_are_403_on_every_record_route(world: World, account: str) -> None:
    created = made(world)
    attached = ok(attach(world.api, world.patient_a, created["id"], PNG), 201)
    path = record_path(created["id"])
    keys = stored_keys(world)
    token = getattr(world, account).token

    for result in (
        world.api.post("/v1/records", token=token, json=BODY),
        world.api.get("/v1/records", token=token),
        world.api.get(path, token=token),
        world.api.patch(path, token=token, json={"title": "Changed"}),
        world.api.request("DELETE", path, token=token),
        world.api.get(attached["url"], token=token),
        world.api.request("DELETE", attached["url"], token=token),
        world.api.upload(f"{path}/attachments", PDF, "application/pdf", token=token),
    ):
        problem(result, 403, "forbidden")

    assert stored_keys(world) == keys
    assert ok(world.api.get(path, token=world.patient_a.token)) == {
        **created,
        "attachments": [attached],
    }


def test_anonymous_calls_are_401(world: World) -> None:
    created = made(world)
    attached = ok(attach(world.api, world.patient_a, created["id"], PNG), 201)
    path = record_path(created["id"])
    keys = stored_keys(world)

    for result in (
        world.api.post("/v1/records", json=BODY),
        world.api.get("/v1/records"),
        world.api.get(path),
        world.api.patch(path, json={"title": "x"}),
        world.api.request("DELETE", path),
        world.api.get(attached["url"]),
        world.api.request("DELETE", attached["url"]),
        world.api.upload(f"{path}/attachments", PNG, "image/png"),
    ):
        problem(result, 401, "unauthenticated")
    assert stored_keys(world) == keys


# --- attachments ---------------------------------------------------------------------------------


def test_a_png_and_a_pdf_are_attached_and_served_to_the_patient(world: World) -> None:
    created = made(world)
    rid = created["id"]
    world.clock.advance(STEP)

    png = ok(attach(world.api, world.patient_a, rid, PNG), 201)
    pdf = ok(
        attach(
            world.api,
            world.patient_a,
            rid,
            PDF,
            "application/pdf",
            headers={"X-Filename": "discharge-letter.pdf"},
        ),
        201,
    )

    assert png == {
        "id": png["id"],
        "url": f"/v1/records/{rid}/attachments/{png['id']}",
        "content_type": "image/png",
        "size": len(PNG),
        "filename": None,
        "added_at": png["added_at"],
    }
    assert pdf == {
        "id": pdf["id"],
        "url": f"/v1/records/{rid}/attachments/{pdf['id']}",
        "content_type": "application/pdf",
        "size": len(PDF),
        "filename": "discharge-letter.pdf",
        "added_at": pdf["added_at"],
    }
    assert stamp(png["added_at"]) == stamp(pdf["added_at"]) == NOW + STEP
    assert png["id"] != pdf["id"]
    again = ok(world.api.get(record_path(rid), token=world.patient_a.token))
    assert again["attachments"] == [png, pdf]
    assert ok(world.api.get("/v1/records", token=world.patient_a.token))[0]["attachments"] == [
        png,
        pdf,
    ]
    assert_served(world.api, png["url"], world.patient_a.token, PNG, "image/png")
    assert_served(world.api, pdf["url"], world.patient_a.token, PDF, "application/pdf")
    keys = stored_keys(world)
    assert len(keys) == 2
    assert all(k.startswith("records/2026/11/") for k in keys), keys
    assert {k.rsplit(".", 1)[1] for k in keys} == {"png", "pdf"}


@pytest.mark.parametrize("content_type", list(FILES))
def test_the_type_is_read_from_the_bytes(world: World, content_type: str) -> None:
    rid = made(world)["id"]
    data = FILES[content_type]

    # The client claims something else each time: the bytes decide.
    attached = ok(attach(world.api, world.patient_a, rid, data, "application/octet-stream"), 201)

    assert (attached["content_type"], attached["size"]) == (content_type, len(data))
    assert_served(world.api, attached["url"], world.patient_a.token, data, content_type)


def test_a_jpeg_sent_as_a_png_is_a_jpeg(world: World) -> None:
    rid = made(world)["id"]

    attached = ok(attach(world.api, world.patient_a, rid, JPEG, "image/png"), 201)

    assert attached["content_type"] == "image/jpeg"
    [key] = stored_keys(world)
    assert key.endswith(".jpg")


def test_the_file_name_from_content_disposition_is_kept(world: World) -> None:
    rid = made(world)["id"]
    headers = {"Content-Disposition": 'attachment; filename="x-ray.webp"'}

    attached = ok(attach(world.api, world.patient_a, rid, WEBP, "image/webp", headers=headers), 201)

    assert attached["filename"] == "x-ray.webp"
    [key] = stored_keys(world)
    assert "x-ray" not in key


@pytest.mark.parametrize(
    "data",
    [
        b"just some text\n",
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    ],
    ids=["text", "html", "svg"],
)
@pytest.mark.parametrize("claimed", ["text/plain", "image/png", "application/pdf"])
def test_a_file_of_no_accepted_type_is_415_and_nothing_is_stored(
    world: World, data: bytes, claimed: str
) -> None:
    rid = made(world)["id"]

    problem(attach(world.api, world.patient_a, rid, data, claimed), 415, "unsupported_type")

    assert stored_keys(world) == []
    assert ok(world.api.get(record_path(rid), token=world.patient_a.token))["attachments"] == []


@pytest.mark.parametrize(
    "data", [padded_pdf(MAX_UPLOAD_BYTES + 1), PNG + bytes(MAX_UPLOAD_BYTES)], ids=["pdf", "png"]
)
def test_a_file_over_the_limit_is_413_and_nothing_is_stored(world: World, data: bytes) -> None:
    rid = made(world)["id"]

    problem(attach(world.api, world.patient_a, rid, data), 413, "too_large")

    assert stored_keys(world) == []
    assert ok(world.api.get(record_path(rid), token=world.patient_a.token))["attachments"] == []


def test_a_file_of_exactly_the_limit_is_attached(world: World) -> None:
    rid = made(world)["id"]
    data = padded_pdf(MAX_UPLOAD_BYTES)

    attached = ok(attach(world.api, world.patient_a, rid, data, "application/pdf"), 201)

    assert attached["size"] == MAX_UPLOAD_BYTES
    assert_served(world.api, attached["url"], world.patient_a.token, data, "application/pdf")


def test_an_empty_file_is_422(world: World) -> None:
    rid = made(world)["id"]
    problem(attach(world.api, world.patient_a, rid, b""), 422, fields={"file"})
    assert stored_keys(world) == []


def test_the_21st_attachment_is_409_and_its_file_is_not_kept(world: World) -> None:
    rid = made(world)["id"]
    other = made(world, title="Other visit")["id"]
    attached = [
        ok(attach(world.api, world.patient_a, rid, GIF, "image/gif"), 201)["id"]
        for _ in range(MAX_ATTACHMENTS)
    ]
    keys = stored_keys(world)
    assert len(keys) == MAX_ATTACHMENTS

    result = attach(world.api, world.patient_a, rid, PDF, "application/pdf")

    problem(result, 409, "too_many_attachments")
    assert stored_keys(world) == keys
    assert not any(k.endswith(".pdf") for k in stored_keys(world))
    found = ok(world.api.get(record_path(rid), token=world.patient_a.token))["attachments"]
    assert [a["id"] for a in found] == attached
    # The limit is per record; and one deletion makes room again.
    ok(attach(world.api, world.patient_a, other, PDF, "application/pdf"), 201)
    gone = world.api.request(
        "DELETE", f"/v1/records/{rid}/attachments/{attached[0]}", token=world.patient_a.token
    )
    assert gone.status_code == 204
    ok(attach(world.api, world.patient_a, rid, PDF, "application/pdf"), 201)


def test_an_attachment_of_another_record_is_404_in_the_path(world: World) -> None:
    first = made(world)["id"]
    second = made(world, title="Second")["id"]
    theirs = made(world, "patient_b")["id"]
    attached = ok(attach(world.api, world.patient_a, first, PNG), 201)
    b_attached = ok(attach(world.api, world.patient_b, theirs, PDF, "application/pdf"), 201)
    keys = stored_keys(world)

    for record_id, attachment_id, who in (
        (second, attached["id"], world.patient_a),  # mine, of my other record
        (first, b_attached["id"], world.patient_a),  # B's attachment through my record
        (theirs, attached["id"], world.patient_b),  # my attachment through B's record
        (first, 999999, world.patient_a),
    ):
        path = f"/v1/records/{record_id}/attachments/{attachment_id}"
        problem(world.api.get(path, token=who.token), 404, "attachment_not_found")
        problem(world.api.request("DELETE", path, token=who.token), 404, "attachment_not_found")

    assert stored_keys(world) == keys
    assert_served(world.api, attached["url"], world.patient_a.token, PNG, "image/png")
    assert_served(world.api, b_attached["url"], world.patient_b.token, PDF, "application/pdf")


def test_a_deleted_attachment_is_gone_with_its_file(world: World) -> None:
    rid = made(world)["id"]
    png = ok(attach(world.api, world.patient_a, rid, PNG), 201)
    pdf = ok(attach(world.api, world.patient_a, rid, PDF, "application/pdf"), 201)
    [png_key] = [k for k in stored_keys(world) if k.endswith(".png")]
    [pdf_key] = [k for k in stored_keys(world) if k.endswith(".pdf")]

    result = world.api.request("DELETE", png["url"], token=world.patient_a.token)

    assert result.status_code == 204 and result.content == b""
    assert stored_keys(world) == [pdf_key]
    assert png_key not in stored_keys(world)
    problem(world.api.get(png["url"], token=world.patient_a.token), 404, "attachment_not_found")
    problem(world.api.request("DELETE", png["url"], token=world.patient_a.token), 404)
    found = ok(world.api.get(record_path(rid), token=world.patient_a.token))
    assert found["attachments"] == [pdf]
    assert_served(world.api, pdf["url"], world.patient_a.token, PDF, "application/pdf")


def test_a_deleted_record_takes_its_files_with_it(world: World) -> None:
    doomed = made(world)["id"]
    kept = made(world, title="Kept")["id"]
    for data, content_type in ((PNG, "image/png"), (PDF, "application/pdf"), (GIF, "image/gif")):
        ok(attach(world.api, world.patient_a, doomed, data, content_type), 201)
    survivor = ok(attach(world.api, world.patient_a, kept, JPEG, "image/jpeg"), 201)
    b_record = made(world, "patient_b")["id"]
    b_file = ok(attach(world.api, world.patient_b, b_record, WEBP, "image/webp"), 201)
    assert len(stored_keys(world)) == 5

    result = world.api.request("DELETE", record_path(doomed), token=world.patient_a.token)

    assert result.status_code == 204
    assert len(stored_keys(world)) == 2
    assert {k.rsplit(".", 1)[1] for k in stored_keys(world)} == {"jpg", "webp"}
    assert_served(world.api, survivor["url"], world.patient_a.token, JPEG, "image/jpeg")
    assert_served(world.api, b_file["url"], world.patient_b.token, WEBP, "image/webp")


# --- attachments are never public ----------------------------------------------------------------


def test_an_attachment_is_never_served_as_a_public_file(world: World) -> None:
    rid = made(world)["id"]
    attached = ok(attach(world.api, world.patient_a, rid, PDF, "application/pdf"), 201)
    [key] = stored_keys(world)
    assert key.startswith("records/")

    problem(world.api.get(f"/files/{key}"), 404, "object_not_found")
    problem(world.api.get(f"/files/{key}", token=world.patient_a.token), 404, "object_not_found")
    for sneaky in (f"avatars/../{key}", f"avatars/%2e%2e/{key}", f"avatars/..%2f{key}"):
        result = world.api.get(f"/files/{sneaky}")
        assert result.status_code in (404, 422), (sneaky, result.status)
        assert PDF not in result.content
    assert "/files/" not in attached["url"]


@pytest.fixture
def disk(tmp_path: Path, clock: ManualClock, openapi_document: dict[str, Any]) -> tuple[Api, Path]:
    """An app storing files on local disk under ``tmp_path/files``."""
    storage = LocalStorage(tmp_path / "files", "")
    services = in_memory(
        clock, hasher=fast_hasher(), storage=storage, max_upload_bytes=MAX_UPLOAD_BYTES
    )
    return Api(falcon.testing.TestClient(create_app(services)), openapi_document), tmp_path


def _patient_on(api: Api, phone: str = "13800000008") -> Account:
    body = {"phone": phone, "name": "Storage User", "password": PASSWORD}
    created = ok(api.post("/v1/patients", json=body), 201)
    login = {"phone": phone, "password": PASSWORD, "role": "patient"}
    token = ok(api.post("/v1/sessions", json=login))["token"]
    return Account(created["id"], phone, body["name"], token)


def _disk_keys(root: Path) -> list[str]:
    files = root / "files"
    return sorted(
        p.relative_to(files).as_posix()
        for p in files.rglob("*")
        if p.is_file() and not p.name.endswith(".meta.json")
    )


def test_on_local_disk_an_attachment_is_private_and_deleted_with_its_record(
    disk: tuple[Api, Path],
) -> None:
    api, root = disk
    patient = _patient_on(api)
    other = _patient_on(api, "13800000009")
    rid = ok(create(api, patient), 201)["id"]

    attached = ok(
        attach(api, patient, rid, PDF, "application/pdf", headers={"X-Filename": "scan.pdf"}),
        201,
    )

    assert attached["filename"] == "scan.pdf"
    [key] = _disk_keys(root)
    assert key.startswith("records/2026/11/") and key.endswith(".pdf")
    assert (root / "files" / key).read_bytes() == PDF
    assert_served(api, attached["url"], patient.token, PDF, "application/pdf")
    problem(api.get(f"/files/{key}"), 404, "object_not_found")
    problem(api.get(f"/files/{key}", token=patient.token), 404, "object_not_found")
    problem(api.get(attached["url"], token=other.token), 404, "record_not_found")

    second = ok(attach(api, patient, rid, PNG), 201)
    assert len(_disk_keys(root)) == 2
    assert api.request("DELETE", second["url"], token=patient.token).status_code == 204
    assert _disk_keys(root) == [key]
    assert api.request("DELETE", record_path(rid), token=patient.token).status_code == 204
    assert _disk_keys(root) == []


def test_on_s3_an_attachment_is_private_and_deleted_with_its_record(
    s3_server: Any, s3_admin: Any, s3_prefix: str, openapi_document: dict[str, Any]
) -> None:
    storage = S3Storage(
        s3_server.bucket,
        endpoint_url=s3_server.endpoint,
        region=s3_server.region,
        prefix=s3_prefix,
    )
    services = in_memory(
        ManualClock(NOW), hasher=fast_hasher(), storage=storage, max_upload_bytes=MAX_UPLOAD_BYTES
    )
    api = Api(falcon.testing.TestClient(create_app(services)), openapi_document)

    def bucket_keys() -> list[str]:
        listed = s3_admin.list_objects_v2(Bucket=s3_server.bucket, Prefix=s3_prefix + "/")
        return sorted(o["Key"].removeprefix(s3_prefix + "/") for o in listed.get("Contents", []))

    patient = _patient_on(api)
    rid = ok(create(api, patient), 201)["id"]

    attached = ok(
        attach(api, patient, rid, PDF, "application/pdf", headers={"X-Filename": "scan.pdf"}),
        201,
    )

    assert attached["filename"] == "scan.pdf"
    [key] = bucket_keys()
    assert key.startswith("records/2026/11/") and key.endswith(".pdf")
    acl = s3_admin.get_object_acl(Bucket=s3_server.bucket, Key=f"{s3_prefix}/{key}")
    assert [g["Grantee"].get("URI") for g in acl["Grants"]] == [None]  # the owner alone
    assert_served(api, attached["url"], patient.token, PDF, "application/pdf")
    problem(api.get(f"/files/{key}"), 404, "object_not_found")
    problem(api.get(f"/files/{key}", token=patient.token), 404, "object_not_found")

    second = ok(attach(api, patient, rid, PNG), 201)
    assert len(bucket_keys()) == 2
    assert api.request("DELETE", second["url"], token=patient.token).status_code == 204
    assert bucket_keys() == [key]
    assert api.request("DELETE", record_path(rid), token=patient.token).status_code == 204
    assert bucket_keys() == []


# --- on SQLite and MariaDB -----------------------------------------------------------------------


def test_the_record_flow_on_sql(sql_world: World) -> None:
    world = sql_world
    # The longest texts, four-byte characters included: utf8mb4 columns count characters.
    title = " 复查 " + "😀" * 197 + " "
    notes = "第一行\n" + "😀" * 500 + "n" * 4496  # within the test app's 16 KiB JSON bodies
    hospital = "瑞金医院" + "院" * 196
    created = made(world, title=title, notes=notes, hospital_name=hospital)
    rid = created["id"]
    assert (created["title"], created["notes"], created["hospital_name"]) == (
        title.strip(),
        notes,
        hospital,
    )
    assert (len(created["title"]), len(created["notes"]), len(created["hospital_name"])) == (
        200,
        5000,
        200,
    )
    assert ok(world.api.get(record_path(rid), token=world.patient_a.token)) == created
    # A PATCH with one bad field changes nothing, on a real database too.
    bad = {"title": "Changed", "notes": "n" * 5001}
    problem(world.api.patch(record_path(rid), token=world.patient_a.token, json=bad), 422)
    assert ok(world.api.get(record_path(rid), token=world.patient_a.token)) == created
    older = made(world, visit_date="2020-02-29")
    made(world, "patient_b")

    world.clock.advance(STEP)
    png = ok(attach(world.api, world.patient_a, rid, PNG), 201)
    pdf = ok(
        attach(
            world.api,
            world.patient_a,
            rid,
            PDF,
            "application/pdf",
            headers={"X-Filename": "report.pdf"},
        ),
        201,
    )
    assert (png["content_type"], pdf["content_type"], pdf["filename"]) == (
        "image/png",
        "application/pdf",
        "report.pdf",
    )
    assert_served(world.api, pdf["url"], world.patient_a.token, PDF, "application/pdf")
    problem(world.api.get(pdf["url"], token=world.patient_b.token), 404, "record_not_found")
    problem(world.api.get(pdf["url"], token=world.doctor.token), 403, "forbidden")
    problem(
        world.api.get(
            f"/v1/records/{older['id']}/attachments/{pdf['id']}", token=world.patient_a.token
        ),
        404,
        "attachment_not_found",
    )
    assert len(stored_keys(world)) == 2

    edited = ok(
        world.api.patch(
            record_path(rid),
            token=world.patient_a.token,
            json={"hospital_name": "华山医院", "visit_date": "2026-11-25"},
        )
    )
    assert (edited["hospital_name"], edited["visit_date"], edited["title"]) == (
        "华山医院",
        "2026-11-25",
        title.strip(),
    )
    assert stamp(edited["updated_at"]) == NOW + STEP and stamp(edited["created_at"]) == NOW
    assert edited["attachments"] == [png, pdf]
    listed = ok(world.api.get("/v1/records", token=world.patient_a.token))
    assert listed == [edited, older]

    assert world.api.request("DELETE", png["url"], token=world.patient_a.token).status_code == 204
    [left] = stored_keys(world)
    assert left.endswith(".pdf")
    assert ok(world.api.get(record_path(rid), token=world.patient_a.token))["attachments"] == [pdf]
    problem(world.api.get(f"/files/{left}"), 404, "object_not_found")

    assert (
        world.api.request("DELETE", record_path(rid), token=world.patient_a.token).status_code
        == 204
    )
    assert stored_keys(world) == []
    problem(world.api.get(record_path(rid), token=world.patient_a.token), 404, "record_not_found")
    assert ok(world.api.get("/v1/records", token=world.patient_a.token)) == [older]


def test_the_21st_attachment_is_409_on_sql(sql_world: World) -> None:
    world = sql_world
    rid = made(world)["id"]
    for _ in range(MAX_ATTACHMENTS):
        ok(attach(world.api, world.patient_a, rid, GIF, "image/gif"), 201)
    keys = stored_keys(world)

    problem(
        attach(world.api, world.patient_a, rid, PDF, "application/pdf"), 409, "too_many_attachments"
    )

    assert stored_keys(world) == keys
    assert (
        world.api.request("DELETE", record_path(rid), token=world.patient_a.token).status_code
        == 204
    )
    assert stored_keys(world) == []


def test_the_list_carries_each_records_own_attachments(world: World) -> None:
    first = made(world, visit_date="2026-01-01")["id"]
    second = made(world, visit_date="2026-02-01")["id"]
    bare = made(world, visit_date="2025-01-01")["id"]
    a1 = ok(attach(world.api, world.patient_a, first, PNG), 201)
    b1 = ok(attach(world.api, world.patient_a, second, PDF, "application/pdf"), 201)
    a2 = ok(attach(world.api, world.patient_a, first, GIF, "image/gif"), 201)

    listed = ok(world.api.get("/v1/records", token=world.patient_a.token))

    assert [(r["id"], r["attachments"]) for r in listed] == [
        (second, [b1]),
        (first, [a1, a2]),
        (bare, []),
    ]


def test_an_attachment_whose_file_is_missing_is_404_not_500(world: World) -> None:
    rid = made(world)["id"]
    attached = ok(attach(world.api, world.patient_a, rid, PNG), 201)
    [key] = stored_keys(world)
    world.services.uploads.storage.delete(key)

    problem(world.api.get(attached["url"], token=world.patient_a.token), 404, "object_not_found")
    # Deleting it still works: the row goes, the missing file is no error.
    result = world.api.request("DELETE", attached["url"], token=world.patient_a.token)
    assert result.status_code == 204


# --- races on the real databases -----------------------------------------------------------------

RACERS = 12


@pytest.fixture
def racing_world(engine_factory: Callable[..., Engine], openapi_document: dict[str, Any]) -> World:
    return pooled_world(engine_factory, openapi_document, RACERS)


def test_concurrent_attachments_stop_at_20_and_leave_no_stray_file(racing_world: World) -> None:
    world = racing_world
    rid = made(world)["id"]
    for _ in range(15):
        ok(attach(world.api, world.patient_a, rid, GIF, "image/gif"), 201)

    outcomes = race(RACERS, lambda i: attach(world.api, world.patient_a, rid, PNG))

    assert outcomes == {"201": 5, "409 too_many_attachments": RACERS - 5}
    found = ok(world.api.get(record_path(rid), token=world.patient_a.token))["attachments"]
    assert len(found) == MAX_ATTACHMENTS
    assert len(stored_keys(world)) == MAX_ATTACHMENTS


def test_a_record_deleted_while_files_are_attached_leaves_no_file(racing_world: World) -> None:
    world = racing_world
    rid = made(world)["id"]
    kept = made(world, title="Kept")["id"]
    survivor = ok(attach(world.api, world.patient_a, kept, PDF, "application/pdf"), 201)
    ok(attach(world.api, world.patient_a, rid, GIF, "image/gif"), 201)
    [survivor_key] = [k for k in stored_keys(world) if k.endswith(".pdf")]

    def delete_or_attach(i: int) -> falcon.testing.Result:
        if i == 0:
            return world.api.request("DELETE", record_path(rid), token=world.patient_a.token)
        return attach(world.api, world.patient_a, rid, PNG)

    outcomes = race(RACERS, delete_or_attach)

    assert outcomes["204"] == 1, outcomes
    assert outcomes["201"] + outcomes["404 record_not_found"] == RACERS - 1, outcomes
    problem(world.api.get(record_path(rid), token=world.patient_a.token), 404)
    assert stored_keys(world) == [survivor_key]
    assert_served(world.api, survivor["url"], world.patient_a.token, PDF, "application/pdf")


def test_concurrent_deletes_of_one_attachment_delete_it_once(racing_world: World) -> None:
    world = racing_world
    rid = made(world)["id"]
    attached = ok(attach(world.api, world.patient_a, rid, PNG), 201)

    outcomes = race(
        RACERS,
        lambda i: world.api.request("DELETE", attached["url"], token=world.patient_a.token),
    )

    assert outcomes == {"204": 1, "404 attachment_not_found": RACERS - 1}
    assert stored_keys(world) == []


def test_a_file_name_with_control_characters_is_kept_printable(world: World) -> None:
    """Found by the tests' review: a tab or DEL in the client's file name came back as it was."""
    rid = made(world)["id"]
    headers = {"X-Filename": "scan\tone\x7f.png"}
    attached = ok(attach(world.api, world.patient_a, rid, PNG, headers=headers), 201)
    assert attached["filename"] == "scan_one_.png"


@pytest.mark.parametrize("body", [{}, {"title": None}, {"notes": None, "visit_date": None}])
def test_a_patch_that_changes_nothing_leaves_updated_at(world: World, body: dict[str, Any]) -> None:
    """Found by the tests' review: an empty PATCH moved ``updated_at`` though nothing changed."""
    record = made(world)
    world.clock.advance(dt.timedelta(minutes=10))
    after = ok(world.api.patch(record_path(record["id"]), token=world.patient_a.token, json=body))
    assert after["updated_at"] == record["updated_at"]
