"""Object storage: avatars, chat images and files, service images, medical-record photos.

Every method that reaches the store raises ``StorageUnavailable`` when it cannot be reached or does
not answer in time (an adapter bounds that time): the services let it through, and the caller may
try again later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import BinaryIO, Protocol

from attrs import frozen

from medbook.domain.shared.errors import StorageUnavailable

__all__ = ["ObjectStorage", "StorageUnavailable", "StoredObject"]


@frozen
class StoredObject:
    key: str
    content_type: str
    size: int
    metadata: Mapping[str, str] = {}


class ObjectStorage(Protocol):
    """A flat key → bytes store. Keys are chosen by the caller: ``[a-z0-9][a-z0-9/._-]*``."""

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Store ``data`` (bytes, or a stream read to its end) under ``key``, replacing any;
        raises ``StorageUnavailable`` (then the object may or may not have been stored)."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The object's bytes as a stream; raises ``ObjectNotFound``."""
        ...

    def stat(self, key: str) -> StoredObject:
        """Content type, size and metadata; raises ``ObjectNotFound``."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when it does not exist. Raises
        ``StorageUnavailable`` (then it may or may not have been removed)."""
        ...

    def url(self, key: str, *, expires_in: dt.timedelta | None = None) -> str:
        """Where a client fetches the object: public, or signed for ``expires_in`` when given."""
        ...
