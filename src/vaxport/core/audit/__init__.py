"""Tamper-evident audit log: every sensitive act appends an entry in its own transaction.

``record(uow, by=principal, action=..., object_type=..., object_id=...)`` writes the
entry in the unit of work's tenant (no personal data; client IP as a keyed hash);
the sealer (``chain.seal``, run by the worker and ``vaxport audit seal``) links entries
into each tenant's SHA-256 hash chain; ``vaxport audit verify`` walks it.
"""

from __future__ import annotations

from vaxport.core.audit.writer import (
    EntryFields,
    entry_rows,
    record,
    record_many,
    record_standalone,
)

__all__ = ["EntryFields", "entry_rows", "record", "record_many", "record_standalone"]
