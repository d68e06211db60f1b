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


def short_code(length: int = 8) -> str:
    """A random human-usable code (booking codes, import ids)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))
