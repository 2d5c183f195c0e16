"""Uploads to object storage, and doctors' avatars."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import BinaryIO

from attrs import define, frozen

from medbook.domain.directory.model import Doctor
from medbook.domain.files.uploads import (
    AVATAR_TYPES,
    SNIFF_BYTES,
    FileType,
    ensure_sane_dimensions,
    ensure_size,
    sniff,
)
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import TooLarge, UnsupportedType
from medbook.ports.clock import Clock
from medbook.ports.files import FilesUnitOfWork
from medbook.ports.images import ImageInspector
from medbook.ports.storage import ObjectStorage
from medbook.services.authorization import require_role
from medbook.services.directory import doctor_of
from medbook.services.transactions import transactionally

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024


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


@define
class UploadService:
    new_uow: Callable[[], FilesUnitOfWork]
    clock: Clock
    storage: ObjectStorage
    images: ImageInspector
    max_bytes: int = DEFAULT_MAX_BYTES

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

        Its type is decided by its own bytes; the client's name is kept only as metadata.
        """
        data, file_type = self._accept(stream)
        key = self._key("uploads", file_type)
        metadata = {"uploaded-by": f"{actor.role.value}-{actor.id}"}
        if filename:
            metadata["filename"] = filename.encode("ascii", "backslashreplace").decode()[:200]
        stored = self.storage.put(key, data, content_type=file_type.content_type, metadata=metadata)
        return Upload(key, self.storage.url(key), stored.content_type, stored.size)

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
            self.storage.delete(key)  # nothing points at it
            raise
        if old and old != key:
            self.storage.delete(old)
        return doctor
