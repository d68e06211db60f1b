"""Identifiers: UUIDv7 (time-ordered, so B-tree inserts stay local) and short codes."""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_seq = 0

# Crockford base32 without I, L, O, U: readable aloud and over the phone.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit ms timestamp, 12-bit counter, 62 random bits.

    The counter keeps ids monotonic within one process even inside one millisecond.
    """
    global _last_ms, _seq  # noqa: PLW0603 - a process-wide monotonic clock is the point
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms, _seq = ms, int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            _seq += 1
            if _seq > 0xFFF:
                _last_ms += 1
                _seq = 0
            ms = _last_ms
        seq = _seq
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | seq << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)


# Each random byte to a letter by its low 5 bits: 256 is a multiple of 32, so the
# letters stay uniform (a registration makes two codes; a choice per letter cost 10x).
_CODE_OF_BYTE = bytes(ord(_CODE_ALPHABET[b % 32]) for b in range(256))


def short_code(length: int = 8) -> str:
    """A random human-usable code (booking codes, import ids)."""
    return secrets.token_bytes(length).translate(_CODE_OF_BYTE).decode()
