"""Files over HTTP: uploads, doctors' avatars, and serving stored objects back (the local-disk
adapter's URLs point at ``/files/{key}``, a plain Falcon resource outside the route table)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import falcon
from attrs import frozen

from medbook.domain.files.uploads import (
    ALLOWED,
    AVATAR_TYPES,
    UPLOAD_NAME_PARTS,
    FileType,
    is_public_key,
)
from medbook.domain.shared.errors import ObjectNotFound
from medbook.entrypoints.http.api import Call, FileAnswer, FileBody, Operation, Route, send_file
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


def uploaded_file(s: Services, c: Call[None, None]) -> FileAnswer:
    name = "/".join((c.params["year"], c.params["month"], c.params["name"]))
    download = s.uploads.open_as(c.me, name)
    return FileAnswer(download.stored.content_type, download.stored.size, download.stream)


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
                errors=(403, 413, 415, 422, 503),
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
                errors=(413, 415, 422, 503),
                description="The file is private: its `url` serves it to the uploader, and to "
                "whoever it is shared with (the other party of a chat message that carries it).",
            )
        },
        "files",
    ),
    Route(
        "/v1/uploads/{year}/{month}/{name}",
        {
            "GET": Operation(
                uploaded_file,
                "An uploaded file, for its uploader and whoever it was shared with",
                download=True,
                errors=(404, 503),
            )
        },
        "files",
        patterns={part: f"^{pattern}$" for part, pattern in UPLOAD_NAME_PARTS.items()},
    ),
)

# --- stored objects ------------------------------------------------------------------------------


class Files:
    """``GET /files/{key}``: a stored object, with headers that keep a browser from running it."""

    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage

    def on_get(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        if not is_public_key(key):
            # Only avatars are public; uploads and record attachments are served by their own
            # authorised routes, to whom they belong (an allow-list: a new folder is private).
            raise ObjectNotFound(f"no object {key}")
        stored = self.storage.stat(key)  # ObjectNotFound → 404, InvalidKey → 422
        answer = FileAnswer(stored.content_type, stored.size, self.storage.open(key))
        send_file(resp, answer, "private, max-age=86400, immutable")
