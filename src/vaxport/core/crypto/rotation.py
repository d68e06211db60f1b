"""Key rotation jobs: new data-key versions, re-encryption, retirement, KEK and index keys.

Every job works in small committed batches over the registry of encrypted models, so it
can be interrupted at any point and re-run: a re-run only touches rows still on an old
version. Writes use compare-and-set on the old ciphertext, so a row rewritten by the
application meanwhile (already under the new key) is left alone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from vaxport.core.clock import utcnow
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
from vaxport.core.crypto.fields import EncryptedField, ModelSpec, registered_models
from vaxport.core.crypto.keyring import DK, SK, key_context, run_blocking
from vaxport.core.crypto.models import (
    PURPOSE_DATA,
    PURPOSE_INDEX,
    STATE_ACTIVE,
    STATE_RETIRED,
    STATE_RETIRING,
)
from vaxport.core.crypto.state import get_keyring
from vaxport.core.db import Database
from vaxport.core.ids import uuid7

Echo = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


@dataclass
class JobResult:
    """What a batch job did, and whether it stopped before the end (batch limit)."""

    updated: int = 0
    batches: int = 0
    complete: bool = True
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- versions


def _rotate_sync(s: Session, tenant_id: uuid.UUID, purpose: str) -> int:
    keyring = get_keyring()
    conn = s.connection()
    current = conn.execute(
        select(func.max(DK.c.version)).where(DK.c.tenant_id == tenant_id, DK.c.purpose == purpose)
    ).scalar()
    if current is None:
        active = keyring.active(s, tenant_id, purpose)
        assert active is not None
        return active[0]
    version = int(current) + 1
    _key, wrapped = run_blocking(
        keyring.provider.generate, key_context(tenant_id, purpose, version)
    )
    conn.execute(
        update(DK)
        .where(DK.c.tenant_id == tenant_id, DK.c.purpose == purpose, DK.c.state == STATE_ACTIVE)
        .values(state=STATE_RETIRING)
    )
    conn.execute(
        insert(DK).values(
            id=uuid7(),
            tenant_id=tenant_id,
            purpose=purpose,
            version=version,
            wrapped_key=wrapped.blob,
            provider=keyring.provider.name,
            provider_key_id=wrapped.kek_id,
            state=STATE_ACTIVE,
            created_at=utcnow(),
        )
    )
    return version


async def rotate(db: Database, *, tenant_id: uuid.UUID, purpose: str = PURPOSE_DATA) -> int:
    """Create a new key version; this process encrypts with it at once. Returns it."""
    async with db.transaction(tenant_id=tenant_id) as uow:
        version = await uow.session.run_sync(_rotate_sync, tenant_id, purpose)
    get_keyring().forget(tenant_id)
    return version


async def key_versions(db: Database, *, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every key version of a tenant (no key material)."""
    async with db.read(tenant_id=tenant_id) as s:
        rows = (
            await s.execute(
                select(
                    DK.c.purpose,
                    DK.c.version,
                    DK.c.state,
                    DK.c.provider,
                    DK.c.provider_key_id,
                    DK.c.created_at,
                    DK.c.retired_at,
                )
                .where(DK.c.tenant_id == tenant_id)
                .order_by(DK.c.purpose, DK.c.version)
            )
        ).all()
    return [dict(r._mapping) for r in rows]


async def tenants_with_keys(db: Database) -> list[uuid.UUID]:
    """Every tenant that has data keys."""
    async with db.read() as s:
        return list((await s.execute(select(DK.c.tenant_id).distinct())).scalars())


# ----------------------------------------------------------------------------- usage


def _tenant_fields(spec: ModelSpec) -> list[EncryptedField[Any]]:
    return [f for f in spec.fields.values() if f.subject is None]


def _usage_sync(s: Session, tenant_id: uuid.UUID) -> dict[str, dict[int, int]]:
    """Rows per data-key version: ``{"table.field": {version: rows}, "subject_keys": ...}``."""
    conn = s.connection()
    usage: dict[str, dict[int, int]] = {}
    for spec in registered_models():
        table = spec.table
        for f in _tenant_fields(spec):
            col = spec.column(f.enc_attr)
            hdr = func.substr(col, 3, 5)
            rows = conn.execute(
                select(hdr, func.count())
                .where(table.c.tenant_id == tenant_id, col.is_not(None))
                .group_by(hdr)
            ).all()
            for head, count in rows:
                hdr_bytes = bytes(head)
                if hdr_bytes[0] == CLASS_TENANT:
                    version = int.from_bytes(hdr_bytes[1:5], "big")
                    usage.setdefault(f"{table.name}.{f.name}", {})[version] = int(count)
    rows = conn.execute(
        select(SK.c.data_key_version, func.count())
        .where(SK.c.tenant_id == tenant_id)
        .group_by(SK.c.data_key_version)
    ).all()
    for version, count in rows:
        usage.setdefault("subject_keys", {})[int(version)] = int(count)
    return usage


async def usage(db: Database, *, tenant_id: uuid.UUID) -> dict[str, dict[int, int]]:
    """How many values each data-key version still protects, per table and field."""
    async with db.read(tenant_id=tenant_id) as s:
        return await s.run_sync(_usage_sync, tenant_id)


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
    fields = _tenant_fields(spec)
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
    echo: Echo = _quiet,
) -> JobResult:
    """Re-encrypt every value of the tenant still on an old data-key version (resumable)."""
    result = JobResult()
    for spec in registered_models():
        if not _tenant_fields(spec):
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


# ----------------------------------------------------------------------------- retire


def _retire_sync(s: Session, tenant_id: uuid.UUID, purpose: str, window: float) -> list[int]:
    conn = s.connection()
    rows = conn.execute(
        select(DK.c.version, DK.c.state, DK.c.created_at).where(
            DK.c.tenant_id == tenant_id, DK.c.purpose == purpose, DK.c.state != STATE_RETIRED
        )
    ).all()
    retiring = sorted(r.version for r in rows if r.state == STATE_RETIRING)
    if not retiring:
        return []
    active = [r for r in rows if r.state == STATE_ACTIVE]
    if active:
        created = active[0].created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.UTC)
        wait = window - (utcnow() - created).total_seconds()
        if wait > 0:
            raise RetireRefusedError(
                f"version {active[0].version} became active {window - wait:.0f}s ago; other "
                f"processes may still write with the old key for {wait:.0f}s more (the key "
                "cache time). Re-run reencrypt, then retire after that."
            )
    if purpose == PURPOSE_DATA:
        in_use = _usage_sync(s, tenant_id)
        remaining = {
            f"{where} v{v}": n
            for where, per in in_use.items()
            for v, n in per.items()
            if v in retiring and n
        }
        if remaining:
            total = sum(remaining.values())
            detail = ", ".join(f"{k}: {n}" for k, n in sorted(remaining.items()))
            raise RetireRefusedError(
                f"{total} stored values still use old data key versions ({detail}); "
                "run `vaxport keys reencrypt` first"
            )
    conn.execute(
        update(DK)
        .where(DK.c.tenant_id == tenant_id, DK.c.purpose == purpose, DK.c.state == STATE_RETIRING)
        .values(state=STATE_RETIRED, retired_at=utcnow())
    )
    return retiring


async def retire(db: Database, *, tenant_id: uuid.UUID, purpose: str = PURPOSE_DATA) -> list[int]:
    """Retire old versions no row uses any more; refuse (saying how many remain) otherwise."""
    window = float(get_keyring().cache_seconds)
    async with db.transaction(tenant_id=tenant_id) as uow:
        retired = await uow.session.run_sync(_retire_sync, tenant_id, purpose, window)
    get_keyring().forget(tenant_id)
    return retired


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
    echo: Echo = _quiet,
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
