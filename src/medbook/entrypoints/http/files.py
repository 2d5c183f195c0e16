"""Files over HTTP: uploads, doctors' avatars, and serving stored objects back (the local-disk
adapter's URLs point at ``/files/{key}``, a plain Falcon resource outside the route table)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import falcon
from attrs import frozen

from medbook.domain.files.uploads import ALLOWED, AVATAR_TYPES, PDF, FileType
from medbook.entrypoints.http.api import Call, FileBody, Operation, Route
from medbook.ports.storage import ObjectStorage

if TYPE_CHECKING:
    from medbook.bootstrap import Services


def media_types(file_types: tuple[FileType, ...]) -> tuple[str, ...]:
    return tuple(t.content_type for t in file_types)


#: What ``/v1/uploads`` takes: every type the domain accepts (its type is read from its bytes).
UPLOAD_TYPES = media_types(ALLOWED)
#: What an avatar may be (``UploadService.set_avatar`` accepts the same two).
AVATAR_MEDIA_TYPES = media_types(AVATAR_TYPES)

# --- views ---------------------------------------------------------------------------------------


@frozen
class Uploaded:
    url: str
    content_type: str
    size: int


@frozen
class Avatar:
    avatar_url: str | None


# --- handlers ------------------------------------------------------------------------------------


def upload(s: Services, c: Call[FileBody, None]) -> Uploaded:
    u = s.uploads.upload(c.me, c.body.stream, c.body.filename)
    return Uploaded(u.url, u.content_type, u.size)


def set_avatar(s: Services, c: Call[FileBody, None]) -> Avatar:
    return Avatar(s.uploads.set_avatar(c.me, c.body.stream).avatar_url)


# --- routes --------------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/doctors/me/avatar",
        {
            "PUT": Operation(
                set_avatar,
                "A doctor uploads their avatar (PNG or JPEG); the old one is deleted",
                files=AVATAR_MEDIA_TYPES,
                response=Avatar,
                errors=(403, 413, 415, 422),
            )
        },
        "directory",  # listed with the doctor's own pages in the document
    ),
    Route(
        "/v1/uploads",
        {
            "POST": Operation(
                upload,
                "Upload a file (PNG, JPEG, GIF, WebP or PDF; its type is read from its bytes)",
                files=UPLOAD_TYPES,
                status=201,
                response=Uploaded,
                errors=(413, 415, 422),
            )
        },
        "files",
    ),
)

# --- stored objects ------------------------------------------------------------------------------


class Files:
    """``GET /files/{key}``: a stored object, with headers that keep a browser from running it."""

    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage

    def on_get(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        stored = self.storage.stat(key)  # ObjectNotFound → 404, InvalidKey → 422
        resp.content_type = stored.content_type
        resp.set_header("X-Content-Type-Options", "nosniff")
        # Whatever a file holds, a browser must not run it as part of this site.
        resp.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        resp.set_header("Cache-Control", "private, max-age=86400, immutable")
        if stored.content_type == PDF.content_type:
            resp.set_header("Content-Disposition", "attachment")
        resp.set_stream(self.storage.open(key), stored.size)
