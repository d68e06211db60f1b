"""The keys met so far in an import file (in-file duplicates), in flat memory.

Kept in a throwaway SQLite file, not a set: a set grows by ~170 bytes a row (the one
thing that would make memory depend on the file's length), while SQLite holds a bounded
page cache and spills to disk. Keys are stored as keyed hashes (a random key per run), so
an ID number used as a key never reaches the disk in the clear.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from pathlib import Path


class SeenKeys:
    """The row each key first appeared on. Used from one thread at a time."""

    def __init__(self) -> None:
        self._secret = os.urandom(32)
        self._dir = tempfile.TemporaryDirectory(prefix="vaxport-import-")
        self._db = sqlite3.connect(
            Path(self._dir.name) / "seen.db", check_same_thread=False, isolation_level=None
        )
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-2048"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (key BLOB PRIMARY KEY, row INTEGER) WITHOUT ROWID")
        self._db.execute("BEGIN")

    def _digest(self, key: str) -> bytes:
        return hashlib.blake2b(key.encode(), key=self._secret, digest_size=16).digest()

    def first_row(self, key: str, row: int) -> int | None:
        """The row ``key`` first appeared on, or None (and remember ``row``) if new."""
        digest = self._digest(key)
        found = self._db.execute("SELECT row FROM seen WHERE key = ?", (digest,)).fetchone()
        if found is not None:
            return int(found[0])
        self._db.execute("INSERT INTO seen (key, row) VALUES (?, ?)", (digest, row))
        return None

    def close(self) -> None:
        """Remove the file."""
        self._db.close()
        self._dir.cleanup()
