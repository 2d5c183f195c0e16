"""The object storage named by ``MEDBOOK_STORAGE_URL``.

- empty: files under ``<data_dir>/files`` (the embedded default);
- ``file:///abs/path``: files under that folder;
- ``s3://bucket?endpoint=https://oss-cn-hangzhou.aliyuncs.com&region=cn-hangzhou&addressing=virtual
  &public=false&prefix=medbook``: an S3-compatible bucket. Every parameter is optional:
  ``endpoint`` (default AWS S3), ``region``, ``addressing`` (``path`` or ``virtual``; by default
  ``virtual`` on AWS and on Aliyun OSS, which accepts nothing else, ``path`` elsewhere, as MinIO
  wants), ``public`` (``true`` when the bucket is publicly readable: URLs are then left unsigned)
  and ``prefix`` (a folder in the bucket). Credentials never go in the URL: boto3 reads them from
  ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` (the OSS AccessKey pair too) or its chain.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from medbook.adapters.storage.local import LocalStorage
from medbook.ports.storage import ObjectStorage

_S3_PARAMETERS = ("endpoint", "region", "addressing", "public", "prefix")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_BOOLEANS = {"true": True, "false": False}


def storage_from_url(url: str, *, data_dir: Path, public_base_url: str) -> ObjectStorage:
    """The storage ``url`` names; raises ``ValueError`` saying what is wrong with it."""
    if not url.strip():
        return LocalStorage(data_dir / "files", public_base_url)
    scheme = url.partition(":")[0].lower()
    if scheme == "file":
        return LocalStorage(_local_folder(url), public_base_url)
    if scheme == "s3":
        return _s3_storage(url)
    raise ValueError(
        f"storage URL {_without_query(url)!r}: use file:///absolute/path or s3://bucket?endpoint=…"
    )


def _local_folder(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith("/") or parts.query or parts.fragment:
        raise ValueError(
            f"storage URL {url!r}: a folder is file:///absolute/path (three slashes, no host)"
        )
    return Path(unquote(parts.path))


def _s3_storage(url: str) -> ObjectStorage:
    from medbook.adapters.storage.s3 import S3Storage  # boto3 loads only when a bucket is used

    parts = urlsplit(url)
    shown = _without_query(url)
    if "@" in parts.netloc:
        # Not echoed: it would put the secret in a log.
        raise ValueError(
            "storage URL: credentials do not go in the URL; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (for Aliyun OSS, its AccessKey pair)"
        )
    if not parts.netloc:
        raise ValueError(f"storage URL {shown!r}: name the bucket, as in s3://bucket")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"storage URL {shown!r}: a folder in the bucket goes in ?prefix=…")
    options = _options(parts.query, shown)
    endpoint = options.get("endpoint")
    if endpoint is not None:
        _check_endpoint(endpoint)
    region = options.get("region")
    if region is not None and _REGION.fullmatch(region) is None:
        raise ValueError(f"storage URL {shown!r}: {region!r} is not a region like cn-hangzhou")
    addressing = options.get("addressing", _default_addressing(endpoint))
    if addressing not in ("path", "virtual"):
        raise ValueError(f"storage URL {shown!r}: addressing is 'path' or 'virtual'")
    if addressing == "path" and _is_aliyun(endpoint):
        raise ValueError(f"storage URL {shown!r}: Aliyun OSS accepts only addressing=virtual")
    public = options.get("public", "false")
    if public not in _BOOLEANS:
        raise ValueError(f"storage URL {shown!r}: public is 'true' or 'false'")
    return S3Storage(
        parts.netloc,
        endpoint_url=endpoint,
        region=region,
        addressing_style="path" if addressing == "path" else "virtual",
        public=_BOOLEANS[public],
        prefix=options.get("prefix", ""),
    )


def _options(query: str, shown: str) -> dict[str, str]:
    try:
        values = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as error:
        raise ValueError(f"storage URL {shown!r}: cannot read the query: {error}") from error
    unknown = sorted(set(values) - set(_S3_PARAMETERS))
    if unknown:
        raise ValueError(
            f"storage URL {shown!r}: unknown parameter {', '.join(unknown)}; "
            f"known: {', '.join(_S3_PARAMETERS)}"
        )
    repeated = sorted(name for name, given in values.items() if len(given) > 1)
    if repeated:
        raise ValueError(f"storage URL {shown!r}: {', '.join(repeated)} given more than once")
    return {name: given[0] for name, given in values.items()}


def _check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or "@" in (parts.netloc)
    ):
        raise ValueError(
            f"storage URL: endpoint {endpoint!r} is not like https://oss-cn-hangzhou.aliyuncs.com"
        )


def _default_addressing(endpoint: str | None) -> str:
    return "virtual" if endpoint is None or _is_aliyun(endpoint) else "path"


def _is_aliyun(endpoint: str | None) -> bool:
    host = urlsplit(endpoint).hostname if endpoint else None
    return host is not None and host.endswith(".aliyuncs.com")


def _without_query(url: str) -> str:
    return url.partition("?")[0]
