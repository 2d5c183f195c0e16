"""The rules for object keys, content types and user metadata, shared by every storage adapter.

One rule for all adapters: what one adapter accepts, every other accepts, so the files of a
deployment can move from local disk to a bucket (or back).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from medbook.domain.shared.errors import InvalidKey, InvalidValue

#: The longest key; S3 allows 1024 bytes, the margin leaves room for a bucket prefix and a sidecar.
MAX_KEY_LENGTH = 255

#: The longest segment: a file name (255 bytes on most file systems) with room for the suffix below.
MAX_SEGMENT_LENGTH = 200

#: Suffix of the local adapter's metadata files; no key segment may end with it on any adapter.
SIDECAR_SUFFIX = ".meta.json"

#: The user metadata of one object, names and percent-encoded values together (S3's own limit).
MAX_METADATA_BYTES = 2048

_KEY = re.compile(rf"[a-z0-9][a-z0-9/._-]{{0,{MAX_KEY_LENGTH - 1}}}")
_METADATA_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_MEDIA_NAME = r"[A-Za-z0-9!#$&^_.+-]+"
_CONTENT_TYPE = re.compile(rf"{_MEDIA_NAME}/{_MEDIA_NAME}(;[ -~]*)?")


def check_key(key: str) -> str:
    """``key`` itself when it is a valid object key; raises ``InvalidKey`` otherwise.

    A key is 1 to 255 of ``a-z 0-9 / . _ -``, starts with a letter or a digit, and is a sequence of
    ``/``-separated segments of at most 200 characters, none of which is empty (no ``//``, no
    trailing ``/``), ``.`` or ``..`` (no path traversal), or ends with ``.meta.json`` (the local
    adapter's metadata files).
    """
    # fullmatch, not ``$``: ``$`` would let a trailing newline through.
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        raise InvalidKey(
            f"{_shown(key)} is not a storage key: use 1 to {MAX_KEY_LENGTH} characters of "
            "a-z 0-9 / . _ -, starting with a letter or a digit"
        )
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"{_shown(key)} has an empty, '.' or '..' segment")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidKey(
                f"{_shown(key)} has a segment longer than {MAX_SEGMENT_LENGTH} characters"
            )
        if segment.endswith(SIDECAR_SUFFIX):
            raise InvalidKey(f"{_shown(key)} has a segment ending with {SIDECAR_SUFFIX!r}")
    return key


def check_content_type(content_type: str) -> str:
    """``content_type`` itself when it is a media type such as ``image/png; q=1``."""
    if not isinstance(content_type, str) or _CONTENT_TYPE.fullmatch(content_type) is None:
        raise InvalidValue("content_type", f"{content_type!r} is not a media type like image/png")
    return content_type


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of ``metadata``; names are ``a-z 0-9 -`` (S3 lower-cases names and proxies drop
    underscores), values any text, and the whole at most ``MAX_METADATA_BYTES`` once encoded."""
    checked = dict(metadata or {})
    for name, value in checked.items():
        if not isinstance(name, str) or _METADATA_NAME.fullmatch(name) is None:
            raise InvalidValue(
                "metadata", f"{name!r} is not a metadata name: use 1 to 64 of a-z 0-9 -"
            )
        if not isinstance(value, str):
            raise InvalidValue("metadata", f"the value of {name!r} is not text")
    if sum(len(name) + len(encode_metadata_value(v)) for name, v in checked.items()) > (
        MAX_METADATA_BYTES
    ):
        raise InvalidValue("metadata", f"more than {MAX_METADATA_BYTES} bytes once encoded")
    return checked


def encode_metadata_value(value: str) -> str:
    """``value`` as printable ASCII, fit for an HTTP header (S3 metadata travels as headers)."""
    # Spaces are encoded too: a header loses its leading and trailing ones.
    return quote(value, safe="!#$&'()*+,/:;=?@[]^`{|}~")


def _shown(key: object) -> str:
    text = repr(key)
    return text if len(text) <= 60 else f"{text[:57]}..."
