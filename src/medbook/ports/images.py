from __future__ import annotations

from typing import Protocol

from medbook.domain.files.uploads import FileType


class ImageInspector(Protocol):
    def dimensions(self, data: bytes, file_type: FileType) -> tuple[int, int]:
        """Width and height of a decodable image of that type; ``InvalidValue("file")`` if it is
        not one (truncated, corrupt, another format, or a decompression bomb)."""
        ...
