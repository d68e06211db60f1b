"""QR codes read back from an image, as the verifier reads them (QR codes only: zxing's
other formats find phantom 1D barcodes in a QR code's modules now and then)."""

from __future__ import annotations

from typing import Any


def qr_texts(image: Any) -> list[str]:
    """The texts of the QR codes in a Pillow image, in zxing-cpp's order."""
    import zxingcpp

    formats = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in zxingcpp.read_barcodes(image, formats=formats)]
