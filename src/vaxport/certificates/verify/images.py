"""QR codes in photos (PNG/JPEG), read with zxing-cpp after Pillow decodes the image.

Pillow is told the pixel budget before it decodes anything: a tiny file claiming a huge
canvas (a decompression bomb) is refused from its header.
"""

from __future__ import annotations

import io
import warnings

MAX_PIXELS = 24_000_000  # a 24-megapixel phone photo; more is not a certificate's photo
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


class ImageError(ValueError):
    """The bytes are not an image the verifier reads."""


def looks_like_image(data: bytes) -> bool:
    """PNG or JPEG by its magic bytes."""
    return data.startswith(_MAGIC)


def read_qr_texts(data: bytes) -> list[str]:
    """The texts of every QR code in the image, in reading order."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    if not looks_like_image(data):
        raise ImageError("not a PNG or JPEG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=("PNG", "JPEG"))
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise ImageError(f"the image is larger than {MAX_PIXELS} pixels")
            image = opened.convert("L")
    except ImageError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ImageError(f"the image cannot be read ({type(exc).__name__})") from None
    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    return [b.text for b in found if b.valid and b.text]
