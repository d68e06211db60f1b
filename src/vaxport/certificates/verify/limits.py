"""Size caps of the verifier: a QR code holds at most ~4 KB, so anything far larger is
an attack (a decompression bomb), not a certificate."""

from __future__ import annotations

import zlib

MAX_TEXT_CHARS = 64 * 1024  # a pasted payload or a .smart-health-card file
MAX_INFLATED_BYTES = 64 * 1024  # one DCC CWT or one SHC payload, decompressed


class InflateError(ValueError):
    """Not a complete compressed stream within the cap."""


def inflate(data: bytes, *, raw: bool, cap: int = MAX_INFLATED_BYTES) -> bytes:
    """zlib (DCC) or raw DEFLATE (SHC, ``raw=True``) stream -> bytes, at most ``cap`` of them.

    Output is produced at most ``cap + 1`` bytes at a time, so a bomb costs no memory.
    """
    inflater = zlib.decompressobj(-15 if raw else 15)
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error as exc:
        raise InflateError(f"not {'DEFLATE' if raw else 'zlib'} data ({exc})") from None
    if len(out) > cap:
        raise InflateError(f"decompresses to more than {cap} bytes (refused)")
    if not inflater.eof:
        raise InflateError("truncated compressed data")
    if inflater.unused_data:
        raise InflateError("data after the end of the compressed stream")
    return out
