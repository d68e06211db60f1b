"""Running the sealer: over every tenant, once (CLI) or periodically (the worker)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from vaxport.core.audit.chain import seal
from vaxport.core.db import Database
from vaxport.core.logging import get_logger
from vaxport.tenancy.service import tenant_ids

log = get_logger(__name__)


async def seal_all(*, db: Database) -> dict[uuid.UUID, int]:
    """Seal every tenant's pending entries; how many per tenant (tenants with some)."""
    sealed: dict[uuid.UUID, int] = {}
    for tid in await tenant_ids(db):
        n = await seal(db=db, tenant_id=tid)
        if n:
            sealed[tid] = n
    return sealed


async def run_sealer(*, db: Database, stop: asyncio.Event, interval_seconds: float = 2.0) -> None:
    """Seal every ``interval_seconds`` until ``stop`` is set (one task per worker process).

    Several workers may run it: per-tenant advisory locks let one seal while the others
    skip that tenant. Errors are logged and retried next round; they never end the loop.
    """
    while not stop.is_set():
        try:
            sealed = await seal_all(db=db)
            if sealed:
                log.info("audit.sealed", entries=sum(sealed.values()), tenants=len(sealed))
        except Exception:
            log.exception("audit.seal_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
