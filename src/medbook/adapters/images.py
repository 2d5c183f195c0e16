"""Image inspection with Pillow: decodes the header and checks the file's integrity."""

from __future__ import annotations

import io
import warnings

from PIL import Image

from medbook.domain.files.uploads import MAX_IMAGE_PIXELS, FileType
from medbook.domain.shared.errors import InvalidValue

_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


class PillowInspector:
    def dimensions(self, data: bytes, file_type: FileType) -> tuple[int, int]:
        invalid = InvalidValue("file", f"not a valid {file_type.extension.upper()} image")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(
                    io.BytesIO(data), formats=[_FORMATS[file_type.content_type]]
                ) as image:
                    width, height = image.size
                    if width * height > MAX_IMAGE_PIXELS:
                        raise InvalidValue(
                            "file", f"images may have at most {MAX_IMAGE_PIXELS} pixels"
                        )
                    image.verify()  # checksums and structure
                # verify() leaves the image unusable and decodes nothing: decode it all once, so
                # truncated or corrupt pixel data is refused too.
                with Image.open(
                    io.BytesIO(data), formats=[_FORMATS[file_type.content_type]]
                ) as image:
                    image.load()
        except InvalidValue:
            raise
        except Exception:  # noqa: BLE001 - Pillow reports bad files with many exception types
            raise invalid from None
        return int(width), int(height)
