"""Files over HTTP: uploads (POST /v1/uploads), doctors' avatars (PUT /v1/doctors/me/avatar), and
stored objects served back (GET /files/{key}), on the in-memory storage and on local disk.

What a file is comes from its own bytes, never from the client's Content-Type; sizes are bounded by
the services' upload limit (``MAX_UPLOAD_BYTES`` here), not by the JSON body limit.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from http_support import (
    CORRUPT_PNG,
    FILES,
    GIF,
    JPEG,
    MAX_BODY_BYTES,
    MAX_UPLOAD_BYTES,
    PASSWORD,
    PDF,
    PNG,
    TRUNCATED_PNG,
    WEBP,
    Account,
    Api,
    World,
    fast_hasher,
    file_path,
    image,
    ok,
    padded_pdf,
    problem,
)

from medbook.adapters.memory import ManualClock
from medbook.adapters.memory.storage import MemoryStorage
from medbook.adapters.storage.local import LocalStorage
from medbook.bootstrap import in_memory
from medbook.entrypoints.http.app import create_app

#: Bytes of no accepted type, each with the magic number of what it is.
NOT_ALLOWED = {
    "text": b"just some text\n",
    "html": b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "json": b'{"phone": "13800000001"}',
    "zip": b"PK\x03\x04" + b"\x00" * 40,
    "exe": b"MZ\x90\x00" + b"\x00" * 40,
    "bmp": image("BMP"),
    "tiff": image("TIFF"),
    "riff-not-webp": b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 24,
}


def upload(
    api: Api, who: Account, data: bytes, content_type: str = "image/png", **options: Any
) -> falcon.testing.Result:
    return api.upload("/v1/uploads", data, content_type, token=who.token, **options)


def set_avatar(
    api: Api, who: Account, data: bytes, content_type: str = "image/png"
) -> falcon.testing.Result:
    return api.upload("/v1/doctors/me/avatar", data, content_type, method="PUT", token=who.token)


def stored_keys(world: World) -> list[str]:
    """Every key the world's in-memory storage holds."""
    storage = world.services.uploads.storage
    assert isinstance(storage, MemoryStorage)
    return storage.keys()


def assert_served(
    api: Api, url: str, data: bytes, content_type: str, token: str | None = None
) -> falcon.testing.Result:
    """An upload's private link (``/v1/uploads/…``, with the token of someone who may read it)
    or a public one (``/files/…``) serves exactly ``data``."""
    if url.startswith("/v1/uploads/"):
        served = api.get(url, token=token)
    else:
        served = api.get(file_path(url))
    assert served.status_code == 200, served.text
    assert served.content == data
    assert served.headers["content-type"] == content_type
    assert served.headers["x-content-type-options"] == "nosniff"
    assert int(served.headers["content-length"]) == len(data)
    return served


# --- uploads -------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", list(FILES))
def test_an_upload_is_201_and_its_url_serves_the_same_bytes(
    world: World, content_type: str
) -> None:
    data = FILES[content_type]

    uploaded = ok(upload(world.api, world.patient_a, data, content_type), 201)

    assert uploaded == {"url": uploaded["url"], "content_type": content_type, "size": len(data)}
    assert uploaded["url"].startswith("/v1/uploads/")
    served = assert_served(world.api, uploaded["url"], data, content_type, world.patient_a.token)
    # Whatever a file holds, a browser must not run it as part of the site.
    assert "sandbox" in served.headers["content-security-policy"]
    if content_type == "application/pdf":
        assert served.headers["content-disposition"] == "attachment"


@pytest.mark.parametrize("account", ["patient_a", "doctor", "admin"])
def test_every_role_uploads(world: World, account: str) -> None:
    who = getattr(world, account)
    uploaded = ok(upload(world.api, who, GIF, "image/gif"), 201)
    assert_served(world.api, uploaded["url"], GIF, "image/gif", who.token)


def test_the_type_is_read_from_the_bytes_not_from_the_content_type(world: World) -> None:
    uploaded = ok(upload(world.api, world.patient_a, JPEG, "image/png"), 201)

    assert uploaded["content_type"] == "image/jpeg"
    assert uploaded["url"].endswith(".jpg")
    assert_served(world.api, uploaded["url"], JPEG, "image/jpeg", world.patient_a.token)


def test_a_file_without_a_content_type_is_still_read_from_its_bytes(world: World) -> None:
    uploaded = ok(world.api.post("/v1/uploads", token=world.patient_a.token, body=WEBP), 201)

    assert (uploaded["content_type"], uploaded["size"]) == ("image/webp", len(WEBP))
    assert_served(world.api, uploaded["url"], WEBP, "image/webp", world.patient_a.token)


def test_the_same_bytes_twice_are_two_objects(world: World) -> None:
    first = ok(upload(world.api, world.patient_a, PNG), 201)
    second = ok(upload(world.api, world.patient_a, PNG), 201)

    assert first["url"] != second["url"]
    assert len(stored_keys(world)) == 2


@pytest.mark.parametrize("kind", list(NOT_ALLOWED))
@pytest.mark.parametrize("claimed", ["image/png", "application/pdf", "application/octet-stream"])
def test_bytes_of_no_accepted_type_are_415_whatever_the_content_type_says(
    world: World, kind: str, claimed: str
) -> None:
    result = upload(world.api, world.patient_a, NOT_ALLOWED[kind], claimed)

    problem(result, 415, "unsupported_type")
    assert stored_keys(world) == []


def test_an_upload_of_exactly_the_limit_is_201(world: World) -> None:
    data = padded_pdf(MAX_UPLOAD_BYTES)

    uploaded = ok(upload(world.api, world.patient_a, data, "application/pdf"), 201)

    assert uploaded["size"] == MAX_UPLOAD_BYTES
    assert_served(world.api, uploaded["url"], data, "application/pdf", world.patient_a.token)


@pytest.mark.parametrize("data", [padded_pdf(MAX_UPLOAD_BYTES + 1), PNG + bytes(MAX_UPLOAD_BYTES)])
def test_an_upload_over_the_limit_is_413_and_nothing_is_stored(world: World, data: bytes) -> None:
    problem(upload(world.api, world.patient_a, data), 413, "too_large")
    assert stored_keys(world) == []


def test_the_json_body_limit_does_not_bound_uploads(world: World) -> None:
    assert MAX_BODY_BYTES < 2 * MAX_BODY_BYTES < MAX_UPLOAD_BYTES
    data = padded_pdf(2 * MAX_BODY_BYTES)

    uploaded = ok(upload(world.api, world.patient_a, data, "application/pdf"), 201)

    assert uploaded["size"] == len(data)


def test_the_upload_limit_is_the_services_own(
    clock: ManualClock, openapi_document: dict[str, Any]
) -> None:
    services = in_memory(clock, hasher=fast_hasher(), max_upload_bytes=len(PNG))
    api = Api(falcon.testing.TestClient(create_app(services)), openapi_document)
    body = {"phone": "13800000009", "name": "Small Files", "password": PASSWORD}
    ok(api.post("/v1/patients", json=body), 201)
    login = {"phone": body["phone"], "password": body["password"], "role": "patient"}
    token = ok(api.post("/v1/sessions", json=login))["token"]

    ok(api.upload("/v1/uploads", PNG, "image/png", token=token), 201)
    problem(api.upload("/v1/uploads", JPEG, "image/jpeg", token=token), 413, "too_large")


def test_an_empty_upload_is_422(world: World) -> None:
    problem(upload(world.api, world.patient_a, b""), 422, fields={"file"})


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (TRUNCATED_PNG, "image/png"),
        (CORRUPT_PNG, "image/png"),
        (PNG[:8], "image/png"),
        (JPEG[:40], "image/jpeg"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (WEBP[:12] + b"\x00" * 20, "image/webp"),
    ],
    ids=["truncated-png", "corrupt-png", "png-signature-only", "truncated-jpeg", "gif", "webp"],
)
def test_a_broken_image_is_422_naming_the_file(
    world: World, data: bytes, content_type: str
) -> None:
    problem(upload(world.api, world.patient_a, data, content_type), 422, fields={"file"})
    assert stored_keys(world) == []


def _png_with(*chunks: tuple[bytes, bytes]) -> bytes:
    """A 2 by 2 RGB PNG of these chunks after its header, each with a correct checksum."""
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    body = b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in ((b"IHDR", header), *chunks, (b"IEND", b""))
    )
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (_png_with((b"IDAT", b"not a zlib stream")), "image/png"),
        (_png_with((b"IDAT", zlib.compress(b"\x00" * 3))), "image/png"),
        (JPEG[:-5], "image/jpeg"),
        (GIF[:-9], "image/gif"),
    ],
    ids=["png-undecodable-pixels", "png-missing-pixels", "jpeg-cut-short", "gif-cut-short"],
)
def test_an_image_whose_pixels_do_not_decode_is_422(
    world: World, data: bytes, content_type: str
) -> None:
    problem(upload(world.api, world.patient_a, data, content_type), 422, fields={"file"})
    assert stored_keys(world) == []


@pytest.mark.parametrize("path", ["/v1/uploads", "/v1/doctors/me/avatar"])
def test_a_png_without_image_data_is_422_not_500(world: World, path: str) -> None:
    method = "PUT" if path.endswith("avatar") else "POST"

    result = world.api.upload(
        path, _png_with(), "image/png", method=method, token=world.doctor.token
    )

    problem(result, 422, fields={"file"})


def test_an_avatar_whose_pixels_do_not_decode_is_422_and_the_old_one_stays(world: World) -> None:
    old = ok(set_avatar(world.api, world.doctor, PNG))["avatar_url"]

    broken = _png_with((b"IDAT", b"not a zlib stream"))
    problem(set_avatar(world.api, world.doctor, broken), 422, fields={"file"})

    assert _avatar_everywhere(world, world.doctor) == {old}


def test_the_client_file_name_never_makes_the_key(world: World) -> None:
    headers = {"X-Filename": "../../etc/passwd"}

    uploaded = ok(upload(world.api, world.patient_a, PNG, headers=headers), 201)

    [key] = stored_keys(world)
    assert uploaded["url"] == "/v1/" + key
    assert key.startswith("uploads/") and key.endswith(".png")
    assert "etc" not in key and "passwd" not in key and ".." not in key


def test_an_anonymous_upload_is_401_and_nothing_is_stored(world: World) -> None:
    problem(world.api.upload("/v1/uploads", PNG, "image/png"), 401)
    assert stored_keys(world) == []


# --- avatars -------------------------------------------------------------------------------------


def _avatar_everywhere(world: World, doctor: Account) -> set[str | None]:
    """The doctor's avatar URL as every answer that carries it tells it."""
    me = ok(world.api.get("/v1/me", token=doctor.token))
    public = ok(world.api.get(f"/v1/doctors/{doctor.id}"))
    listed = ok(world.api.get(f"/v1/departments/{world.cardiology}/doctors"))
    login = ok(
        world.api.post(
            "/v1/sessions",
            json={"phone": doctor.phone, "password": PASSWORD, "role": "doctor"},
        )
    )
    in_list = next(d["avatar_url"] for d in listed if d["id"] == doctor.id)
    return {me["doctor"]["avatar_url"], public["avatar_url"], in_list, login["avatar_url"]}


@pytest.mark.parametrize(("data", "content_type"), [(PNG, "image/png"), (JPEG, "image/jpeg")])
def test_a_doctor_sets_their_avatar(world: World, data: bytes, content_type: str) -> None:
    assert _avatar_everywhere(world, world.doctor) == {None}

    answer = ok(set_avatar(world.api, world.doctor, data, content_type))

    url = answer["avatar_url"]
    assert set(answer) == {"avatar_url"}
    assert url.startswith("memory://objects/avatars/")
    assert _avatar_everywhere(world, world.doctor) == {url}
    assert_served(world.api, url, data, content_type)


def test_a_second_avatar_deletes_the_first(world: World) -> None:
    first = ok(set_avatar(world.api, world.doctor, PNG))["avatar_url"]

    second = ok(set_avatar(world.api, world.doctor, JPEG, "image/jpeg"))["avatar_url"]

    assert second != first
    problem(world.api.get(file_path(first)), 404, "object_not_found")
    assert_served(world.api, second, JPEG, "image/jpeg")
    assert stored_keys(world) == [file_path(second).removeprefix("/files/")]
    me = ok(world.api.get("/v1/me", token=world.doctor.token))
    assert me["doctor"]["avatar_url"] == second


def test_an_avatar_type_is_read_from_the_bytes(world: World) -> None:
    url = ok(set_avatar(world.api, world.doctor, JPEG, "image/png"))["avatar_url"]

    assert url.endswith(".jpg")
    assert_served(world.api, url, JPEG, "image/jpeg")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (GIF, "image/gif"),
        (WEBP, "image/webp"),
        (PDF, "application/pdf"),
        (GIF, "image/png"),
        (NOT_ALLOWED["text"], "image/png"),
        (NOT_ALLOWED["svg"], "image/jpeg"),
    ],
    ids=["gif", "webp", "pdf", "gif-as-png", "text-as-png", "svg-as-jpeg"],
)
def test_an_avatar_that_is_no_png_or_jpeg_is_415_and_the_old_one_stays(
    world: World, data: bytes, content_type: str
) -> None:
    old = ok(set_avatar(world.api, world.doctor, PNG))["avatar_url"]

    problem(set_avatar(world.api, world.doctor, data, content_type), 415, "unsupported_type")

    assert _avatar_everywhere(world, world.doctor) == {old}
    assert_served(world.api, old, PNG, "image/png")
    assert len(stored_keys(world)) == 1


@pytest.mark.parametrize("data", [CORRUPT_PNG, TRUNCATED_PNG, JPEG[:40]])
def test_a_corrupt_avatar_is_422_and_the_old_one_stays(world: World, data: bytes) -> None:
    old = ok(set_avatar(world.api, world.doctor, PNG))["avatar_url"]

    problem(set_avatar(world.api, world.doctor, data), 422, fields={"file"})

    assert _avatar_everywhere(world, world.doctor) == {old}
    assert_served(world.api, old, PNG, "image/png")
    assert len(stored_keys(world)) == 1


def test_an_avatar_over_the_limit_is_413_and_the_old_one_stays(world: World) -> None:
    old = ok(set_avatar(world.api, world.doctor, PNG))["avatar_url"]

    problem(set_avatar(world.api, world.doctor, PNG + bytes(MAX_UPLOAD_BYTES)), 413, "too_large")

    assert _avatar_everywhere(world, world.doctor) == {old}
    assert len(stored_keys(world)) == 1


@pytest.mark.parametrize("account", ["patient_a", "admin"])
def test_only_doctors_set_an_avatar_and_nothing_is_stored(world: World, account: str) -> None:
    problem(set_avatar(world.api, getattr(world, account), PNG), 403)
    assert stored_keys(world) == []


def test_a_new_doctor_in_no_hospital_yet_sets_an_avatar(world: World) -> None:
    newcomer = world.register_doctor("Zhou Min")

    url = ok(set_avatar(world.api, newcomer, PNG))["avatar_url"]

    me = ok(world.api.get("/v1/me", token=newcomer.token))
    assert me["doctor"]["avatar_url"] == url
    assert_served(world.api, url, PNG, "image/png")


def test_one_doctors_avatar_leaves_another_doctors_alone(world: World) -> None:
    mine = ok(set_avatar(world.api, world.doctor, PNG))["avatar_url"]

    ok(set_avatar(world.api, world.paediatrician, PNG))
    ok(set_avatar(world.api, world.paediatrician, JPEG, "image/jpeg"))

    assert _avatar_everywhere(world, world.doctor) == {mine}
    assert_served(world.api, mine, PNG, "image/png")


# --- serving stored files ------------------------------------------------------------------------

TRAVERSALS = [
    "../etc/passwd",
    "%2e%2e/x",
    "a/../../b",
    "..%2f..%2fsecret.txt",
    "%2e%2e%2fsecret.txt",
    "uploads/../../secret.txt",
    "..",
    "./secret.txt",
    "/secret.txt",
    "%2fsecret.txt",
    "uploads//secret.txt",
    "..\\secret.txt",
    "%00secret.txt",
]


def test_an_unknown_file_is_404(world: World) -> None:
    problem(world.api.get("/files/uploads/2026/11/nothing.png"), 404, "object_not_found")


@pytest.mark.parametrize("key", TRAVERSALS)
def test_a_traversal_key_serves_nothing(world: World, key: str) -> None:
    ok(upload(world.api, world.patient_a, PNG), 201)

    result = world.api.get(f"/files/{key}")

    assert result.status_code in (404, 422), result.status
    problem(result, result.status_code)


@pytest.fixture
def disk(tmp_path: Path, clock: ManualClock, openapi_document: dict[str, Any]) -> tuple[Api, Path]:
    """An app storing files in ``tmp_path/files``, beside a secret file it must never serve."""
    (tmp_path / "secret.txt").write_bytes(b"TOP SECRET: not a stored file")
    storage = LocalStorage(tmp_path / "files", "")
    services = in_memory(
        clock, hasher=fast_hasher(), storage=storage, max_upload_bytes=MAX_UPLOAD_BYTES
    )
    return Api(falcon.testing.TestClient(create_app(services)), openapi_document), tmp_path


def _patient_on(api: Api) -> str:
    body = {"phone": "13800000008", "name": "Disk User", "password": PASSWORD}
    ok(api.post("/v1/patients", json=body), 201)
    login = {"phone": body["phone"], "password": body["password"], "role": "patient"}
    return str(ok(api.post("/v1/sessions", json=login))["token"])


@pytest.mark.parametrize("content_type", list(FILES))
def test_on_local_disk_an_upload_round_trips_through_its_relative_url(
    disk: tuple[Api, Path], content_type: str
) -> None:
    api, _ = disk
    data = FILES[content_type]

    token = _patient_on(api)
    uploaded = ok(api.upload("/v1/uploads", data, content_type, token=token), 201)

    assert uploaded["url"].startswith("/v1/uploads/")
    assert_served(api, uploaded["url"], data, content_type, token)


@pytest.mark.parametrize("key", TRAVERSALS)
def test_on_local_disk_a_traversal_key_never_serves_a_file_outside_storage(
    disk: tuple[Api, Path], key: str
) -> None:
    api, _ = disk
    ok(api.upload("/v1/uploads", PNG, "image/png", token=_patient_on(api)), 201)

    result = api.get(f"/files/{key}")

    assert result.status_code in (404, 422), result.status
    problem(result, result.status_code)
    assert b"TOP SECRET" not in result.content


def test_on_local_disk_a_link_out_of_storage_is_not_followed(disk: tuple[Api, Path]) -> None:
    api, root = disk
    (root / "files" / "avatars").mkdir(parents=True)
    (root / "files" / "avatars" / "link.png").symlink_to(root / "secret.txt")

    result = api.get("/files/avatars/link.png")

    problem(result, 422, "invalid_key")
    assert b"TOP SECRET" not in result.content


def test_on_local_disk_the_metadata_beside_a_file_is_not_served(disk: tuple[Api, Path]) -> None:
    api, root = disk
    token = _patient_on(api)
    uploaded = ok(
        api.upload(
            "/v1/uploads", PNG, "image/png", token=token, headers={"X-Filename": "my-scan.png"}
        ),
        201,
    )
    public = LocalStorage(root / "files", "")
    public.put("avatars/a.png", PNG, content_type="image/png", metadata={"uploaded-by": "x-1"})

    for result in (
        api.get(uploaded["url"] + ".meta.json", token=token),
        api.get("/files/avatars/a.png.meta.json"),
    ):
        assert result.status_code in (404, 422), result.status
        assert b"my-scan" not in result.content and b"uploaded-by" not in result.content
    problem(api.get("/files/avatars/a.png.meta.json"), 422, "invalid_key")


# --- uploads are private -------------------------------------------------------------------------


def test_an_upload_is_never_served_as_a_public_file(world: World) -> None:
    uploaded = ok(upload(world.api, world.patient_a, PNG), 201)
    key = "uploads/" + uploaded["url"].removeprefix("/v1/uploads/")
    assert key in stored_keys(world)

    problem(world.api.get(f"/files/{key}"), 404, "object_not_found")


def test_an_upload_serves_only_its_uploader_until_it_is_shared(world: World) -> None:
    url = ok(upload(world.api, world.patient_a, PDF, "application/pdf"), 201)["url"]

    problem(world.api.get(url), 401, "unauthenticated")
    for other in (world.patient_b, world.doctor, world.admin):
        problem(world.api.get(url, token=other.token), 404, "object_not_found")
    served = assert_served(world.api, url, PDF, "application/pdf", world.patient_a.token)
    assert "private" in served.headers["cache-control"]


@pytest.mark.parametrize(
    "name", ["2026/11/nothing.png", "2026/11/../../secret.txt", "x/y/z", "2026/11/%2e%2e"]
)
def test_an_unknown_or_malformed_upload_name_is_404(world: World, name: str) -> None:
    problem(world.api.get(f"/v1/uploads/{name}", token=world.patient_a.token), 404)


# --- uploads as multipart/form-data (browsers' FormData, generated clients) ----------------------


def _form(parts: list[tuple[str, str | None, bytes]], boundary: str = "medbook-boundary") -> bytes:
    """A multipart/form-data body of (name, filename, bytes) parts."""
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        out += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _send_form(world: World, body: bytes, path: str = "/v1/uploads") -> falcon.testing.Result:
    return world.api.upload(
        path,
        body,
        "multipart/form-data; boundary=medbook-boundary",
        token=world.patient_a.token,
    )


@pytest.mark.parametrize("content_type", list(FILES))
def test_a_file_sent_as_a_form_part_is_uploaded_like_a_raw_body(
    world: World, content_type: str
) -> None:
    data = FILES[content_type]

    uploaded = ok(_send_form(world, _form([("file", "scan.bin", data)])), 201)

    assert (uploaded["content_type"], uploaded["size"]) == (content_type, len(data))
    assert_served(world.api, uploaded["url"], data, content_type, world.patient_a.token)


def test_a_form_file_over_the_limit_is_413_and_nothing_is_stored(world: World) -> None:
    big = padded_pdf(MAX_UPLOAD_BYTES + 1)

    problem(_send_form(world, _form([("file", "big.pdf", big)])), 413, "too_large")
    assert stored_keys(world) == []


def test_a_form_file_of_a_type_not_taken_is_415(world: World) -> None:
    problem(_send_form(world, _form([("file", "x.txt", b"plain text")])), 415)
    assert stored_keys(world) == []


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ([], "file"),
        ([("picture", "a.png", PNG)], "picture"),
        ([("file", "a.png", PNG), ("file", "b.png", PNG)], "file"),
        ([("file", "a.png", PNG), ("note", None, b"hello")], "note"),
    ],
    ids=["no-part", "wrong-name", "two-files", "extra-part"],
)
def test_a_form_that_is_not_one_file_part_is_422_naming_the_part(
    world: World, parts: list[tuple[str, str | None, bytes]], field: str
) -> None:
    result = _send_form(world, _form(parts))

    assert problem(result, 422)["errors"][0]["field"] == field
    assert stored_keys(world) == []


@pytest.mark.parametrize(
    "body",
    [b"not a form", b"--medbook-boundary\r\nno headers end", b"--other\r\n\r\nx\r\n--other--\r\n"],
    ids=["no-boundary", "cut-short", "another-boundary"],
)
def test_a_malformed_form_is_400(world: World, body: bytes) -> None:
    assert problem(_send_form(world, body), 400)
    assert stored_keys(world) == []


@pytest.mark.parametrize(
    "header",
    [b'form-data; name="file"; filename="\xff\xfe.png"', b'form-data; name="fil\xe9"'],
    ids=["filename", "name"],
)
def test_a_form_part_header_that_is_not_utf8_is_400(world: World, header: bytes) -> None:
    body = b"--medbook-boundary\r\nContent-Disposition: " + header + b"\r\n\r\n" + PNG
    body += b"\r\n--medbook-boundary--\r\n"

    assert problem(_send_form(world, body), 400)["code"] == "malformed_body"
    assert stored_keys(world) == []


def test_a_doctor_s_avatar_comes_as_a_form_too(world: World) -> None:
    result = world.api.upload(
        "/v1/doctors/me/avatar",
        _form([("file", "me.png", PNG)]),
        "multipart/form-data; boundary=medbook-boundary",
        method="PUT",
        token=world.doctor.token,
    )

    assert ok(result)["avatar_url"]
