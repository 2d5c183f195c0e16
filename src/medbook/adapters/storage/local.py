"""Objects as files in a folder: the embedded default (``./medbook-data/files``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from medbook.adapters.storage.keys import (
    SIDECAR_SUFFIX,
    check_content_type,
    check_key,
    check_metadata,
)
from medbook.domain.shared.errors import Conflict, InvalidKey, ObjectNotFound
from medbook.ports.storage import StoredObject

_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_CHUNK = 1024 * 1024
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalStorage:
    """Each object is the file ``root/<key>``; its content type and metadata, the JSON file beside
    it, ``root/<key>.meta.json`` (no key can name one: see ``check_key``).

    Every write goes to a temporary file in the same folder, then ``os.replace``: a reader sees the
    old object or the new one, never a part. The data file is replaced before its metadata file, so
    two concurrent ``put`` of one key may leave the data of one and the metadata of the other.

    Every path is resolved, symlinks included, and refused with ``InvalidKey`` unless it stays in
    ``root``. Unlike a bucket, a folder cannot hold both ``a`` and ``a/b``: storing the second
    raises ``Conflict``. URLs are not signed: the HTTP app serves ``{base_url}/files/{key}`` itself.
    """

    def __init__(self, root: Path, base_url: str) -> None:
        self._root = root.resolve()
        self._base_url = base_url.rstrip("/")

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        path = self._path(key)
        check_content_type(content_type)
        checked = check_metadata(metadata)
        sidecar = _sidecar(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            size = _replace(path, data)
            _replace(sidecar, json.dumps({"content_type": content_type, "metadata": checked}))
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
            raise Conflict(
                f"{key!r} cannot be stored on local disk: a folder cannot hold an object and "
                "objects under it of the same name",
                key=key,
            ) from error
        return StoredObject(key=key, content_type=content_type, size=size, metadata=checked)

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return path.open("rb")
        except _MISSING as error:
            raise ObjectNotFound(f"no object {key!r}", key=key) from error

    def stat(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            status = path.stat()
        except _MISSING as error:
            raise ObjectNotFound(f"no object {key!r}", key=key) from error
        if not stat.S_ISREG(status.st_mode):
            raise ObjectNotFound(f"no object {key!r}", key=key)
        content_type, metadata = _read_sidecar(_sidecar(path))
        return StoredObject(
            key=key, content_type=content_type, size=status.st_size, metadata=metadata
        )

    def delete(self, key: str) -> None:
        path = self._path(key)
        # The data file first: a sidecar without its data file is no object, the reverse would be.
        for doomed in (path, _sidecar(path)):
            with contextlib.suppress(*_MISSING):
                doomed.unlink()

    def url(self, key: str, *, expires_in: dt.timedelta | None = None) -> str:
        self._path(key)
        return f"{self._base_url}/files/{key}"

    def _path(self, key: str) -> Path:
        path = self._root / check_key(key)
        for candidate in (path, _sidecar(path)):
            if not candidate.resolve().is_relative_to(self._root):
                raise InvalidKey(f"{key!r} leads outside the storage folder")
        return path


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _replace(path: Path, data: bytes | str | BinaryIO) -> int:
    """Write ``data`` to a new file beside ``path``, then move it over ``path``; its size."""
    # "~" is no key character, so no key can name a temporary file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix="~", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            if isinstance(data, str):
                file.write(data.encode())
            elif isinstance(data, bytes):
                file.write(data)
            else:
                shutil.copyfileobj(data, file, _CHUNK)
            file.flush()
            os.fsync(file.fileno())
            size = file.tell()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return size


def _read_sidecar(sidecar: Path) -> tuple[str, dict[str, str]]:
    """The content type and metadata kept in ``sidecar``."""
    try:
        described = json.loads(sidecar.read_text())
    except FileNotFoundError:
        # A crash between replacing the data file and its sidecar leaves the data alone.
        return _DEFAULT_CONTENT_TYPE, {}
    metadata = {str(name): str(value) for name, value in described["metadata"].items()}
    return str(described["content_type"]), metadata
