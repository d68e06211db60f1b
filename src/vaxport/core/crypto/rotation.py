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

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from vaxport.core.clock import utcnow
from vaxport.core.crypto.envelope import (
    CLASS_TENANT,
)
from vaxport.core.crypto.errors import RetireRefusedError
from vaxport.core.crypto.fields import EncryptedField, ModelSpec, registered_models
from vaxport.core.crypto.keyring import DK, SK, key_context, run_blocking
from vaxport.core.crypto.models import (
    PURPOSE_DATA,
    STATE_ACTIVE,
    STATE_RETIRED,
    STATE_RETIRING,
)
from vaxport.core.crypto.state import get_keyring
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.ids import uuid7
from vaxport.core.principal import OPERATOR

Echo = Callable[[str], None]


def quiet(_msg: str) -> None:
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
        await audit_key_act(uow, "keys.rotate", purpose, {"version": version})
    get_keyring().forget(tenant_id)
    return version


async def audit_key_act(
    uow: UnitOfWork, action: str, purpose: str, details: dict[str, Any]
) -> None:
    """Key operations are operator acts on ``uow``'s tenant: recorded in its audit chain."""
    from vaxport.core import audit

    await audit.record(
        uow, by=OPERATOR, action=action, object_type="data_key", object_id=purpose, details=details
    )


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


def tenant_fields(spec: ModelSpec) -> list[EncryptedField[Any]]:
    return [f for f in spec.fields.values() if f.subject is None]


def _usage_sync(s: Session, tenant_id: uuid.UUID) -> dict[str, dict[int, int]]:
    """Rows per data-key version: ``{"table.field": {version: rows}, "subject_keys": ...}``."""
    conn = s.connection()
    usage: dict[str, dict[int, int]] = {}
    for spec in registered_models():
        table = spec.table
        for f in tenant_fields(spec):
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
        if retired:
            await audit_key_act(uow, "keys.retire", purpose, {"versions": retired})
    get_keyring().forget(tenant_id)
    return retired
