"""Objects in an S3-compatible bucket: AWS S3, Aliyun OSS, MinIO.

Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, an instance role …); for Aliyun OSS the same two variables carry the OSS AccessKey
pair. Requests are signed with Signature Version 4.

Every wait on the store is bounded (``CONNECT_TIMEOUT_S``, ``READ_TIMEOUT_S``, ``MAX_ATTEMPTS``),
and a store that cannot be reached, does not answer in time or fails on its side raises the port's
``StorageUnavailable``: the request that needed it answers 503 in seconds, and the next one tries
the store again (nothing is remembered, so a store that comes back is used at once).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, BinaryIO, Literal, cast
from urllib.parse import unquote, urlsplit

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    HTTPClientError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable

from medbook.adapters.storage.keys import (
    check_content_type,
    check_key,
    check_metadata,
    encode_metadata_value,
)
from medbook.domain.shared.errors import InvalidKey, ObjectNotFound, StorageUnavailable
from medbook.ports.storage import StoredObject

AddressingStyle = Literal["path", "virtual"]

#: How long a signed URL stays valid when the caller does not say.
DEFAULT_URL_LIFETIME = dt.timedelta(hours=1)
#: The longest a Signature Version 4 URL may live.
MAX_URL_LIFETIME = dt.timedelta(days=7)

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
#: Error codes of a store that is failing or overloaded rather than refusing the request
#: (RequestTimeout is a 400: the connection to the store stalled mid-request).
_UNAVAILABLE_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"}
)

_UNAVAILABLE = "the file store cannot be reached right now; try again in a moment"

#: Seconds to open a connection to the store: milliseconds on a LAN or within a region; 2 s let
#: one lost SYN be sent again (Linux resends it after 1 s). A stopped store refuses at once.
CONNECT_TIMEOUT_S = 2
#: Seconds one socket read (or write) may wait: a store answers in milliseconds once it has the
#: body, and an upload that is moving at all sends its next piece well within this. A store that
#: accepts connections and then hangs costs this much per attempt.
READ_TIMEOUT_S = 3
#: Attempts per call, the first included (one retry, after at most 1 s of backoff): a
#: keep-alive connection the store closed, or one dropped packet, is retried; an outage is not
#: waited out. An upload also waits up to 1 s for ``100 Continue`` before it sends its body
#: (botocore's fixed wait). Per call: a stopped store (refused) about 1 s, a black hole
#: 2 + 1 + 2 = 5 s, a hung store 2 * (1 + 3) + 1 = 9 s, and at worst 2 * (2 + 1 + 3) + 1 = 13 s:
#: even two such calls in one request end before gunicorn's 30 s worker timeout.
MAX_ATTEMPTS = 2


def s3_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    addressing_style: AddressingStyle = "path",
) -> Any:
    """A boto3 S3 client set up for every S3-compatible server medbook supports."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing_style},
        # botocore >= 1.36 adds CRC checksums to every upload, as aws-chunked trailers for
        # streams; Aliyun OSS and older MinIO refuse those. Checksums only where an API needs one.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )
    # A session of its own: boto3's default session is not safe to share between threads.
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


class S3Storage:
    """Each object is ``<prefix><key>`` in ``bucket``; its content type is the object's, its
    metadata the object's user metadata (values percent-encoded, as S3 carries them in headers).

    ``url`` signs a GET for an hour (or ``expires_in``), unless ``public``: then it is the plain
    object URL, for a bucket (or prefix) that the operator made publicly readable by policy.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: AddressingStyle = "path",
        public: bool = False,
        prefix: str = "",
        client: Any = None,
    ) -> None:
        if _BUCKET.fullmatch(bucket) is None:
            raise ValueError(f"{bucket!r} is not a bucket name: 3 to 63 of a-z 0-9 . -")
        if addressing_style not in ("path", "virtual"):
            raise ValueError(f"addressing style is 'path' or 'virtual', not {addressing_style!r}")
        self._bucket = bucket
        self._addressing_style = addressing_style
        self._public = public
        self._prefix = _checked_prefix(prefix)
        self._client = (
            client
            if client is not None
            else s3_client(
                endpoint_url=endpoint_url, region=region, addressing_style=addressing_style
            )
        )

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        name = self._name(key)
        check_content_type(content_type)
        checked = check_metadata(metadata)
        encoded = {n: encode_metadata_value(value) for n, value in checked.items()}
        if isinstance(data, bytes):
            with _reaching("store", key):
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=name,
                    Body=data,
                    ContentType=content_type,
                    Metadata=encoded,
                )
            return StoredObject(
                key=key, content_type=content_type, size=len(data), metadata=checked
            )
        # Multipart above 8 MiB, so a stream is never held in memory whole.
        with _reaching("store", key):
            self._client.upload_fileobj(
                data,
                self._bucket,
                name,
                ExtraArgs={"ContentType": content_type, "Metadata": encoded},
            )
        return self.stat(key)

    def open(self, key: str) -> BinaryIO:
        name = self._name(key)
        try:
            with _reaching("read", key):
                response = self._client.get_object(Bucket=self._bucket, Key=name)
        except ClientError as error:
            if _is_missing(error):
                raise ObjectNotFound(f"no object {key!r}", key=key) from error
            raise
        # botocore's StreamingBody is an io.IOBase: read(), iteration, close(), ``with``.
        return cast(BinaryIO, response["Body"])

    def stat(self, key: str) -> StoredObject:
        name = self._name(key)
        try:
            with _reaching("read", key):
                response = self._client.head_object(Bucket=self._bucket, Key=name)
        except ClientError as error:
            if _is_missing(error):
                raise ObjectNotFound(f"no object {key!r}", key=key) from error
            raise
        return StoredObject(
            key=key,
            content_type=response.get("ContentType") or "application/octet-stream",
            size=response["ContentLength"],
            metadata={n: unquote(value) for n, value in response.get("Metadata", {}).items()},
        )

    def delete(self, key: str) -> None:
        name = self._name(key)
        try:
            with _reaching("delete", key):
                self._client.delete_object(Bucket=self._bucket, Key=name)
        except ClientError as error:
            # S3 answers 204 for a missing key; some compatible servers answer 404.
            if not _is_missing(error):
                raise

    def url(self, key: str, *, expires_in: dt.timedelta | None = None) -> str:
        name = self._name(key)
        if self._public:
            return self._public_url(name)
        lifetime = DEFAULT_URL_LIFETIME if expires_in is None else expires_in
        if not dt.timedelta(seconds=1) <= lifetime <= MAX_URL_LIFETIME:
            raise ValueError(f"a signed URL lives from 1 second to 7 days, not {lifetime}")
        url: str = self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": name},
            ExpiresIn=int(lifetime.total_seconds()),
        )
        return url

    def _name(self, key: str) -> str:
        return self._prefix + check_key(key)

    def _public_url(self, name: str) -> str:
        endpoint = urlsplit(self._client.meta.endpoint_url)
        base = endpoint.path.rstrip("/")
        if self._addressing_style == "virtual":
            return f"{endpoint.scheme}://{self._bucket}.{endpoint.netloc}{base}/{name}"
        return f"{endpoint.scheme}://{endpoint.netloc}{base}/{self._bucket}/{name}"


def _checked_prefix(prefix: str) -> str:
    """``prefix`` as ``folder/`` (or empty); it follows the key rules, so it cannot escape."""
    stripped = prefix.strip("/")
    if not stripped:
        return ""
    try:
        check_key(stripped)
    except InvalidKey as error:
        raise ValueError(f"bad prefix {prefix!r}: {error.message}") from error
    return stripped + "/"


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _MISSING_CODES


def _is_failing(error: ClientError) -> bool:
    """The store answered, but as one that is down or overloaded (5xx, SlowDown …)."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = error.response.get("Error", {}).get("Code")
    return (isinstance(status, int) and status >= 500) or code in _UNAVAILABLE_CODES


@contextmanager
def _reaching(action: str, key: str) -> Iterator[None]:
    """The store unreachable, silent past the timeouts or failing (after botocore's retry) as
    the port's ``StorageUnavailable``; any other error (a missing key, refused credentials) as
    it is. The message is for the client; what failed is in the details and the cause."""
    try:
        yield
    except (EndpointUnreachable, HTTPClientError) as error:
        raise StorageUnavailable(_UNAVAILABLE, action=action, key=key) from error
    except ClientError as error:
        if not _is_failing(error):
            raise
        raise StorageUnavailable(_UNAVAILABLE, action=action, key=key) from error
