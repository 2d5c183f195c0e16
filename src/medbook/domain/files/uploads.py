"""Upload rules (OWASP file-upload guidance): what a file is comes from its own bytes, never from
the client's header or name; sizes and image dimensions are bounded."""

from __future__ import annotations

import re

from attrs import frozen

from medbook.domain.shared.actors import Role
from medbook.domain.shared.errors import InvalidValue, TooLarge, UnsupportedType

#: The smallest prefix of a file that ``sniff`` needs.
SNIFF_BYTES = 12

#: Larger images are refused: a guard against decompression bombs and absurd uploads.
MAX_IMAGE_SIDE = 10_000
MAX_IMAGE_PIXELS = 40_000_000


@frozen
class FileType:
    content_type: str
    extension: str
    is_image: bool


PNG = FileType("image/png", "png", True)
JPEG = FileType("image/jpeg", "jpg", True)
GIF = FileType("image/gif", "gif", True)
WEBP = FileType("image/webp", "webp", True)
PDF = FileType("application/pdf", "pdf", False)
ALLOWED: tuple[FileType, ...] = (PNG, JPEG, GIF, WEBP, PDF)
#: What a doctor's avatar may be.
AVATAR_TYPES: tuple[FileType, ...] = (PNG, JPEG)


def sniff(head: bytes) -> FileType:
    """The type of a file from its first bytes (its magic number); ``UnsupportedType`` otherwise."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    allowed = ", ".join(t.content_type for t in ALLOWED)
    raise UnsupportedType(f"only {allowed} files are accepted")


def ensure_size(size: int, limit: int) -> None:
    if size > limit:
        raise TooLarge(f"the file is larger than {limit} bytes", limit=limit)
    if size == 0:
        raise InvalidValue("file", "the file is empty")


def ensure_sane_dimensions(width: int, height: int) -> None:
    """Both sides from 1 to 10 000 pixels, and at most 40 megapixels."""
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise InvalidValue("file", f"image sides must be 1 to {MAX_IMAGE_SIDE} pixels")
    if width * height > MAX_IMAGE_PIXELS:
        raise InvalidValue("file", f"images may have at most {MAX_IMAGE_PIXELS} pixels")


# --- what ``/files/{key}`` serves ----------------------------------------------------------------

#: The only folders served to anyone holding a link (``/files/{key}``): doctors' avatars. Every
#: other folder — uploads, medical-record attachments, and any folder added later — is private
#: and served only through an authorised route.
PUBLIC_FOLDERS = frozenset({"avatars"})
#: Medical-record attachments: private, served by ``/v1/records/{id}/attachments/{id}``.
RECORDS_FOLDER = "records"


def is_public_key(key: str) -> bool:
    folder, slash, rest = key.partition("/")
    return bool(slash and rest) and folder in PUBLIC_FOLDERS


# --- private uploads -----------------------------------------------------------------------------

#: Uploads are private: stored under this folder (never served by the public ``/files/{key}``
#: links) and fetched through ``UPLOAD_PATH``, by their uploader and whoever they were shared with
#: (the other party of a chat message carrying them, …).
UPLOAD_FOLDER = "uploads"
UPLOAD_PATH = "/v1/uploads/"
#: An upload's name under ``UPLOAD_PATH``: ``<year>/<month>/<32 hex digits>.<extension>``.
UPLOAD_NAME_PARTS = {
    "year": r"\d{4}",
    "month": r"\d{2}",
    "name": r"[0-9a-f]{32}\.(?:" + "|".join(t.extension for t in ALLOWED) + ")",
}
_UPLOAD_NAME = re.compile("/".join(UPLOAD_NAME_PARTS.values()))


def upload_path(key: str) -> str:
    """Where the upload stored under ``key`` is fetched: ``/v1/uploads/2026/12/<hex>.png``."""
    return UPLOAD_PATH + key.removeprefix(UPLOAD_FOLDER + "/")


def upload_key(url: str, base_url: str = "") -> str | None:
    """The key of the upload at ``url`` (its path, or the path under ``base_url``, this API's
    public address); None when ``url`` is not the address of one of our uploads."""
    path = url.removeprefix(base_url) if base_url and url.startswith(base_url + "/") else url
    name = path.removeprefix(UPLOAD_PATH)
    if name == path or not _UPLOAD_NAME.fullmatch(name):
        return None
    return f"{UPLOAD_FOLDER}/{name}"


def uploader_tag(role: Role, user_id: int) -> str:
    """Who uploaded a file, as its metadata records it."""
    return f"{role.value}-{user_id}"
