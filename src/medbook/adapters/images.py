"""Image inspection with Pillow: decodes the header and checks the file's integrity."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from medbook.domain.errors import InvalidValue
from medbook.domain.uploads import MAX_IMAGE_PIXELS, FileType

_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


class PillowInspector:
    def dimensions(self, data: bytes, file_type: FileType) -> tuple[int, int]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(
                    io.BytesIO(data), formats=[_FORMATS[file_type.content_type]]
                ) as image:
                    size = image.size
                    if size[0] * size[1] > MAX_IMAGE_PIXELS:
                        raise InvalidValue(
                            "file", f"images may have at most {MAX_IMAGE_PIXELS} pixels"
                        )
                    image.verify()
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            KeyError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ):
            raise InvalidValue("file", f"not a valid {file_type.extension.upper()} image") from None
        return int(size[0]), int(size[1])
