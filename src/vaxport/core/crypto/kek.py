"""Key-encryption-key rotation: re-wrap every data key of every tenant under a new KEK.

Resumable: the provider's new KEK is created only when every data key is already wrapped
by the current one; otherwise a re-run continues the re-wrap. Old local KEK versions are
dropped from the key file only once no data key uses them.

Other tables holding keys wrapped directly by the provider (the token signing keys)
declare it with ``__table_args__ = {"info": {"kek_wrapped": {"blob": <column>,
"provider": <column>, "kek_id": <column>, "context": <row -> encryption context>}}}``;
they are re-wrapped alongside, and their KEK ids count as in use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, Table, select, update
from sqlalchemy.orm import Session

from vaxport.core.crypto.keyring import DK, key_context, run_blocking
from vaxport.core.crypto.providers import WrappedKey
from vaxport.core.crypto.rotation import Echo, JobResult, quiet
from vaxport.core.crypto.state import get_keyring
from vaxport.core.db import Database


@dataclass(frozen=True, slots=True)
class WrappedTable:
    """A table (besides data_keys) whose rows hold provider-wrapped keys."""

    table: Table
    blob: str
    provider: str
    kek_id: str
    context: Callable[[Any], Mapping[str, str]]


def wrapped_tables(metadata: MetaData) -> list[WrappedTable]:
    """Every table declaring ``info["kek_wrapped"]`` in the application's ``metadata``."""
    found = []
    for table in metadata.sorted_tables:
        spec = table.info.get("kek_wrapped")
        if spec:
            found.append(WrappedTable(table=table, **spec))
    return found


async def kek_ids_in_use(db: Database, *, metadata: MetaData) -> set[str]:
    """Every KEK id a stored wrapped key still needs."""
    async with db.read() as s:
        used = set((await s.execute(select(DK.c.provider_key_id).distinct())).scalars())
        for wt in wrapped_tables(metadata):
            col = wt.table.c[wt.kek_id]
            used |= set((await s.execute(select(col).distinct())).scalars())
    return used


def _rewrap_other(
    s: Session, wt: WrappedTable, current: str, cursor: Any, batch: int
) -> tuple[int, int, Any]:
    provider = get_keyring().provider
    conn = s.connection()
    t = wt.table
    pk = next(iter(t.primary_key.columns))
    blob, kek = t.c[wt.blob], t.c[wt.kek_id]
    query = (
        select(t).where(t.c[wt.provider] == provider.name, kek != current).order_by(pk).limit(batch)
    )
    if cursor is not None:
        query = query.where(pk > cursor)
    rows = conn.execute(query).all()
    updated = 0
    for row in rows:
        context = wt.context(row)
        old = row._mapping
        key = run_blocking(provider.unwrap, WrappedKey(bytes(old[blob]), old[kek]), context)
        wrapped = run_blocking(provider.wrap, key, context)
        result = conn.execute(
            update(t)
            .where(pk == old[pk], kek == old[kek])
            .values({wt.blob: wrapped.blob, wt.kek_id: wrapped.kek_id})
        )
        updated += int(result.rowcount or 0)
    return len(rows), updated, rows[-1]._mapping[pk] if rows else cursor


def _rewrap_batch(s: Session, current: str, cursor: Any, batch: int) -> tuple[int, int, Any]:
    provider = get_keyring().provider
    conn = s.connection()
    query = (
        select(
            DK.c.id,
            DK.c.tenant_id,
            DK.c.purpose,
            DK.c.version,
            DK.c.wrapped_key,
            DK.c.provider_key_id,
        )
        .where(DK.c.provider == provider.name, DK.c.provider_key_id != current)
        .order_by(DK.c.id)
        .limit(batch)
    )
    if cursor is not None:
        query = query.where(DK.c.id > cursor)
    rows = conn.execute(query).all()
    updated = 0
    for row in rows:
        context = key_context(row.tenant_id, row.purpose, row.version)
        key = run_blocking(
            provider.unwrap, WrappedKey(bytes(row.wrapped_key), row.provider_key_id), context
        )
        wrapped = run_blocking(provider.wrap, key, context)
        result = conn.execute(
            update(DK)
            .where(DK.c.id == row.id, DK.c.provider_key_id == row.provider_key_id)
            .values(wrapped_key=wrapped.blob, provider_key_id=wrapped.kek_id)
        )
        updated += int(result.rowcount or 0)
    return len(rows), updated, rows[-1].id if rows else cursor


async def rotate_kek(
    db: Database,
    *,
    metadata: MetaData,
    batch: int = 200,
    max_batches: int | None = None,
    keep_old: bool = False,
    echo: Echo = quiet,
) -> JobResult:
    """Re-wrap all data keys under a new KEK (created first unless a rotation is under way)."""
    provider = get_keyring().provider
    result = JobResult()
    used = await kek_ids_in_use(db, metadata=metadata)
    current = await _current(provider)
    if used <= {current}:
        echo(await _begin(provider))
        current = await _current(provider)
    else:
        echo(f"resuming: re-wrapping data keys under {current}")
    cursor: Any = None
    while True:
        if max_batches is not None and result.batches >= max_batches:
            result.complete = False
            return result
        async with db.transaction() as uow:
            seen, updated, cursor = await uow.session.run_sync(
                _rewrap_batch, current, cursor, batch
            )
        result.batches += 1
        result.updated += updated
        if seen:
            echo(f"data keys re-wrapped so far: {result.updated}")
        if seen < batch:
            break
    for wt in wrapped_tables(metadata):
        cursor = None
        while True:
            async with db.transaction() as uow:
                seen, updated, cursor = await uow.session.run_sync(
                    _rewrap_other, wt, current, cursor, batch
                )
            result.updated += updated
            if seen < batch:
                break
    if not keep_old:
        used = await kek_ids_in_use(db, metadata=metadata)
        dropped = await _finish(provider, used)
        if dropped:
            echo(f"old KEK versions removed: {', '.join(dropped)}")
    get_keyring().forget()
    return result


async def _current(provider: Any) -> str:
    return str(await _thread(provider.current_kek_id))


async def _begin(provider: Any) -> str:
    return str(await _thread(provider.begin_kek_rotation))


async def _finish(provider: Any, used: set[str]) -> list[str]:
    dropped: list[str] = await _thread(provider.finish_kek_rotation, used)
    return dropped


async def _thread(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args)
