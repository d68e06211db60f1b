"""Re-encryption and blind-index rebuild jobs (resumable, batched, compare-and-set).

Each batch is one transaction; a re-run only touches values still on an old key version,
so the jobs can be stopped at any point (Ctrl-C, a killed pod, ``max_batches``) and run
again. The worker can run them too: they take ids, not objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from vaxport.core.crypto.blind import compute, normalise, region_for
from vaxport.core.crypto.envelope import (
    CLASS_SUBJECT,
    CLASS_TENANT,
    Header,
    context_aad,
    decode_value,
    open_sealed,
    parse_header,
    seal,
)
from vaxport.core.crypto.errors import DecryptionError, RetireRefusedError
from vaxport.core.crypto.fields import ModelSpec, registered_models
from vaxport.core.crypto.keyring import SK
from vaxport.core.crypto.models import PURPOSE_DATA, PURPOSE_INDEX, STATE_RETIRING
from vaxport.core.crypto.rotation import (
    Echo,
    JobResult,
    audit_key_act,
    key_versions,
    quiet,
    retire,
    rotate,
    tenant_fields,
)
from vaxport.core.crypto.state import get_keyring
from vaxport.core.db import Database

# ----------------------------------------------------------------------------- re-encrypt


def _active_version(s: Session, tenant_id: uuid.UUID, purpose: str) -> tuple[int, bytes]:
    active = get_keyring().active(s, tenant_id, purpose)
    assert active is not None
    return active


def _reencrypt_batch(
    s: Session,
    spec: ModelSpec,
    tenant_id: uuid.UUID,
    cursor: Any,
    batch: int,
) -> tuple[int, int, Any]:
    keyring = get_keyring()
    conn = s.connection()
    version, new_key = _active_version(s, tenant_id, PURPOSE_DATA)
    target = bytes([CLASS_TENANT]) + version.to_bytes(4, "big")
    table = spec.table
    pk = spec.column(spec.pk_attr)
    fields = tenant_fields(spec)
    cols = [spec.column(f.enc_attr) for f in fields]
    stale = or_(*[and_(c.is_not(None), func.substr(c, 3, 5) != target) for c in cols])
    query = select(pk, *cols).where(table.c.tenant_id == tenant_id, stale).order_by(pk).limit(batch)
    if cursor is not None:
        query = query.where(pk > cursor)
    rows = conn.execute(query).all()
    updated = 0
    for row in rows:
        row_id = row[0]
        old_values: dict[Any, bytes] = {}
        new_values: dict[str, bytes] = {}
        for f, col, raw in zip(fields, cols, row[1:], strict=True):
            if raw is None:
                continue
            header = parse_header(raw)
            if header.key_class == CLASS_TENANT and header.key_version == version:
                continue
            aad = context_aad(tenant_id=tenant_id, table=table.name, field=f.name, row_id=row_id)
            try:
                old_key = keyring.key(s, tenant_id, PURPOSE_DATA, header.key_version)
                plaintext = open_sealed(old_key, raw, aad)
            except DecryptionError as exc:
                raise DecryptionError(f"{table.name}.{f.name} row {row_id}: {exc}") from exc
            old_values[col] = raw
            new_values[col.name] = seal(new_key, Header(CLASS_TENANT, version), plaintext, aad)
        if new_values:
            result = conn.execute(
                update(table)
                .where(pk == row_id, *[c == v for c, v in old_values.items()])
                .values(new_values)
            )
            updated += int(result.rowcount or 0)
    return len(rows), updated, rows[-1][0] if rows else cursor


def _rewrap_subjects_batch(
    s: Session, tenant_id: uuid.UUID, cursor: Any, batch: int
) -> tuple[int, int, Any]:
    keyring = get_keyring()
    conn = s.connection()
    version, _ = _active_version(s, tenant_id, PURPOSE_DATA)
    query = (
        select(SK.c.id, SK.c.subject_id, SK.c.wrapped_key)
        .where(SK.c.tenant_id == tenant_id, SK.c.data_key_version != version)
        .order_by(SK.c.id)
        .limit(batch)
    )
    if cursor is not None:
        query = query.where(SK.c.id > cursor)
    rows = conn.execute(query).all()
    updated = 0
    for row in rows:
        key = keyring.open_subject_key(s, tenant_id, row.subject_id, bytes(row.wrapped_key))
        new_version, sealed = keyring.seal_subject_key(s, tenant_id, row.subject_id, key)
        result = conn.execute(
            update(SK)
            .where(SK.c.id == row.id, SK.c.wrapped_key == row.wrapped_key)
            .values(wrapped_key=sealed, data_key_version=new_version)
        )
        updated += int(result.rowcount or 0)
    return len(rows), updated, rows[-1].id if rows else cursor


BatchFn = Callable[[Session, Any], tuple[int, int, Any]]


async def _run_batches(
    db: Database,
    tenant_id: uuid.UUID | None,
    label: str,
    fn: BatchFn,
    *,
    batch: int,
    result: JobResult,
    max_batches: int | None,
    echo: Echo,
) -> bool:
    """Run ``fn`` batch after batch (one transaction each); False if stopped by the limit."""
    cursor: Any = None
    done = 0
    while True:
        if max_batches is not None and result.batches >= max_batches:
            return False
        async with db.transaction(tenant_id=tenant_id) as uow:
            seen, updated, cursor = await uow.session.run_sync(fn, cursor)
        result.batches += 1
        result.updated += updated
        done += updated
        if seen:
            echo(f"{label}: {done} updated so far")
        if seen < batch:
            return True


async def reencrypt(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    batch: int = 500,
    max_batches: int | None = None,
    echo: Echo = quiet,
) -> JobResult:
    """Re-encrypt every value of the tenant still on an old data-key version (resumable)."""
    result = JobResult()
    for spec in registered_models():
        if not tenant_fields(spec):
            continue

        def step(s: Session, cursor: Any, spec: ModelSpec = spec) -> tuple[int, int, Any]:
            return _reencrypt_batch(s, spec, tenant_id, cursor, batch)

        if not await _run_batches(
            db,
            tenant_id,
            spec.table.name,
            step,
            batch=batch,
            result=result,
            max_batches=max_batches,
            echo=echo,
        ):
            result.complete = False
            return result

    def subjects(s: Session, cursor: Any) -> tuple[int, int, Any]:
        return _rewrap_subjects_batch(s, tenant_id, cursor, batch)

    if not await _run_batches(
        db,
        tenant_id,
        "subject_keys",
        subjects,
        batch=batch,
        result=result,
        max_batches=max_batches,
        echo=echo,
    ):
        result.complete = False
        return result
    async with db.transaction(tenant_id=tenant_id) as uow:
        version, _ = await uow.session.run_sync(_active_version, tenant_id, PURPOSE_DATA)
        await audit_key_act(uow, "keys.reencrypt", PURPOSE_DATA, {"version": version})
    return result


# ----------------------------------------------------------------------------- index keys


def _reindex_batch(
    s: Session, spec: ModelSpec, tenant_id: uuid.UUID, cursor: Any, batch: int
) -> tuple[int, int, Any]:
    keyring = get_keyring()
    conn = s.connection()
    version, index_key = _active_version(s, tenant_id, PURPOSE_INDEX)
    prefix = version.to_bytes(2, "big")
    table = spec.table
    pk = spec.column(spec.pk_attr)
    fields = [f for f in spec.fields.values() if f.index]
    bcols = [spec.column(f.bidx_attr) for f in fields]
    ecols = [spec.column(f.enc_attr) for f in fields]
    scols = [spec.column(f.subject) if f.subject else pk for f in fields]
    stale = or_(*[and_(b.is_not(None), func.substr(b, 1, 2) != prefix) for b in bcols])
    query = (
        select(pk, *bcols, *ecols, *scols)
        .where(table.c.tenant_id == tenant_id, stale)
        .order_by(pk)
        .limit(batch)
    )
    if cursor is not None:
        query = query.where(pk > cursor)
    rows = conn.execute(query).all()
    n = len(fields)
    updated = 0
    for row in rows:
        row_id = row[0]
        olds: dict[Any, bytes] = {}
        news: dict[str, bytes] = {}
        for i, f in enumerate(fields):
            bidx, raw, subject = row[1 + i], row[1 + n + i], row[1 + 2 * n + i]
            if bidx is None or raw is None or bytes(bidx[:2]) == prefix:
                continue
            header = parse_header(raw)
            if header.key_class == CLASS_SUBJECT:
                key = keyring.subject_keys(s, tenant_id, [subject]).get(subject)
                if key is None:
                    continue  # erased subject: erase_subject clears these
            else:
                key = keyring.key(s, tenant_id, PURPOSE_DATA, header.key_version)
            aad = context_aad(tenant_id=tenant_id, table=table.name, field=f.name, row_id=row_id)
            value = decode_value(f.kind, open_sealed(key, raw, aad))
            olds[bcols[i]] = bytes(bidx)
            norm = normalise(f.kind, value, region=region_for(tenant_id))
            news[bcols[i].name] = compute(index_key, version, f.kind, norm)
        if news:
            result = conn.execute(
                update(table).where(pk == row_id, *[c == v for c, v in olds.items()]).values(news)
            )
            updated += int(result.rowcount or 0)
    return len(rows), updated, rows[-1][0] if rows else cursor


async def rotate_index(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    batch: int = 500,
    max_batches: int | None = None,
    echo: Echo = quiet,
) -> JobResult:
    """Move the tenant's blind indexes to a new index key (resumable; re-run to finish)."""
    result = JobResult()
    versions = await key_versions(db, tenant_id=tenant_id)
    in_progress = any(
        v["purpose"] == PURPOSE_INDEX and v["state"] == STATE_RETIRING for v in versions
    )
    if not in_progress:
        version = await rotate(db, tenant_id=tenant_id, purpose=PURPOSE_INDEX)
        echo(f"index key version {version} created; rebuilding blind indexes")
    else:
        echo("resuming the blind-index rebuild already in progress")
    for spec in registered_models():
        if not any(f.index for f in spec.fields.values()):
            continue

        def step(s: Session, cursor: Any, spec: ModelSpec = spec) -> tuple[int, int, Any]:
            return _reindex_batch(s, spec, tenant_id, cursor, batch)

        if not await _run_batches(
            db,
            tenant_id,
            f"{spec.table.name} (blind indexes)",
            step,
            batch=batch,
            result=result,
            max_batches=max_batches,
            echo=echo,
        ):
            result.complete = False
            return result
    try:
        retired = await retire(db, tenant_id=tenant_id, purpose=PURPOSE_INDEX)
    except RetireRefusedError as exc:
        result.complete = False
        result.notes.append(str(exc))
        echo(f"rebuilt; old index key kept for now: {exc}")
    else:
        echo(f"old index key versions retired: {retired}")
    return result
