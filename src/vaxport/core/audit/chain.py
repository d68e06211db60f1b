"""Sealing a tenant's audit entries into its hash chain, and verifying the chain.

Why a sealer: hashing each entry with its predecessor at write time means every writer
of a tenant must lock the chain head, serialising the whole tenant's traffic. Instead an
entry is inserted with its own content hash, and the sealer links committed entries in
batches, in commit order, into insert-only ``audit_chain`` rows.

Which entries to seal next: each round looks at entries with ``txn_seq >= lower`` that
have no link yet. ``lower`` is the *horizon* measured at the start of the previous
complete round: on PostgreSQL the oldest transaction id still running anywhere
(``pg_snapshot_xmin``), so any entry that was not yet visible then has a larger id; on
SQLite (writers serialised) the tenant's largest ``txn_seq`` + 1. Thus no committed
entry is ever skipped, the anti-join stays within recent entries, and sealing never
waits for a long transaction. Concurrent sealers of one tenant are kept apart by an
advisory lock (and the chain's primary key, should two race anyway).
"""

from __future__ import annotations

import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Text, cast, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.audit import hashing
from vaxport.core.audit.models import AuditChainLink as Link
from vaxport.core.audit.models import AuditEntry as Entry
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.logging import get_logger

log = get_logger(__name__)

SEAL_BATCH = 1000
_ENTRY_COLS = [c.label(f"e_{c.name}") for c in Entry.__table__.c]
_UNSEALED = ~select(Link.entry_id).where(Link.entry_id == Entry.id).exists()


async def _horizon(session: AsyncSession, tenant_id: uuid.UUID, postgres: bool) -> int:
    if postgres:
        xmin = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
        value = await session.scalar(select(xmin))
    else:
        value = await session.scalar(
            select(func.coalesce(func.max(Entry.txn_seq), 0) + 1).where(
                Entry.tenant_id == tenant_id
            )
        )
    return int(value or 0)


async def seal(*, db: Database, tenant_id: uuid.UUID, batch_size: int = SEAL_BATCH) -> int:
    """Link every committed, unsealed entry of a tenant into its chain; how many."""
    total = 0
    while True:
        sealed, more = await _seal_batch(db, tenant_id, batch_size)
        total += sealed
        if not more:
            return total


async def _seal_batch(db: Database, tenant_id: uuid.UUID, batch_size: int) -> tuple[int, bool]:
    async with db.transaction(tenant_id=tenant_id) as uow:
        s = uow.session
        if db.is_postgres:
            key = func.hashtextextended(f"vaxport.audit.seal:{tenant_id}", 0)
            if not await s.scalar(select(func.pg_try_advisory_xact_lock(key))):
                return 0, False  # another sealer is at it
        horizon = await _horizon(s, tenant_id, db.is_postgres)  # before looking at entries
        last = (
            await s.execute(
                select(Link.position, Link.chain_hash, Link.next_lower)
                .where(Link.tenant_id == tenant_id)
                .order_by(Link.position.desc())
                .limit(1)
            )
        ).first()
        position, prev, lower = (
            (last.position, last.chain_hash, last.next_lower) if last else (0, hashing.GENESIS, 0)
        )
        rows = (
            await s.execute(
                select(*Entry.__table__.c)
                .where(Entry.tenant_id == tenant_id, Entry.txn_seq >= lower, _UNSEALED)
                .order_by(Entry.txn_seq, Entry.id)
                .limit(batch_size)
            )
        ).all()
        links: list[dict[str, Any]] = []
        refused = False
        for row in rows:
            if hashing.row_entry_hash(row) != row.entry_hash:
                # Sealing a tampered entry would bless it: stop here, loudly.
                log.error("audit.seal_refused", tenant_id=str(tenant_id), entry_id=str(row.id))
                refused = True
                break
            position += 1
            link_hash = hashing.chain_hash(
                tenant_id=tenant_id,
                position=position,
                entry_id=row.id,
                entry_hash=row.entry_hash,
                prev_hash=prev,
            )
            links.append(
                {
                    "tenant_id": tenant_id,
                    "position": position,
                    "entry_id": row.id,
                    "entry_seq": row.txn_seq,
                    "entry_hash": row.entry_hash,
                    "prev_hash": prev,
                    "chain_hash": link_hash,
                }
            )
            prev = link_hash
        complete = not refused and len(rows) < batch_size
        now = utcnow()
        for link in links:
            link["next_lower"] = horizon if complete else lower
            link["sealed_at"] = now
        if links:
            await s.execute(insert(Link), links)
        return len(links), not complete and not refused


@dataclass(frozen=True, slots=True)
class Break:
    """The first place where the audit trail no longer verifies."""

    position: int | None
    entry_id: uuid.UUID | None
    reason: str


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of walking one tenant's chain."""

    tenant_id: uuid.UUID
    sealed: int
    unsealed: int
    head_position: int
    head_hash: str
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _check_link(r: Any, expected: int, prev: str, lower: int, tenant_id: uuid.UUID) -> Break | None:
    if r.position != expected:
        return Break(expected, None, "chain link missing (gap in positions)")
    checks: list[tuple[Callable[[], bool], str]] = [
        (lambda: r.prev_hash == prev, "link does not continue the previous link"),
        (lambda: _link_hash(r, tenant_id) == r.chain_hash, "chain link altered"),
        (lambda: r.next_lower >= lower, "chain link bookkeeping altered"),
        (lambda: r.e_id is not None, "entry deleted"),
        (lambda: _recomputed(_entry_of(r)) == r.entry_hash, "entry content altered"),
        (lambda: r.e_entry_hash == r.entry_hash, "entry hash altered"),
    ]
    for passes, reason in checks:
        if not passes():
            return Break(r.position, r.entry_id, reason)
    return None


def _link_hash(r: Any, tenant_id: uuid.UUID) -> str:
    return hashing.chain_hash(
        tenant_id=tenant_id,
        position=r.position,
        entry_id=r.entry_id,
        entry_hash=r.entry_hash,
        prev_hash=r.prev_hash,
    )


def _entry_of(r: Any) -> Any:
    return types.SimpleNamespace(**{c.name: getattr(r, f"e_{c.name}") for c in Entry.__table__.c})


def _recomputed(entry: Any) -> str | None:
    try:
        return hashing.row_entry_hash(entry)
    except (ValueError, TypeError):  # a field altered into something unhashable
        return None


async def verify(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    anchor: tuple[int, str] | None = None,
    page_size: int = 1000,
) -> Verification:
    """Walk a tenant's chain and its unsealed entries; name the first broken entry.

    ``anchor`` = (position, chain hash) recorded earlier outside the database (e.g. the
    head printed by a previous verify): detects a rewritten or truncated chain.
    """
    expected, prev, lower = 1, hashing.GENESIS, 0
    async with db.read(tenant_id=tenant_id) as s:
        while True:
            rows = (
                await s.execute(
                    select(*Link.__table__.c, *_ENTRY_COLS)
                    .select_from(Link)
                    .outerjoin(Entry, Entry.id == Link.entry_id)
                    .where(Link.tenant_id == tenant_id, Link.position >= expected)
                    .order_by(Link.position)
                    .limit(page_size)
                )
            ).all()
            for row in rows:
                r = row
                broken = _check_link(r, expected, prev, lower, tenant_id)
                if (
                    broken is None
                    and anchor is not None
                    and r.position == anchor[0]
                    and r.chain_hash != anchor[1]
                ):
                    broken = Break(r.position, r.entry_id, "chain differs from the anchor")
                if broken is not None:
                    return Verification(tenant_id, expected - 1, 0, expected - 1, prev, broken)
                prev, lower, expected = r.chain_hash, r.next_lower, expected + 1
            if len(rows) < page_size:
                break
        sealed = expected - 1
        if anchor and anchor[0] > sealed:
            broken = Break(anchor[0], None, "chain is shorter than the anchor (truncated)")
            return Verification(tenant_id, sealed, 0, sealed, prev, broken)
        unsealed, broken = await _check_unsealed(s, tenant_id, lower, page_size)
    return Verification(tenant_id, sealed, unsealed, sealed, prev, broken)


async def _check_unsealed(
    s: AsyncSession, tenant_id: uuid.UUID, lower: int, page_size: int
) -> tuple[int, Break | None]:
    """Entries without a link: none may sit below the horizon; each must match its hash."""
    count, after = 0, (-1, uuid.UUID(int=0))
    while True:
        rows = (
            await s.execute(
                select(*Entry.__table__.c)
                .where(
                    Entry.tenant_id == tenant_id,
                    _UNSEALED,
                    (Entry.txn_seq > after[0])
                    | ((Entry.txn_seq == after[0]) & (Entry.id > after[1])),
                )
                .order_by(Entry.txn_seq, Entry.id)
                .limit(page_size)
            )
        ).all()
        for row in rows:
            if row.txn_seq < lower:
                return count, Break(None, row.id, "entry below the seal horizon was never sealed")
            if _recomputed(row) != row.entry_hash:
                return count, Break(None, row.id, "unsealed entry content altered")
            count += 1
        if len(rows) < page_size:
            return count, None
        after = (rows[-1].txn_seq, rows[-1].id)
