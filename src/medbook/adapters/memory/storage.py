"""Object storage in a dict: for unit tests and embedding without files."""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Mapping
from typing import BinaryIO

from medbook.adapters.storage.keys import check_key
from medbook.domain.shared.errors import ObjectNotFound
from medbook.ports.storage import StoredObject


class MemoryStorage:
    def __init__(self, base_url: str = "memory://objects") -> None:
        self.base_url = base_url
        self._objects: dict[str, tuple[bytes, StoredObject]] = {}
        self._lock = threading.Lock()

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        check_key(key)
        content = data if isinstance(data, bytes) else data.read()
        stored = StoredObject(key, content_type, len(content), dict(metadata or {}))
        with self._lock:
            self._objects[key] = (content, stored)
        return stored

    def _get(self, key: str) -> tuple[bytes, StoredObject]:
        check_key(key)
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise ObjectNotFound(f"no object {key}")
        return found

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self._get(key)[0])

    def stat(self, key: str) -> StoredObject:
        return self._get(key)[1]

    def delete(self, key: str) -> None:
        check_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def url(self, key: str, *, expires_in: dt.timedelta | None = None) -> str:
        check_key(key)
        return f"{self.base_url}/{key}"

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._objects)
