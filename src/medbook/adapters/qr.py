"""QR codes drawn with the ``qrcode`` library, as PNG images."""

from __future__ import annotations

import io

import qrcode  # type: ignore[import-untyped]
from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped]


class QrPng:
    """Medium error correction (15% of the symbol may be damaged), 8-pixel modules, the
    standard 4-module quiet zone: readable by phone cameras from a screen or paper."""

    def png(self, text: str) -> bytes:
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
        code.add_data(text)
        code.make(fit=True)
        image = code.make_image()
        out = io.BytesIO()
        image.save(out)  # PNG, through Pillow
        return out.getvalue()
