"""Record shares over HTTP: a patient shares chosen records (or all of them) under a code of 256
random bits, handed over as a QR image (decoded here by the real ``zbarimg``), until it expires
(on the controlled clock) or is revoked; a verified doctor holding the code reads exactly the
shared records and their attachments, each reading written to the patient's access log, the
patient told once; failed tries are rate-limited per doctor. The code is never stored in clear
(read straight from the ``record_shares`` table on SQLite and MariaDB).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import shutil
import subprocess
import types
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from gunicorn.config import Config  # type: ignore[import-untyped]
from gunicorn.glogging import Logger  # type: ignore[import-untyped]
from http_support import (
    MAX_BODY_BYTES,
    NOW,
    PDF,
    PNG,
    Account,
    Api,
    World,
    build_world,
    fast_hasher,
    ok,
    problem,
)
from sqlalchemy import Engine, select

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql.records import record_shares, share_records
from medbook.bootstrap import in_memory
from medbook.entrypoints.http import server
from medbook.entrypoints.http.app import create_app

DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)
CODE = re.compile(r"[A-Za-z0-9_-]{43}")
RECORD = {
    "hospital_name": "Ruijin Hospital",
    "visit_date": "2026-11-20",
    "title": "Cardiology follow-up",
    "notes": "Blood pressure 135/85.",
}
#: A code of the right shape that no share has (the odds of a clash are 2**-256).
UNKNOWN_CODE = "A" * 43
MALFORMED_CODES = ("short", "A" * 42, "A" * 44, "A" * 42 + "!")

# --- helpers -------------------------------------------------------------------------------------


def stamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def new_record(world: World, who: Account | None = None, **changes: Any) -> dict[str, Any]:
    who = who or world.patient_a
    return ok(world.api.post("/v1/records", token=who.token, json={**RECORD, **changes}), 201)  # type: ignore[no-any-return]


def attach(world: World, record_id: int, data: bytes, who: Account | None = None) -> dict[str, Any]:
    who = who or world.patient_a
    ctype = "application/pdf" if data.startswith(b"%PDF") else "image/png"
    return ok(  # type: ignore[no-any-return]
        world.api.upload(f"/v1/records/{record_id}/attachments", data, ctype, token=who.token), 201
    )


def post_share(world: World, body: dict[str, Any], who: Account | None = None) -> Any:
    who = who or world.patient_a
    return world.api.post("/v1/record-shares", token=who.token, json=body)


def share(world: World, who: Account | None = None, **body: Any) -> dict[str, Any]:
    return ok(post_share(world, body, who), 201)  # type: ignore[no-any-return]


def open_share(world: World, code: str, who: Account | None = None) -> falcon.testing.Result:
    return world.api.get(f"/v1/shared-records/{code}", token=(who or world.doctor).token)


def revoke(world: World, code: str, who: Account | None = None) -> falcon.testing.Result:
    return world.api.request(
        "DELETE", f"/v1/record-shares/{code}", token=(who or world.patient_a).token
    )


def access_log(world: World, who: Account | None = None) -> list[dict[str, Any]]:
    return ok(world.api.get("/v1/records/access-log", token=(who or world.patient_a).token))  # type: ignore[no-any-return]


def share_notifications(world: World, who: Account | None = None) -> list[dict[str, Any]]:
    found = ok(world.api.get("/v1/notifications", token=(who or world.patient_a).token))
    return [n for n in found if n["kind"] == "record_share_opened"]


def relogin(world: World) -> None:
    """Fresh tokens after the clock moved past their hour."""
    for account in (world.doctor, world.paediatrician):
        account.token = world.login(account.phone, "doctor")
    for account in (world.admin,):
        account.token = world.login(account.phone, "admin")
    for account in (world.patient_a, world.patient_b):
        account.token = world.login(account.phone, "patient")


def zbar_decode(png: bytes, tmp_path: Path) -> str:
    """The text of the QR code in ``png``, read by zbar's own decoder (not the encoder's)."""
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        pytest.fail(
            "zbarimg is missing: install zbar-tools (apt-get install zbar-tools) to decode the "
            "share QR codes",
            pytrace=False,
        )
    image = tmp_path / "share.png"
    image.write_bytes(png)
    done = subprocess.run(
        [zbarimg, "-q", "--raw", str(image)], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"zbarimg found no QR code (exit {done.returncode})"
    return done.stdout.decode("utf-8").rstrip("\n")


def shares_in_db(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(record_shares))]


# --- creating a share ----------------------------------------------------------------------------


def test_a_share_of_chosen_records(world: World) -> None:
    first, second = new_record(world)["id"], new_record(world)["id"]
    made = share(world, record_ids=[second, first])

    code = made["code"]
    assert CODE.fullmatch(code), code
    assert made == {
        "id": made["id"],
        "code": code,
        "url": f"/v1/shared-records/{code}",
        "qr_url": f"/v1/record-shares/{code}/qr.png",
        "all_records": False,
        "record_ids": sorted([first, second]),
        "expires_at": made["expires_at"],
    }
    assert isinstance(made["id"], int) and made["id"] >= 1
    assert stamp(made["expires_at"]) == NOW + DAY
    # Two shares of the same records have different codes.
    assert share(world, record_ids=[first])["code"] != code


def test_a_share_of_all_records(world: World) -> None:
    new_record(world)
    made = share(world, all=True)
    assert made["all_records"] is True
    assert made["record_ids"] == []
    assert made["url"] == f"/v1/shared-records/{made['code']}"
    assert stamp(made["expires_at"]) == NOW + DAY
    # A patient with no record yet may share all of them (those to come).
    assert share(world, world.patient_b, all=True)["all_records"] is True


@pytest.mark.parametrize("minutes", [1, 43200])
def test_the_bounds_of_expires_in_minutes_are_taken(world: World, minutes: int) -> None:
    rid = new_record(world)["id"]
    made = share(world, record_ids=[rid], expires_in_minutes=minutes)
    assert stamp(made["expires_at"]) == NOW + dt.timedelta(minutes=minutes)


def stored_shares(world: World) -> int:
    """How many shares the (in-memory) store holds."""
    with world.services.health.new_uow() as uow:
        return len(uow.shares.rows)  # type: ignore[attr-defined]


def assert_nothing_shared(world: World, rid: int) -> None:
    assert stored_shares(world) == 0
    share(world, record_ids=[rid])
    assert stored_shares(world) == 1  # the count is real: a share made is counted


@pytest.mark.parametrize("minutes", [0, 43201, -1, 1.5, "60", True])
def test_an_expiry_out_of_bounds_is_422_and_no_share_is_made(world: World, minutes: Any) -> None:
    rid = new_record(world)["id"]
    result = post_share(world, {"record_ids": [rid], "expires_in_minutes": minutes})
    problem(result, 422, fields={"expires_in_minutes"})
    assert_nothing_shared(world, rid)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"all": True, "record_ids": "mine"}, "all"),
        ({}, "record_ids"),
        ({"all": False}, "record_ids"),
        ({"record_ids": None, "all": False}, "record_ids"),
        ({"record_ids": []}, "record_ids"),
        ({"record_ids": list(range(1, 102))}, "record_ids"),
    ],
)
def test_records_or_all_exactly_one_of_the_two_else_422(
    world: World, body: dict[str, Any], field: str
) -> None:
    rid = new_record(world)["id"]
    if body.get("record_ids") == "mine":
        body = {**body, "record_ids": [rid]}
    problem(post_share(world, body), 422, fields={field})
    assert_nothing_shared(world, rid)


def test_another_patients_record_or_an_unknown_one_is_404_and_nothing_is_shared(
    world: World,
) -> None:
    mine = new_record(world)["id"]
    theirs = new_record(world, world.patient_b)["id"]
    before = len(ok(world.api.get("/v1/records", token=world.patient_a.token)))

    problem(post_share(world, {"record_ids": [mine, theirs]}), 404, "record_not_found")
    problem(post_share(world, {"record_ids": [theirs]}), 404, "record_not_found")
    problem(post_share(world, {"record_ids": [mine, 999_999]}), 404, "record_not_found")

    assert_nothing_shared(world, mine)
    assert len(ok(world.api.get("/v1/records", token=world.patient_a.token))) == before


@pytest.mark.parametrize("who", ["doctor", "admin"])
def test_doctors_and_admins_cannot_share(world: World, who: str) -> None:
    rid = new_record(world)["id"]
    account = getattr(world, who)
    problem(post_share(world, {"record_ids": [rid]}, account), 403, "forbidden")
    problem(post_share(world, {"all": True}, account), 403, "forbidden")


def test_sharing_needs_a_login(world: World) -> None:
    result = world.api.post("/v1/record-shares", json={"all": True})
    problem(result, 401)


# --- the code is never stored in clear (SQLite and MariaDB) ---------------------------------------


def test_the_code_is_stored_only_as_its_sha256(sql_world: World, engine: Engine) -> None:
    world = sql_world
    first, second = new_record(world)["id"], new_record(world)["id"]
    chosen = share(world, record_ids=[second, first], expires_in_minutes=90)
    everything = share(world, all=True)

    rows = {row["id"]: row for row in shares_in_db(engine)}
    assert set(rows) == {chosen["id"], everything["id"]}
    for made in (chosen, everything):
        row = rows[made["id"]]
        code = made["code"]
        assert row["code_hash"] == hashlib.sha256(code.encode("ascii")).hexdigest()
        for column, value in row.items():
            assert code not in str(value), f"record_shares.{column} holds the code"
            assert code.encode() not in (value if isinstance(value, bytes) else b""), column
        assert row["patient_id"] == world.patient_a.id
        assert row["expires_at"] is not None
    assert rows[chosen["id"]]["all_records"] in (False, 0)
    assert rows[everything["id"]]["all_records"] in (True, 1)
    with engine.connect() as connection:
        linked = connection.execute(
            select(share_records.c.share_id, share_records.c.record_id)
        ).all()
    assert sorted(tuple(r) for r in linked) == sorted(
        [(chosen["id"], first), (chosen["id"], second)]
    )
    # And the stored hash is what opens it.
    opened = ok(open_share(world, chosen["code"]))
    assert sorted(r["id"] for r in opened["records"]) == sorted([first, second])


def test_the_share_flow_on_sql(sql_world: World, engine: Engine) -> None:
    world = sql_world
    shared = new_record(world, title="Shared visit")
    other = new_record(world, title="Private visit")
    scan = attach(world, shared["id"], PDF)
    hidden = attach(world, other["id"], PNG)
    made = share(world, record_ids=[shared["id"]])
    code = made["code"]

    for _ in range(3):
        opened = ok(open_share(world, code))
        assert [r["id"] for r in opened["records"]] == [shared["id"]]
    [attachment] = opened["records"][0]["attachments"]
    assert attachment["url"] == f"/v1/shared-records/{code}/attachments/{scan['id']}"
    served = world.api.get(attachment["url"], token=world.doctor.token)
    assert served.status_code == 200 and served.content == PDF
    problem(
        world.api.get(
            f"/v1/shared-records/{code}/attachments/{hidden['id']}", token=world.doctor.token
        ),
        404,
    )
    kinds = [e["kind"] for e in access_log(world)]
    assert kinds == ["shared_file", "share", "share", "share"]
    assert len(share_notifications(world)) == 1
    assert shares_in_db(engine)[0]["first_opened_at"] is not None

    # Deleting the shared record takes it out of the share (a foreign key would refuse it else).
    assert (
        world.api.request(
            "DELETE", f"/v1/records/{shared['id']}", token=world.patient_a.token
        ).status_code
        == 204
    )
    assert ok(open_share(world, code))["records"] == []

    assert revoke(world, code).status_code == 204
    problem(open_share(world, code), 404, "share_not_found")
    assert revoke(world, code).status_code == 204
    assert shares_in_db(engine)[0]["revoked_at"] is not None

    # Expiry on a real database: open to the last microsecond, shut at expires_at.
    brief = share(world, all=True, expires_in_minutes=1)
    world.clock.set(stamp(brief["expires_at"]) - dt.timedelta(microseconds=1))
    ok(open_share(world, brief["code"]))
    world.clock.set(stamp(brief["expires_at"]))
    problem(open_share(world, brief["code"]), 404, "share_not_found")


# --- the QR image --------------------------------------------------------------------------------


def test_the_qr_image_encodes_the_share_url(world: World, tmp_path: Path) -> None:
    rid = new_record(world)["id"]
    made = share(world, record_ids=[rid])

    result = world.api.get(made["qr_url"], token=world.patient_a.token)
    assert result.status_code == 200, result.text
    assert result.headers["content-type"] == "image/png"
    assert result.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert int(result.headers["content-length"]) == len(result.content)
    assert zbar_decode(result.content, tmp_path) == made["url"]


def test_with_a_public_url_the_qr_holds_the_absolute_share_url(
    clock: ManualClock, openapi_document: dict[str, Any], tmp_path: Path
) -> None:
    base = "https://medbook.example.cn"
    services = in_memory(clock, hasher=fast_hasher(), public_url=base)
    api = Api(
        falcon.testing.TestClient(create_app(services, max_body_bytes=MAX_BODY_BYTES)),
        openapi_document,
    )
    world = build_world(services, api, clock)
    rid = new_record(world)["id"]
    made = share(world, record_ids=[rid])
    code = made["code"]
    assert made["url"] == f"{base}/v1/shared-records/{code}"
    assert made["qr_url"] == f"{base}/v1/record-shares/{code}/qr.png"

    png = world.api.get(f"/v1/record-shares/{code}/qr.png", token=world.patient_a.token)
    assert png.status_code == 200
    assert zbar_decode(png.content, tmp_path) == made["url"]


def test_the_qr_image_is_for_the_sharing_patient_of_an_open_share_only(world: World) -> None:
    rid = new_record(world)["id"]
    made = share(world, record_ids=[rid])
    short = share(world, record_ids=[rid], expires_in_minutes=1)
    path = f"/v1/record-shares/{made['code']}/qr.png"

    problem(world.api.get(path, token=world.patient_b.token), 404, "share_not_found")
    problem(world.api.get(path, token=world.doctor.token), 403, "forbidden")
    problem(world.api.get(path, token=world.admin.token), 403, "forbidden")
    problem(world.api.get(path), 401)
    problem(
        world.api.get(f"/v1/record-shares/{UNKNOWN_CODE}/qr.png", token=world.patient_a.token),
        404,
        "share_not_found",
    )

    world.clock.advance(dt.timedelta(minutes=1))
    problem(
        world.api.get(f"/v1/record-shares/{short['code']}/qr.png", token=world.patient_a.token),
        404,
        "share_not_found",
    )
    assert world.api.get(path, token=world.patient_a.token).status_code == 200
    assert revoke(world, made["code"]).status_code == 204
    problem(world.api.get(path, token=world.patient_a.token), 404, "share_not_found")


# --- opening a share -----------------------------------------------------------------------------


def test_a_doctor_reads_exactly_the_shared_records(world: World) -> None:
    first = new_record(world, title="First", visit_date="2026-10-01")
    second = new_record(world, title="Second", visit_date="2026-11-01")
    private = new_record(world, title="Private")
    new_record(world, world.patient_b, title="Someone else's")
    png = attach(world, first["id"], PNG)
    pdf = attach(world, second["id"], PDF)
    attach(world, private["id"], PNG)
    made = share(world, record_ids=[first["id"], second["id"]])
    code = made["code"]

    opened = ok(open_share(world, code))
    assert opened["patient_id"] == world.patient_a.id
    assert sorted(r["id"] for r in opened["records"]) == sorted([first["id"], second["id"]])
    by_id = {r["id"]: r for r in opened["records"]}
    for record, attachment in ((first, png), (second, pdf)):
        got = by_id[record["id"]]
        for name in ("hospital_name", "visit_date", "title", "notes", "created_at", "updated_at"):
            assert got[name] == record[name], name
        [served] = got["attachments"]
        base = f"/v1/shared-records/{code}/attachments/{attachment['id']}"
        assert served == {**attachment, "url": base}
    # The shared attachments are served to the doctor, byte for byte.
    for attachment, data in ((png, PNG), (pdf, PDF)):
        served = world.api.get(
            f"/v1/shared-records/{code}/attachments/{attachment['id']}", token=world.doctor.token
        )
        assert served.status_code == 200, served.text
        assert served.content == data
        assert served.headers["content-type"] == attachment["content_type"]
        assert int(served.headers["content-length"]) == len(data)
        assert served.headers["x-content-type-options"] == "nosniff"
    # The patient's own attachment URL still is not the doctor's.
    problem(world.api.get(png["url"], token=world.doctor.token), 403)


def test_a_share_of_all_records_includes_later_ones(world: World) -> None:
    early = new_record(world, title="Before the share")
    made = share(world, all=True)
    assert [r["id"] for r in ok(open_share(world, made["code"]))["records"]] == [early["id"]]

    later = new_record(world, title="After the share", visit_date="2026-11-24")
    scan = attach(world, later["id"], PDF)
    new_record(world, world.patient_b)
    opened = ok(open_share(world, made["code"]))
    assert sorted(r["id"] for r in opened["records"]) == sorted([early["id"], later["id"]])
    served = world.api.get(
        f"/v1/shared-records/{made['code']}/attachments/{scan['id']}", token=world.doctor.token
    )
    assert served.status_code == 200 and served.content == PDF


def test_an_attachment_outside_the_share_is_404(world: World) -> None:
    shared = new_record(world)
    private = new_record(world)
    attach(world, shared["id"], PNG)
    hidden = attach(world, private["id"], PDF)
    theirs = attach(world, new_record(world, world.patient_b)["id"], PNG, world.patient_b)
    code = share(world, record_ids=[shared["id"]])["code"]
    log_before = access_log(world)

    for attachment_id in (hidden["id"], theirs["id"], 999_999):
        result = world.api.get(
            f"/v1/shared-records/{code}/attachments/{attachment_id}", token=world.doctor.token
        )
        problem(result, 404)
        assert result.content != PDF
    assert access_log(world) == log_before
    assert access_log(world, world.patient_b) == []


@pytest.mark.parametrize("who", ["patient_a", "patient_b", "admin"])
def test_only_doctors_open_shares(world: World, who: str) -> None:
    rid = new_record(world)["id"]
    attachment = attach(world, rid, PNG)
    code = share(world, record_ids=[rid])["code"]
    account = getattr(world, who)

    problem(open_share(world, code, account), 403, "forbidden")
    problem(
        world.api.get(
            f"/v1/shared-records/{code}/attachments/{attachment['id']}", token=account.token
        ),
        403,
        "forbidden",
    )
    problem(world.api.get(f"/v1/shared-records/{code}"), 401)
    assert access_log(world) == []
    assert share_notifications(world) == []


def test_an_unverified_doctor_cannot_open_a_share(world: World) -> None:
    rid = new_record(world)["id"]
    attachment = attach(world, rid, PNG)
    code = share(world, record_ids=[rid])["code"]
    newcomer = world.register_doctor("Sun Li")

    problem(open_share(world, code, newcomer), 403, "forbidden")
    problem(
        world.api.get(
            f"/v1/shared-records/{code}/attachments/{attachment['id']}", token=newcomer.token
        ),
        403,
        "forbidden",
    )
    assert access_log(world) == []
    assert share_notifications(world) == []
    # The share was not used up: a verified doctor opens it, and the patient is told then.
    ok(open_share(world, code))
    assert len(share_notifications(world)) == 1


# --- expiry --------------------------------------------------------------------------------------


def test_a_share_opens_until_the_second_it_expires(world: World) -> None:
    rid = new_record(world)["id"]
    made = share(world, record_ids=[rid])
    expires = stamp(made["expires_at"])
    assert expires == NOW + DAY

    world.clock.set(expires - SECOND)
    relogin(world)
    assert [r["id"] for r in ok(open_share(world, made["code"]))["records"]] == [rid]

    world.clock.set(expires)
    expired = problem(open_share(world, made["code"]), 404, "share_not_found")
    unknown = problem(open_share(world, UNKNOWN_CODE), 404, "share_not_found")
    assert expired == unknown
    for malformed in MALFORMED_CODES:
        assert problem(open_share(world, malformed), 404, "share_not_found") == unknown


def test_a_one_minute_share_and_its_attachment_expire_together(world: World) -> None:
    rid = new_record(world)["id"]
    attachment = attach(world, rid, PNG)
    made = share(world, record_ids=[rid], expires_in_minutes=1)
    url = f"/v1/shared-records/{made['code']}/attachments/{attachment['id']}"

    world.clock.advance(dt.timedelta(seconds=59))
    ok(open_share(world, made["code"]))
    assert world.api.get(url, token=world.doctor.token).status_code == 200
    world.clock.advance(SECOND)
    problem(open_share(world, made["code"]), 404, "share_not_found")
    problem(world.api.get(url, token=world.doctor.token), 404, "share_not_found")
    assert [e["kind"] for e in access_log(world)] == ["shared_file", "share"]


# --- revocation ----------------------------------------------------------------------------------


def test_a_revoked_share_stops_at_once_and_revoking_again_is_fine(world: World) -> None:
    rid = new_record(world)["id"]
    attachment = attach(world, rid, PNG)
    made = share(world, record_ids=[rid])
    code = made["code"]
    ok(open_share(world, code))

    problem(revoke(world, code, world.patient_b), 404, "share_not_found")
    problem(revoke(world, code, world.doctor), 403, "forbidden")
    problem(revoke(world, code, world.admin), 403, "forbidden")
    ok(open_share(world, code))  # none of those revoked it

    result = revoke(world, code)
    assert result.status_code == 204 and not result.content
    revoked = problem(open_share(world, code), 404, "share_not_found")
    assert revoked == problem(open_share(world, UNKNOWN_CODE), 404, "share_not_found")
    problem(
        world.api.get(
            f"/v1/shared-records/{code}/attachments/{attachment['id']}", token=world.doctor.token
        ),
        404,
        "share_not_found",
    )
    assert revoke(world, code).status_code == 204
    problem(revoke(world, UNKNOWN_CODE), 404, "share_not_found")
    # Only this share was revoked.
    other = share(world, record_ids=[rid])
    ok(open_share(world, other["code"]))


# --- the access log and the notification ---------------------------------------------------------


def test_every_opening_and_file_is_in_the_access_log_and_the_patient_is_told_once(
    world: World,
) -> None:
    first, second = new_record(world), new_record(world)
    scan = attach(world, second["id"], PDF)
    made = share(world, record_ids=[second["id"], first["id"]])
    code = made["code"]
    record_ids = ",".join(str(i) for i in sorted([first["id"], second["id"]]))

    step = dt.timedelta(minutes=1)
    for _ in range(3):
        ok(open_share(world, code))
        world.clock.advance(step)
    url = f"/v1/shared-records/{code}/attachments/{scan['id']}"
    for _ in range(2):
        assert world.api.get(url, token=world.doctor.token).status_code == 200
        world.clock.advance(step)
    # Refused tries add nothing.
    problem(open_share(world, UNKNOWN_CODE), 404)
    problem(open_share(world, code, world.patient_b), 403)
    problem(open_share(world, code, world.register_doctor("Sun Li")), 403)

    log = access_log(world)
    assert [e["kind"] for e in log] == ["shared_file"] * 2 + ["share"] * 3
    assert [stamp(e["at"]) for e in log] == [NOW + i * step for i in (4, 3, 2, 1, 0)]
    for entry in log:
        assert (entry["reader_role"], entry["reader_id"], entry["reader_name"]) == (
            "doctor",
            world.doctor.id,
            world.doctor.name,
        )
        assert entry["detail"]["share_id"] == made["id"]
    for entry in log[2:]:
        assert entry["detail"]["records"] == record_ids
        assert entry["detail"]["count"] == 2
    for entry in log[:2]:
        assert entry["detail"]["record_id"] == second["id"]
        assert entry["detail"]["attachment_id"] == scan["id"]
    assert access_log(world, world.patient_b) == []

    [told] = share_notifications(world)
    assert told["data"] == {"share_id": made["id"], "doctor_id": world.doctor.id}
    assert stamp(told["created_at"]) == NOW
    assert world.doctor.name in told["body"]
    assert share_notifications(world, world.patient_b) == []

    # Another share is another first opening.
    again = share(world, all=True)
    ok(open_share(world, again["code"]))
    ok(open_share(world, again["code"]))
    assert len(share_notifications(world)) == 2


# --- the rate of tries ---------------------------------------------------------------------------


def test_the_11th_quick_failure_is_429_with_retry_after(world: World) -> None:
    rid = new_record(world)["id"]
    code = share(world, record_ids=[rid])["code"]
    for i in range(10):
        problem(open_share(world, f"{i:0>43}"), 404, "share_not_found")

    blocked = open_share(world, f"{10:0>43}")
    problem(blocked, 429, "too_many_attempts")
    assert int(blocked.headers["retry-after"]) == 60
    # While blocked, even a good code waits; and another doctor is not held up.
    problem(open_share(world, code), 429, "too_many_attempts")
    ok(open_share(world, code, world.paediatrician))
    assert [e["reader_id"] for e in access_log(world)] == [world.paediatrician.id]

    # A minute on, one try is back; a success gives its try back, so one failure is allowed.
    world.clock.advance(dt.timedelta(seconds=60))
    ok(open_share(world, code))
    problem(open_share(world, UNKNOWN_CODE), 404, "share_not_found")
    problem(open_share(world, UNKNOWN_CODE), 429, "too_many_attempts")


def test_successful_openings_do_not_wear_the_bucket_down(world: World) -> None:
    rid = new_record(world)["id"]
    attachment = attach(world, rid, PNG)
    code = share(world, record_ids=[rid])["code"]
    url = f"/v1/shared-records/{code}/attachments/{attachment['id']}"

    for _ in range(20):
        ok(open_share(world, code))
        assert world.api.get(url, token=world.doctor.token).status_code == 200
    # All ten failures are still there to be had.
    for i in range(10):
        problem(open_share(world, f"{i:0>43}"), 404)
    problem(open_share(world, UNKNOWN_CODE), 429)
    assert len(access_log(world)) == 40


# --- deleting a shared record --------------------------------------------------------------------


def test_a_deleted_record_leaves_the_share(world: World) -> None:
    kept, gone = new_record(world), new_record(world)
    scan = attach(world, gone["id"], PDF)
    both = share(world, record_ids=[kept["id"], gone["id"]])
    only = share(world, record_ids=[gone["id"]])

    result = world.api.request("DELETE", f"/v1/records/{gone['id']}", token=world.patient_a.token)
    assert result.status_code == 204

    assert [r["id"] for r in ok(open_share(world, both["code"]))["records"]] == [kept["id"]]
    assert ok(open_share(world, only["code"]))["records"] == []
    problem(
        world.api.get(
            f"/v1/shared-records/{only['code']}/attachments/{scan['id']}", token=world.doctor.token
        ),
        404,
    )


# --- findings ------------------------------------------------------------------------------------


def test_the_server_access_log_never_writes_share_codes_in_clear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by the tests' author: a share code is a bearer secret carried in the URL path;
    medbook keeps only its hash in the database, but ``medbook serve`` logged every request line
    (gunicorn's default access log format, ``"%(r)s"``) with the code in clear. The server's
    logger now takes the codes out of every access-log atom."""
    captured: dict[str, Any] = {}

    class Capture:
        def __init__(self, options: dict[str, Any]) -> None:
            captured.update(options)

        def run(self) -> None:
            pass

    monkeypatch.setattr(server, "_Gunicorn", Capture)
    server.run(bind="127.0.0.1:0", workers=1)

    config = Config()
    for key, value in captured.items():
        config.set(key, value)
    logger = config.logger_class(config)
    assert isinstance(logger, Logger)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger.access_log.handlers = [Keep()]
    code = "s3cr3tC0de" + "x" * 33
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/v1/shared-records/{code}",
        "PATH_INFO": f"/v1/shared-records/{code}",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
    }
    response = types.SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = types.SimpleNamespace(headers=[])
    logger.access(response, request, environ, dt.timedelta(milliseconds=3))

    assert lines, "the access log should still be written (only the code left out)"
    assert all(code not in line for line in lines), (
        f"the access log holds the share code in clear: {lines}"
    )
