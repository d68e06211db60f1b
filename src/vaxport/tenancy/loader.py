"""Loading a configuration file into the database: tenant, version history, regions.

A load is all or nothing: the file is validated completely before the transaction opens,
and the tenant row, its history entry and the region sync commit together. The tenant row
is locked for the duration, and the (tenant_id, version) and code unique constraints catch
the race a lock cannot (two first loads of a new tenant); the loser retries and then sees
the winner's state.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any, Literal

import rfc8785
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.logging import get_logger
from vaxport.tenancy.config import TenantConfig
from vaxport.tenancy.config_types import as_locale_map, localized
from vaxport.tenancy.models import Region, Tenant, TenantConfigVersion
from vaxport.tenancy.schemas import LoadResult
from vaxport.tenancy.validation import ConfigRules, validate_file

log = get_logger(__name__)

TENANT_NS = "tenant"
CONFIG_NS = "tenant-config"
# Not a valid tenant code, so it cannot collide with one.
LIST_KEY = "*list"
MAX_ATTEMPTS = 5


def config_document(config: TenantConfig) -> dict[str, Any]:
    """The configuration as stored and hashed: JSON, every default spelled out."""
    return config.model_dump(mode="json")


def config_hash(document: dict[str, Any]) -> str:
    """sha256 of the canonical JSON (RFC 8785) of a configuration document."""
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


async def invalidate(cache: Cache, code: str) -> None:
    """Drop the cached view of a tenant (after the write that changed it has committed)."""
    await cache.delete(TENANT_NS, code, LIST_KEY)


async def load(*, db: Database, cache: Cache, path: Path, rules: ConfigRules) -> LoadResult:
    """Validate ``path`` (with the other contexts' ``rules``) and make it the tenant's
    configuration (no-op if unchanged)."""
    config = validate_file(path, rules=rules)
    document = config_document(config)
    digest = config_hash(document)
    source = str(path)[-500:]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await _store(
                db=db, cache=cache, config=config, document=document, digest=digest, source=source
            )
        except IntegrityError:
            if attempt == MAX_ATTEMPTS:
                raise
            log.info("tenant.load_conflict_retry", tenant=config.code, attempt=attempt)
    raise AssertionError("unreachable")  # pragma: no cover


async def _store(
    *,
    db: Database,
    cache: Cache,
    config: TenantConfig,
    document: dict[str, Any],
    digest: str,
    source: str,
) -> LoadResult:
    async with db.transaction() as uow:
        session = uow.session
        tenant = (
            await session.execute(
                select(Tenant).where(Tenant.code == config.code).with_for_update()
            )
        ).scalar_one_or_none()
        if tenant is not None and tenant.config_hash == digest:
            return LoadResult(config.code, "unchanged", tenant.config_version, digest)
        summary = {
            "name": localized(config.name, config.default_locale, config.default_locale),
            "names": as_locale_map(config.name, config.default_locale),
            "default_locale": config.default_locale,
            "locales": list(config.locales),
            "config": document,
            "config_hash": digest,
        }
        status: Literal["created", "updated"]
        if tenant is None:
            status = "created"
            tenant = Tenant(code=config.code, config_version=1, **summary)
            session.add(tenant)
        else:
            status = "updated"
            for key, value in summary.items():
                setattr(tenant, key, value)
            tenant.config_version += 1
        await session.flush()
        await uow.enter_tenant(tenant.id)
        session.add(
            TenantConfigVersion(
                tenant_id=tenant.id,
                version=tenant.config_version,
                config=document,
                config_hash=digest,
                source=source,
            )
        )
        added, updated, deactivated = await _sync_regions(session, tenant.id, config)
        await session.flush()
        code = config.code
        uow.after_commit(lambda: invalidate(cache, code))
        result = LoadResult(
            code, status, tenant.config_version, digest, added, updated, deactivated
        )
    log.info(
        "tenant.loaded",
        tenant=result.code,
        status=result.status,
        version=result.version,
        regions_added=added,
        regions_updated=updated,
        regions_deactivated=deactivated,
    )
    return result


async def _sync_regions(
    session: AsyncSession, tenant_id: uuid.UUID, config: TenantConfig
) -> tuple[int, int, int]:
    """Insert new regions, update changed ones, deactivate the ones no longer listed."""
    existing = {
        r.code: r
        for r in (await session.execute(select(Region).where(Region.tenant_id == tenant_id)))
        .scalars()
        .all()
    }
    index = config.region_index
    new_rows: list[dict[str, Any]] = []
    updated = deactivated = 0
    for item in config.regions.items:
        node = index[item.code]
        values: dict[str, Any] = {
            "parent_code": item.parent,
            "level": node.level,
            "name": as_locale_map(item.name, config.default_locale),
            "path": node.path,
            "population": dict(item.population),
            "active": True,
        }
        row = existing.get(item.code)
        if row is None:
            new_rows.append({"tenant_id": tenant_id, "code": item.code, **values})
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            updated += 1
    for code, row in existing.items():
        if code not in index and row.active:
            row.active = False
            deactivated += 1
    # One executemany per chunk instead of one ORM object per region: a national tree can
    # hold tens of thousands of them.
    for start in range(0, len(new_rows), 2000):
        await session.execute(insert(Region), new_rows[start : start + 2000])
    return len(new_rows), updated, deactivated
