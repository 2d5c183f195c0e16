"""Uploads to object storage, and doctors' avatars."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import BinaryIO

from attrs import Factory, define, frozen

from medbook.domain.directory.model import Doctor
from medbook.domain.files.uploads import (
    AVATAR_TYPES,
    SNIFF_BYTES,
    UPLOAD_FOLDER,
    UPLOAD_PATH,
    FileType,
    ensure_sane_dimensions,
    ensure_size,
    sniff,
    upload_key,
    upload_path,
    uploader_tag,
)
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    InvalidValue,
    ObjectNotFound,
    StorageUnavailable,
    TooLarge,
    UnsupportedType,
)
from medbook.ports.clock import Clock
from medbook.ports.files import FilesUnitOfWork
from medbook.ports.images import ImageInspector
from medbook.ports.storage import ObjectStorage, StoredObject
from medbook.services.authorization import require_role
from medbook.services.directory import doctor_of
from medbook.services.transactions import transactionally

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024

#: The metadata entry that records who uploaded a file.
UPLOADED_BY = "uploaded-by"

#: Whether the actor may fetch the upload at that path because it was shared with them (a chat
#: message in one of their conversations carries it, …). Each context that shares uploads adds one.
UploadGrant = Callable[[Actor, str], bool]


@frozen
class Upload:
    key: str
    url: str
    content_type: str
    size: int


def read_limited(stream: BinaryIO, limit: int) -> bytes:
    """Everything ``stream`` holds, refusing as soon as more than ``limit`` bytes have come."""
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the file is larger than {limit} bytes", limit=limit)
        parts.append(chunk)


@frozen
class Download:
    """An upload the caller may read: what it is, and its bytes."""

    stored: StoredObject
    stream: BinaryIO


@define
class UploadService:
    new_uow: Callable[[], FilesUnitOfWork]
    clock: Clock
    storage: ObjectStorage
    images: ImageInspector
    max_bytes: int = DEFAULT_MAX_BYTES
    #: This API's public base URL ("" = the paths alone), for the links ``upload`` returns.
    public_url: str = ""
    grants: list[UploadGrant] = Factory(list)

    def _accept(
        self, stream: BinaryIO, allowed: tuple[FileType, ...] | None = None
    ) -> tuple[bytes, FileType]:
        data = read_limited(stream, self.max_bytes)
        ensure_size(len(data), self.max_bytes)
        file_type = sniff(data[:SNIFF_BYTES])
        if allowed is not None and file_type not in allowed:
            names = ", ".join(t.content_type for t in allowed)
            raise UnsupportedType(f"only {names} files are accepted here")
        if file_type.is_image:
            ensure_sane_dimensions(*self.images.dimensions(data, file_type))
        return data, file_type

    def _key(self, folder: str, file_type: FileType) -> str:
        now = self.clock.now()
        return f"{folder}/{now:%Y/%m}/{secrets.token_hex(16)}.{file_type.extension}"

    def upload(self, actor: Actor, stream: BinaryIO, filename: str | None = None) -> Upload:
        """Store a file any user sends (chat images and files, record photos …) under a random key.

        Its type is decided by its own bytes; the client's name is kept only as metadata. The file
        is private: its link (``/v1/uploads/…``) serves it to the uploader, and to whoever it is
        shared with (``grants``), never to anyone holding the link.
        """
        data, file_type = self._accept(stream)
        key = self._key(UPLOAD_FOLDER, file_type)
        metadata = {UPLOADED_BY: uploader_tag(actor.role, actor.id)}
        if filename:
            metadata["filename"] = _safe_filename(filename)
        stored = self.storage.put(key, data, content_type=file_type.content_type, metadata=metadata)
        return Upload(key, self.public_url + upload_path(key), stored.content_type, stored.size)

    def store_private(
        self,
        actor: Actor,
        stream: BinaryIO,
        folder: str,
        filename: str | None = None,
        allowed: tuple[FileType, ...] | None = None,
    ) -> StoredObject:
        """Store a file under a random key of a private ``folder`` (served only by the route of
        the context that keeps the key, never by ``/files/``); its type from its bytes."""
        data, file_type = self._accept(stream, allowed)
        key = self._key(folder, file_type)
        metadata = {UPLOADED_BY: uploader_tag(actor.role, actor.id)}
        if filename:
            metadata["filename"] = _safe_filename(filename)
        return self.storage.put(key, data, content_type=file_type.content_type, metadata=metadata)

    def open_key(self, key: str) -> Download:
        """A stored file by its key, for a context that has authorised the read itself."""
        stored = self.storage.stat(key)
        return Download(stored, self.storage.open(key))

    def delete_keys(self, keys: list[str]) -> None:
        """Delete stored files (after the transaction that forgot them committed); a failure is
        logged, not raised: the rows are gone, the files are unreachable. Each file left behind
        is logged at ERROR with its key, for the operator to delete: nothing retries it.

        Once the store is unavailable the rest are not tried: each try would cost the store's
        timeouts again, and a record's twenty would outlast the worker's."""
        for position, key in enumerate(keys):
            try:
                self.storage.delete(key)
            except StorageUnavailable as error:
                for left in keys[position:]:
                    log.error(
                        "stored file %s left behind: the store is unavailable (%s)",
                        left,
                        error.__cause__ or error.message,
                    )
                return
            except Exception:
                log.exception("could not delete stored file %s", key)

    def attachment_of(self, actor: Actor, url: str, field: str = "content") -> str:
        """``url`` as an attachment of the actor's (a chat image, …): the path of an upload of
        theirs (``InvalidValue`` on ``field`` for any other URL, another user's upload included)."""
        key = upload_key(url, self.public_url)
        stored = self._stat(key) if key is not None else None
        if stored is None or not _uploaded_by(stored, actor):
            raise InvalidValue(field, "must be the URL of a file you uploaded (POST /v1/uploads)")
        return upload_path(stored.key)

    def open_as(self, actor: Actor, name: str) -> Download:
        """The upload at ``/v1/uploads/<name>``, for its uploader or someone it was shared with;
        to anyone else it does not exist."""
        path = UPLOAD_PATH + name
        key = upload_key(path)
        stored = self._stat(key) if key is not None else None
        if stored is None or not (
            _uploaded_by(stored, actor) or any(grant(actor, path) for grant in self.grants)
        ):
            raise ObjectNotFound(f"no upload {name}")
        return Download(stored, self.storage.open(stored.key))

    def _stat(self, key: str) -> StoredObject | None:
        try:
            return self.storage.stat(key)
        except ObjectNotFound:
            return None

    def set_avatar(self, actor: Actor, stream: BinaryIO) -> Doctor:
        """A doctor's new avatar (PNG or JPEG); the old one is deleted once the new one is saved."""
        require_role(actor, Role.DOCTOR)
        data, file_type = self._accept(stream, allowed=AVATAR_TYPES)
        key = self._key("avatars", file_type)
        self.storage.put(key, data, content_type=file_type.content_type)
        url = self.storage.url(key)

        def work(uow: FilesUnitOfWork) -> tuple[Doctor, str | None]:
            doctor = doctor_of(uow, actor.id, for_update=True)
            old = doctor.avatar_key
            doctor.avatar_key, doctor.avatar_url = key, url
            uow.doctors.save(doctor)
            return doctor, old

        try:
            doctor, old = transactionally(self.new_uow, work)
        except BaseException:
            self.delete_keys([key])  # nothing points at it; the transaction's error is the answer
            raise
        if old and old != key:
            self.delete_keys([old])  # committed: a store gone meanwhile leaves it behind, logged
        return doctor


def _safe_filename(filename: str) -> str:
    """A client's file name as metadata: printable ASCII (others escaped, control characters
    replaced by ``_``), at most 200 characters."""
    ascii_only = filename.encode("ascii", "backslashreplace").decode()
    return "".join(c if " " <= c < "\x7f" else "_" for c in ascii_only)[:200]


def _uploaded_by(stored: StoredObject, actor: Actor) -> bool:
    return stored.metadata.get(UPLOADED_BY) == uploader_tag(actor.role, actor.id)
