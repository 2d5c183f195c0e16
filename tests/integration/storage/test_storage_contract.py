"""The object-storage contract, the same for every adapter: a folder on disk, and a real
S3-compatible server (moto's); then what only one adapter can show: symlinks on disk, signed URLs,
addressing styles and request headers on S3; and ``storage_from_url``."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

import pytest

from medbook.adapters.storage import LocalStorage, storage_from_url
from medbook.adapters.storage.s3 import S3Storage, s3_client
from medbook.domain.shared.errors import Conflict, InvalidKey, InvalidValue, ObjectNotFound
from medbook.ports.storage import ObjectStorage, StoredObject

MIB = 1024 * 1024
BASE_URL = "http://medbook.test"


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStorage:
    """Each adapter in turn, empty: a folder, then a folder of its own in the test bucket."""
    if request.param == "local":
        return LocalStorage(tmp_path / "files", BASE_URL)
    server = request.getfixturevalue("s3_server")
    request.getfixturevalue("aws_env")
    return S3Storage(
        server.bucket,
        endpoint_url=server.endpoint,
        region=server.region,
        prefix=request.getfixturevalue("s3_prefix"),
    )


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def read_all(storage: ObjectStorage, key: str) -> bytes:
    with storage.open(key) as stream:
        return stream.read()


def fetch(url: str) -> tuple[int, bytes, str]:
    """Status, body and content type of a GET, as a browser would see them."""
    # A new opener each time: it reads the proxy variables now, not at the first call.
    try:
        with urllib.request.build_opener().open(url, timeout=10) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


class OneWayStream(io.RawIOBase):
    """A stream that cannot seek, like a request body or a pipe; optionally breaks after a while."""

    def __init__(self, data: bytes, *, break_after: int | None = None) -> None:
        self._data = memoryview(data)
        self._position = 0
        self._break_after = break_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._break_after is not None and self._position >= self._break_after:
            raise ConnectionResetError("the client went away")
        piece = self._data[self._position : self._position + min(len(buffer), 64 * 1024)]
        buffer[: len(piece)] = piece
        self._position += len(piece)
        return len(piece)


def as_input(how: str, data: bytes) -> bytes | BinaryIO:
    if how == "bytes":
        return data
    if how == "seekable stream":
        return io.BytesIO(data)
    return io.BufferedReader(OneWayStream(data))


# --- the contract --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["bytes", "seekable stream", "one-way stream"])
@pytest.mark.parametrize("size", [0, 1, 5 * MIB], ids=["empty", "one byte", "5 MiB"])
def test_what_is_put_is_what_is_read(storage: ObjectStorage, how: str, size: int) -> None:
    data = payload(size)

    stored = storage.put("records/42/scan.png", as_input(how, data), content_type="image/png")

    expected = StoredObject(key="records/42/scan.png", content_type="image/png", size=size)
    assert stored == expected
    assert storage.stat("records/42/scan.png") == expected
    assert read_all(storage, "records/42/scan.png") == data


def test_a_stream_larger_than_an_upload_part_is_stored_whole(storage: ObjectStorage) -> None:
    data = payload(9 * MIB, seed=9)  # over boto3's 8 MiB multipart threshold

    stored = storage.put("videos/v.mp4", as_input("one-way stream", data), content_type="video/mp4")

    assert stored.size == len(data)
    assert read_all(storage, "videos/v.mp4") == data


def test_a_stream_is_stored_from_where_it_stands(storage: ObjectStorage) -> None:
    stream = io.BytesIO(b"HEADERbody")
    stream.seek(6)

    storage.put("chat/1.txt", stream, content_type="text/plain")

    assert read_all(storage, "chat/1.txt") == b"body"


def test_content_type_and_metadata_are_kept(storage: ObjectStorage) -> None:
    metadata = {
        "original-name": "  体检报告 2026.pdf ",
        "uploaded-by": "patient-17",
        "note": "100% = done; a/b?c=d",
    }

    stored = storage.put(
        "records/7.pdf", b"%PDF", content_type="application/pdf; charset=binary", metadata=metadata
    )

    assert stored.metadata == metadata
    assert storage.stat("records/7.pdf") == StoredObject(
        key="records/7.pdf",
        content_type="application/pdf; charset=binary",
        size=4,
        metadata=metadata,
    )


def test_putting_again_replaces_the_object_whole(storage: ObjectStorage) -> None:
    storage.put("avatars/5.png", b"old picture", content_type="image/png", metadata={"v": "1"})

    storage.put("avatars/5.png", b"new", content_type="image/jpeg")

    assert storage.stat("avatars/5.png") == StoredObject(
        key="avatars/5.png", content_type="image/jpeg", size=3, metadata={}
    )
    assert read_all(storage, "avatars/5.png") == b"new"


def test_open_streams_the_bytes_piece_by_piece(storage: ObjectStorage) -> None:
    storage.put("a.txt", b"0123456789", content_type="text/plain")

    with storage.open("a.txt") as stream:
        assert stream.read(4) == b"0123"
        assert stream.read() == b"456789"
        assert stream.read() == b""


def test_a_put_that_fails_midway_leaves_the_previous_object(storage: ObjectStorage) -> None:
    storage.put("doc.bin", b"the old content", content_type="application/octet-stream")
    breaking = io.BufferedReader(OneWayStream(payload(MIB), break_after=256 * 1024))

    with pytest.raises(ConnectionResetError):
        storage.put("doc.bin", breaking, content_type="application/octet-stream")

    assert read_all(storage, "doc.bin") == b"the old content"
    assert storage.stat("doc.bin").size == len(b"the old content")


def test_delete_removes_the_object_and_may_be_repeated(storage: ObjectStorage) -> None:
    storage.put("tmp/x", b"x", content_type="text/plain")
    storage.put("tmp/y", b"y", content_type="text/plain")

    storage.delete("tmp/x")
    storage.delete("tmp/x")
    storage.delete("never/was")

    with pytest.raises(ObjectNotFound):
        storage.stat("tmp/x")
    assert read_all(storage, "tmp/y") == b"y"


@pytest.mark.parametrize("operation", ["open", "stat"])
def test_a_missing_object_is_not_found(storage: ObjectStorage, operation: str) -> None:
    storage.put("here", b"!", content_type="text/plain")

    with pytest.raises(ObjectNotFound) as raised:
        getattr(storage, operation)("not-here")

    assert raised.value.code == "object_not_found"


INVALID_KEYS = {
    "parent": "../x",
    "parent inside": "a/../../b",
    "dot segment": "a/./b",
    "dot-dot alone": "..",
    "absolute": "/etc/passwd",
    "percent-encoded traversal": "%2e%2e/x",
    "uppercase": "Avatar.png",
    "backslash": "a\\..\\b",
    "empty": "",
    "too long": "a/" * 127 + "ab",
    "long segment": "a" * 201,
    "double slash": "a//b",
    "trailing slash": "a/",
    "leading dot": ".hidden",
    "trailing newline": "a\n",
    "nul byte": "a\x00b",
    "space": "a b",
    "non-ascii": "病历.png",
    "sidecar name": "x.meta.json",
    "sidecar folder": "x.meta.json/y",
}

OPERATIONS: dict[str, Callable[[ObjectStorage, str], object]] = {
    "put": lambda storage, key: storage.put(key, b"evil", content_type="text/plain"),
    "open": lambda storage, key: storage.open(key),
    "stat": lambda storage, key: storage.stat(key),
    "delete": lambda storage, key: storage.delete(key),
    "url": lambda storage, key: storage.url(key),
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("key", INVALID_KEYS.values(), ids=INVALID_KEYS.keys())
def test_an_invalid_key_is_refused_by_every_operation(
    storage: ObjectStorage, key: str, operation: str
) -> None:
    with pytest.raises(InvalidKey) as raised:
        OPERATIONS[operation](storage, key)

    assert raised.value.code == "invalid_key"


def test_the_longest_keys_are_accepted(storage: ObjectStorage) -> None:
    longest = "a" * 200 + "/" + "b" * 54

    storage.put(longest, b"long", content_type="text/plain")
    storage.put("c" * 200, b"wide", content_type="text/plain")

    assert read_all(storage, longest) == b"long"
    assert read_all(storage, "c" * 200) == b"wide"


@pytest.mark.parametrize(
    ("content_type", "metadata"),
    [
        ("png", None),
        ("", None),
        ("text/plain\r\nX-Evil: 1", None),
        ("text/plain", {"Upper": "x"}),
        ("text/plain", {"under_score": "x"}),
        ("text/plain", {"": "x"}),
        ("text/plain", {"big": "x" * 2100}),
    ],
)
def test_a_bad_content_type_or_metadata_is_refused(
    storage: ObjectStorage, content_type: str, metadata: dict[str, str] | None
) -> None:
    with pytest.raises(InvalidValue):
        storage.put("a.txt", b"x", content_type=content_type, metadata=metadata)

    with pytest.raises(ObjectNotFound):
        storage.stat("a.txt")


def test_url_leads_to_the_object(storage: ObjectStorage) -> None:
    storage.put("avatars/9.png", b"\x89PNG", content_type="image/png")

    url = storage.url("avatars/9.png")

    if isinstance(storage, LocalStorage):
        # Served by the HTTP app, which reads the object through the port.
        assert url == f"{BASE_URL}/files/avatars/9.png"
    else:
        assert fetch(url) == (200, b"\x89PNG", "image/png")


# --- local disk only ---------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"not yours")
    return folder


@pytest.mark.parametrize("operation", OPERATIONS)
def test_local_a_symlinked_folder_leading_outside_is_refused(
    tmp_path: Path, outside: Path, operation: str
) -> None:
    root = tmp_path / "files"
    root.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    storage = LocalStorage(root, BASE_URL)

    with pytest.raises(InvalidKey):
        OPERATIONS[operation](storage, "escape/secret.txt")
    with pytest.raises(InvalidKey):
        OPERATIONS[operation](storage, "escape/new/file.txt")

    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"not yours"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_local_a_symlinked_file_leading_outside_is_refused(
    tmp_path: Path, outside: Path, operation: str
) -> None:
    root = tmp_path / "files"
    root.mkdir()
    (root / "secret.txt").symlink_to(outside / "secret.txt")
    storage = LocalStorage(root, BASE_URL)

    with pytest.raises(InvalidKey):
        OPERATIONS[operation](storage, "secret.txt")

    assert (outside / "secret.txt").read_bytes() == b"not yours"


def test_local_a_root_reached_through_a_symlink_works(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    storage = LocalStorage(tmp_path / "link", BASE_URL)

    storage.put("a/b.txt", b"fine", content_type="text/plain")

    assert (tmp_path / "real" / "a" / "b.txt").read_bytes() == b"fine"


def test_local_files_are_the_object_and_its_sidecar_only(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files", BASE_URL)
    storage.put("a/b.png", b"png", content_type="image/png", metadata={"by": "17"})
    storage.put("a/b.png", io.BytesIO(b"png2"), content_type="image/png")
    with pytest.raises(ConnectionResetError):
        storage.put("a/b.png", OneWayStream(b"x" * MIB, break_after=1000), content_type="image/png")

    files = sorted(str(p.relative_to(tmp_path / "files")) for p in (tmp_path / "files").rglob("*"))

    assert files == ["a", "a/b.png", "a/b.png.meta.json"]


def test_local_an_object_cannot_also_be_a_folder(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files", BASE_URL)
    storage.put("a", b"object a", content_type="text/plain")
    storage.put("c/d", b"object c/d", content_type="text/plain")

    with pytest.raises(Conflict):
        storage.put("a/b", b"x", content_type="text/plain")
    with pytest.raises(Conflict):
        storage.put("c", b"x", content_type="text/plain")

    assert read_all(storage, "a") == b"object a"
    assert read_all(storage, "c/d") == b"object c/d"
    with pytest.raises(ObjectNotFound):
        storage.stat("c")
    with pytest.raises(ObjectNotFound):
        storage.open("c")


def test_local_a_file_without_sidecar_is_binary(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "dropped.bin").write_bytes(b"\x00\x01")

    assert LocalStorage(tmp_path / "files", BASE_URL).stat("dropped.bin") == StoredObject(
        key="dropped.bin", content_type="application/octet-stream", size=2
    )


def test_local_url_ignores_a_trailing_slash_and_any_lifetime(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, "https://h.example/medbook/")

    url = storage.url("a/b.png", expires_in=dt.timedelta(minutes=5))

    assert url == "https://h.example/medbook/files/a/b.png"


# --- S3 only ------------------------------------------------------------------------------------


@pytest.fixture
def s3(s3_server: Any, aws_env: None, s3_prefix: str) -> S3Storage:
    return S3Storage(
        s3_server.bucket, endpoint_url=s3_server.endpoint, region=s3_server.region, prefix=s3_prefix
    )


def signed_parameters(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_s3_objects_live_under_the_prefix_with_encoded_metadata(
    s3: S3Storage, s3_server: Any, s3_admin: Any, s3_prefix: str
) -> None:
    s3.put("a/b.txt", b"x", content_type="text/plain", metadata={"name": "报告 1"})

    listed = s3_admin.list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{s3_prefix}/")
    head = s3_admin.head_object(Bucket=s3_server.bucket, Key=f"{s3_prefix}/a/b.txt")

    assert [item["Key"] for item in listed["Contents"]] == [f"{s3_prefix}/a/b.txt"]
    assert head["Metadata"] == {"name": "%E6%8A%A5%E5%91%8A%201"}


def test_s3_the_plain_url_of_a_private_object_is_refused(s3: S3Storage) -> None:
    s3.put("private.txt", b"secret", content_type="text/plain")
    signed = s3.url("private.txt")

    status, _, _ = fetch(signed.partition("?")[0])

    assert status == 403
    assert fetch(signed)[:2] == (200, b"secret")


def test_s3_a_signed_url_is_signature_v4_with_the_lifetime_asked(
    s3: S3Storage, s3_server: Any
) -> None:
    # moto checks neither signatures nor expiry of signed URLs (moto 5.2: a URL one second old
    # still answers 200 two seconds later), so the signed parameters are checked instead.
    s3.put("a.txt", b"x", content_type="text/plain")
    now = dt.datetime.now(dt.UTC)

    short = signed_parameters(s3.url("a.txt", expires_in=dt.timedelta(seconds=1)))
    default = signed_parameters(s3.url("a.txt"))

    assert short["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert short["X-Amz-Expires"] == "1"
    assert default["X-Amz-Expires"] == "3600"
    signed_at = dt.datetime.strptime(short["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert abs(signed_at - now) < dt.timedelta(minutes=1)
    # The credentials are the ones in the standard AWS variables.
    assert short["X-Amz-Credential"] == (
        f"{s3_server.access_key_id}/{signed_at:%Y%m%d}/{s3_server.region}/s3/aws4_request"
    )
    assert short["X-Amz-SignedHeaders"] == "host"
    assert re.fullmatch(r"[0-9a-f]{64}", short["X-Amz-Signature"])


@pytest.mark.parametrize("lifetime", [dt.timedelta(0), dt.timedelta(days=7, seconds=1)])
def test_s3_a_lifetime_out_of_range_is_refused(s3: S3Storage, lifetime: dt.timedelta) -> None:
    with pytest.raises(ValueError, match="1 second to 7 days"):
        s3.url("a.txt", expires_in=lifetime)


def test_s3_path_style_puts_the_bucket_in_the_path(s3: S3Storage, s3_server: Any) -> None:
    url = urlsplit(s3.url("a/b.png"))

    assert f"{url.scheme}://{url.netloc}" == s3_server.endpoint
    assert url.path.startswith(f"/{s3_server.bucket}/test-")
    assert url.path.endswith("/a/b.png")


def test_s3_a_public_bucket_gets_plain_urls(s3_server: Any, s3_admin: Any) -> None:
    s3_admin.create_bucket(
        Bucket="medbook-public", CreateBucketConfiguration={"LocationConstraint": s3_server.region}
    )
    # The operator makes the bucket public by policy; moto files cn-* regions under "aws-cn".
    s3_admin.put_bucket_policy(
        Bucket="medbook-public",
        Policy=(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",'
            ' "Action": "s3:GetObject", "Resource": "arn:aws-cn:s3:::medbook-public/*"}]}'
        ),
    )
    storage = S3Storage(
        "medbook-public", endpoint_url=s3_server.endpoint, region=s3_server.region, public=True
    )
    storage.put("services/massage.jpg", b"jpeg", content_type="image/jpeg")

    url = storage.url("services/massage.jpg", expires_in=dt.timedelta(seconds=5))

    assert url == f"{s3_server.endpoint}/medbook-public/services/massage.jpg"
    assert fetch(url) == (200, b"jpeg", "image/jpeg")


def test_s3_virtual_host_style_works_end_to_end(
    s3_server: Any, s3_prefix: str, s3_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "<bucket>.<host>" cannot be resolved on loopback, so every request goes through the test
    # server as an HTTP proxy: it gets the full URL and reads the bucket from the Host header,
    # as S3 and OSS do. ".test" names resolve nowhere: nothing leaves the machine.
    port = urlsplit(s3_server.endpoint).port
    monkeypatch.setenv("HTTP_PROXY", s3_server.endpoint)
    monkeypatch.setenv("http_proxy", s3_server.endpoint)
    storage = S3Storage(
        s3_server.bucket,
        endpoint_url=f"http://s3.medbook.test:{port}",
        region=s3_server.region,
        addressing_style="virtual",
        prefix=s3_prefix,
    )

    storage.put("v/x.txt", b"virtual", content_type="text/plain", metadata={"k": "v"})
    url = storage.url("v/x.txt")

    assert urlsplit(url).netloc == f"{s3_server.bucket}.s3.medbook.test:{port}"
    assert urlsplit(url).path == f"/{s3_prefix}/v/x.txt"
    assert fetch(url) == (200, b"virtual", "text/plain")
    assert storage.stat("v/x.txt").metadata == {"k": "v"}
    stored = s3_admin.get_object(Bucket=s3_server.bucket, Key=f"{s3_prefix}/v/x.txt")["Body"]
    assert stored.read() == b"virtual"
    storage.delete("v/x.txt")
    with pytest.raises(ObjectNotFound):
        storage.open("v/x.txt")


def test_s3_uploads_carry_no_checksum_trailers(
    s3_server: Any, aws_env: None, s3_prefix: str
) -> None:
    # botocore >= 1.36 adds CRC32 checksums to uploads by default (as aws-chunked trailers over
    # HTTPS), which Aliyun OSS and older MinIO refuse.
    client = s3_client(endpoint_url=s3_server.endpoint, region=s3_server.region)
    sent: list[tuple[str, dict[str, str]]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append((request.method, {k.lower(): str(v) for k, v in request.headers.items()}))

    client.meta.events.register("before-send.s3.*", record)
    storage = S3Storage(s3_server.bucket, client=client, prefix=s3_prefix)

    storage.put("a", b"bytes", content_type="text/plain")
    storage.put("b", io.BytesIO(b"stream"), content_type="text/plain")
    storage.put("c", as_input("one-way stream", payload(9 * MIB)), content_type="text/plain")

    uploads = [headers for method, headers in sent if method in ("PUT", "POST")]
    assert len(uploads) >= 5  # two PUTs, then create, parts and complete of a multipart upload
    for headers in uploads:
        assert not [h for h in headers if h.startswith(("x-amz-checksum", "x-amz-sdk-checksum"))]
        assert "x-amz-trailer" not in headers
        assert "aws-chunked" not in headers.get("content-encoding", "")


# --- storage_from_url ----------------------------------------------------------------------------


def test_url_empty_means_files_in_the_data_folder(tmp_path: Path) -> None:
    storage = storage_from_url("", data_dir=tmp_path / "medbook-data", public_base_url=BASE_URL)

    storage.put("a.txt", b"here", content_type="text/plain")

    assert (tmp_path / "medbook-data" / "files" / "a.txt").read_bytes() == b"here"
    assert storage.url("a.txt") == f"{BASE_URL}/files/a.txt"


def test_url_file_names_the_folder(tmp_path: Path) -> None:
    storage = storage_from_url(
        f"file://{tmp_path}/my%20files", data_dir=tmp_path / "unused", public_base_url=BASE_URL
    )

    storage.put("a.txt", b"there", content_type="text/plain")

    assert (tmp_path / "my files" / "a.txt").read_bytes() == b"there"
    assert not (tmp_path / "unused").exists()


def test_url_s3_reaches_the_bucket(s3_server: Any, aws_env: None, tmp_path: Path) -> None:
    storage = storage_from_url(
        f"s3://{s3_server.bucket}?endpoint={s3_server.endpoint}&region={s3_server.region}"
        "&prefix=from-url",
        data_dir=tmp_path,
        public_base_url=BASE_URL,
    )

    storage.put("a.txt", b"in the bucket", content_type="text/plain")
    url = storage.url("a.txt")

    assert urlsplit(url).path == f"/{s3_server.bucket}/from-url/a.txt"
    assert signed_parameters(url)["X-Amz-Credential"].split("/")[2] == s3_server.region
    assert fetch(url)[:2] == (200, b"in the bucket")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "s3://medbook?endpoint=https://oss-cn-hangzhou.aliyuncs.com&region=cn-hangzhou"
            "&public=true&prefix=prod/",
            "https://medbook.oss-cn-hangzhou.aliyuncs.com/prod/avatars/1.png",
        ),
        (
            "s3://medbook?endpoint=https://s3.oss-cn-shanghai.aliyuncs.com&public=true",
            "https://medbook.s3.oss-cn-shanghai.aliyuncs.com/avatars/1.png",
        ),
        (
            "s3://medbook?endpoint=http://minio.internal:9000&public=true",
            "http://minio.internal:9000/medbook/avatars/1.png",
        ),
        (
            "s3://medbook?endpoint=http://minio.internal:9000/s3/&addressing=virtual&public=true",
            "http://medbook.minio.internal:9000/s3/avatars/1.png",
        ),
        (
            "s3://medbook?region=eu-west-1&public=true",
            "https://medbook.s3.eu-west-1.amazonaws.com/avatars/1.png",
        ),
        (
            "s3://medbook?region=eu-west-1&addressing=path&public=true",
            "https://s3.eu-west-1.amazonaws.com/medbook/avatars/1.png",
        ),
    ],
    ids=["oss", "oss s3 endpoint", "minio", "virtual behind a path", "aws", "aws path"],
)
def test_url_s3_parameters_shape_public_urls(
    aws_env: None, tmp_path: Path, url: str, expected: str
) -> None:
    storage = storage_from_url(url, data_dir=tmp_path, public_base_url=BASE_URL)

    assert storage.url("avatars/1.png") == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example/x", "use file:///absolute/path or s3://bucket"),
        ("/var/medbook", "use file:///absolute/path or s3://bucket"),
        ("file://relative/path", "file:///absolute/path"),
        ("file:relative", "file:///absolute/path"),
        ("file:///a?b=c", "file:///absolute/path"),
        ("s3://", "name the bucket"),
        ("s3://?endpoint=http://x", "name the bucket"),
        ("s3://Medbook_Files", "not a bucket name"),
        ("s3://medbook/avatars", "prefix="),
        ("s3://medbook?addressing=sideways", "'path' or 'virtual'"),
        ("s3://medbook?public=yes", "'true' or 'false'"),
        ("s3://medbook?colour=red", "unknown parameter colour"),
        ("s3://medbook?region=a&region=b", "region given more than once"),
        ("s3://medbook?region=cn hangzhou", "not a region"),
        ("s3://medbook?endpoint=oss-cn-hangzhou.aliyuncs.com", "endpoint"),
        ("s3://medbook?endpoint=ftp://x", "endpoint"),
        (
            "s3://medbook?endpoint=https://oss-cn-hangzhou.aliyuncs.com&addressing=path",
            "Aliyun OSS accepts only addressing=virtual",
        ),
        ("s3://medbook?prefix=../up", "bad prefix"),
        ("s3://AKID:hunter2@medbook", "AWS_ACCESS_KEY_ID"),
    ],
)
def test_url_a_bad_one_says_what_is_wrong(
    aws_env: None, tmp_path: Path, url: str, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        storage_from_url(url, data_dir=tmp_path, public_base_url=BASE_URL)

    assert "hunter2" not in str(raised.value)


def test_url_files_default_lives_where_the_data_folder_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative data folder, as in the embedded default ./medbook-data
    storage = storage_from_url(" ", data_dir=Path("medbook-data"), public_base_url=BASE_URL)

    storage.put("x", b"x", content_type="text/plain")

    assert (tmp_path / "medbook-data" / "files" / "x").is_file()
