"""Use cases of the tenancy context, and the queries every other context calls.

Reading a tenant is on the path of nearly every request, so it is served from the cache in
two parts: a small pointer per tenant code (id, version, hash; invalidated when a load
commits, expiring after ``config_cache_seconds``) and the configuration itself keyed by its
hash. A hash names immutable content, so each process also keeps the parsed configuration
per hash and only re-reads the pointer.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.cache import Cache
from vaxport.core.db import Database, set_tenant_scope
from vaxport.core.errors import NotFound, ServiceUnavailable, invalid
from vaxport.core.i18n import N_
from vaxport.core.logging import get_logger
from vaxport.core.scrub import register_pattern
from vaxport.settings import get_settings
from vaxport.tenancy.config import IdDocumentType, TenantConfig, VaccineProduct

# The schedule rules (priority groups, booking limits): scheduling's engine applies them.
from vaxport.tenancy.config_schedule import (
    DOSE_KINDS,
    BookingFairness,
    BookingLimits,
    DoseKind,
    EligibilityGroup,
)
from vaxport.tenancy.config_types import (
    TENANT_CODE_RE,
    canonical_locale,
    date_age_passed,
    date_age_reached,
    localized,
)
from vaxport.tenancy.idnumbers import MAX_ID_LENGTH, check_id_number
from vaxport.tenancy.loader import CONFIG_NS, LIST_KEY, TENANT_NS, load
from vaxport.tenancy.models import Region, Tenant, TenantConfigVersion

# The notifications section of the country file: its schema is tenancy's (the country
# configuration), notifications reads it through this door.
from vaxport.tenancy.notifications_config import (
    BUILTIN_CONSOLE,
    CHANNEL_TYPES,
    ChannelConfig,
    ConsoleChannelConfig,
    ConsoleOptions,
    DeliveryCallbackOptions,
    EmailTemplate,
    HttpAuth,
    LocaleTemplates,
    NotificationsConfig,
    SmsHttpChannelConfig,
    SmsHttpOptions,
    SmtpChannelConfig,
    SmtpOptions,
    SnsChannelConfig,
    SnsOptions,
    TwilioChannelConfig,
    TwilioOptions,
    WebhookChannelConfig,
    WebhookOptions,
)
from vaxport.tenancy.schemas import (
    ConfigVersionInfo,
    PublicConfig,
    PublicConfigDocument,
    RegionInfo,
    TenantInfo,
    TenantSummary,
)
from vaxport.tenancy.validation import ConfigProblem, ConfigRules, validate_file

# The front door: what other contexts may use (the rest of tenancy is internal).
__all__ = [
    "BUILTIN_CONSOLE",
    "CHANNEL_TYPES",
    "DOSE_KINDS",
    "MAX_ID_LENGTH",
    "BookingFairness",
    "BookingLimits",
    "ChannelConfig",
    "ConfigProblem",
    "ConfigRules",
    "ConsoleChannelConfig",
    "ConsoleOptions",
    "DeliveryCallbackOptions",
    "DoseKind",
    "EligibilityGroup",
    "EmailTemplate",
    "HttpAuth",
    "IdDocumentType",
    "LocaleTemplates",
    "NotificationsConfig",
    "SmsHttpChannelConfig",
    "SmsHttpOptions",
    "SmtpChannelConfig",
    "SmtpOptions",
    "SnsChannelConfig",
    "SnsOptions",
    "TenantConfig",
    "TenantInfo",
    "TwilioChannelConfig",
    "TwilioOptions",
    "VaccineProduct",
    "WebhookChannelConfig",
    "WebhookOptions",
    "canonical_locale",
    "check_id_number",
    "date_age_passed",
    "date_age_reached",
    "get_history",
    "get_product",
    "get_public_config",
    "get_region",
    "get_tenant_by_id",
    "get_tenant_in",
    "get_tenant_or_404",
    "is_in_subtree",
    "list_rate_limit_overrides",
    "list_tenants",
    "load",
    "localized",
    "phone_region",
    "region_subtree",
    "tenant_ids",
    "validate_file",
    "validate_id_number",
]

log = get_logger(__name__)

# Unknown codes are remembered briefly so a flood of them does not reach the database.
_MISSING_TTL = 10.0
_MEMO_SIZE = 32
_configs: OrderedDict[str, TenantConfig] = OrderedDict()
_public: OrderedDict[str, bytes] = OrderedDict()
# Each tenant's default phone region, noted whenever its configuration is read; the
# crypto layer asks during flushes (it must answer from memory), see ``phone_region``.
_phone_regions: dict[uuid.UUID, str] = {}
_codes: dict[uuid.UUID, str] = {}
# The near note of a code that names no tenant (see Cache.near_get).
_MISSING = object()


def _ttl() -> float:
    return float(get_settings().config_cache_seconds)


def _remember(memo: OrderedDict[str, Any], key: str, value: Any) -> None:
    memo[key] = value
    memo.move_to_end(key)
    while len(memo) > _MEMO_SIZE:
        memo.popitem(last=False)


async def tenant_ids(db: Database) -> list[uuid.UUID]:
    """Every tenant's id (the tenants table is not tenant-scoped, so RLS allows this)."""
    async with db.read() as session:
        return list((await session.scalars(select(Tenant.id).order_by(Tenant.id))).all())


async def list_tenants(*, db: Database, cache: Cache | None = None) -> list[TenantSummary]:
    """Every tenant, by code, as the landing page shows them."""
    if cache is not None:
        cached = await cache.get(TENANT_NS, LIST_KEY)
        if cached is not None:
            return [TenantSummary.model_validate(t) for t in cached]
    async with db.read() as session:
        rows = (
            await session.execute(
                select(
                    Tenant.code, Tenant.name, Tenant.names, Tenant.default_locale, Tenant.locales
                ).order_by(Tenant.code)
            )
        ).all()
    tenants = [
        TenantSummary(code=c, name=n, names=ns, default_locale=d, locales=ls)
        for c, n, ns, d, ls in rows
    ]
    if cache is not None:
        await cache.set(TENANT_NS, LIST_KEY, [t.model_dump() for t in tenants], _ttl())
    return tenants


async def list_rate_limit_overrides(
    *, db: Database, cache: Cache
) -> dict[str, dict[str, dict[str, str]]]:
    """Every tenant by code, with the rate limits its configuration overrides (maybe none)."""
    overrides: dict[str, dict[str, dict[str, str]]] = {}
    for summary in await list_tenants(db=db, cache=cache):
        try:
            tenant = await get_tenant_or_404(db=db, cache=cache, code=summary.code)
        except (NotFound, ServiceUnavailable):
            # Deleted meanwhile, or a stored config this release cannot read: defaults.
            overrides[summary.code] = {}
            continue
        limits = tenant.config.rate_limits
        overrides[summary.code] = limits.as_rules() if limits is not None else {}
    return overrides


async def get_tenant_or_404(*, db: Database, cache: Cache, code: str) -> TenantInfo:
    """The tenant with ``code`` and its configuration; NotFound (404) if there is none."""
    if not TENANT_CODE_RE.match(code):
        raise NotFound(N_("unknown tenant"))
    # Noted by this process less than NEAR_SECONDS ago (a load here drops it at once).
    info = await cache.near_load(TENANT_NS, code, lambda: _tenant_from_pointer(db, cache, code))
    if info is _MISSING:
        raise NotFound(N_("unknown tenant"))
    return info  # type: ignore[no-any-return]


async def _tenant_from_pointer(db: Database, cache: Cache, code: str) -> TenantInfo | object:
    """The tenant through the shared cache's pointer (``_MISSING``: no such tenant)."""
    pointer = await cache.get(TENANT_NS, code)
    if pointer is None:
        pointer = await _pointer_from_db(db, code)
        ttl = _MISSING_TTL if pointer.get("missing") else _ttl()
        await cache.set(TENANT_NS, code, pointer, min(ttl, _ttl()))
    if pointer.get("missing"):
        return _MISSING
    tenant_id = uuid.UUID(pointer["id"])
    config = await _config(db, cache, tenant_id, pointer["hash"])
    _phone_regions[tenant_id] = config.phone.default_region
    return TenantInfo(
        id=tenant_id,
        code=code,
        name=pointer["name"],
        config=config,
        version=pointer["version"],
        hash=pointer["hash"],
    )


async def get_tenant_by_id(*, db: Database, cache: Cache, tenant_id: uuid.UUID) -> TenantInfo:
    """The tenant with ``tenant_id`` through the cache (a worker handling its events)."""
    code = _codes.get(tenant_id)
    if code is None:
        async with db.read() as session:
            code = await session.scalar(select(Tenant.code).where(Tenant.id == tenant_id))
        if code is None:
            raise NotFound(N_("unknown tenant"))
        _codes[tenant_id] = code  # a tenant's code never changes: no expiry needed
    return await get_tenant_or_404(db=db, cache=cache, code=code)


async def get_tenant_in(*, session: AsyncSession, tenant_id: uuid.UUID) -> TenantInfo:
    """The tenant with ``tenant_id``, read in the caller's transaction; NotFound if none.

    For use cases and workers that hold a tenant id, not a code (an outbox event).
    """
    row = (
        await session.execute(
            select(Tenant.code, Tenant.name, Tenant.config_version, Tenant.config_hash).where(
                Tenant.id == tenant_id
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound(N_("unknown tenant"))
    digest = row.config_hash
    config = _configs.get(digest)
    if config is None:
        # Document and hash in one read, so a concurrent load cannot pair them wrongly.
        document, digest = (
            await session.execute(
                select(Tenant.config, Tenant.config_hash).where(Tenant.id == tenant_id)
            )
        ).one()
        config = _parse_config(document, tenant_id)
        _remember(_configs, digest, config)
    _phone_regions[tenant_id] = config.phone.default_region
    return TenantInfo(
        id=tenant_id,
        code=row.code,
        name=row.name,
        config=config,
        version=row.config_version,
        hash=digest,
    )


async def _pointer_from_db(db: Database, code: str) -> dict[str, Any]:
    async with db.read() as session:
        row = (
            await session.execute(
                select(Tenant.id, Tenant.name, Tenant.config_version, Tenant.config_hash).where(
                    Tenant.code == code
                )
            )
        ).one_or_none()
    if row is None:
        return {"missing": True}
    return {
        "id": str(row.id),
        "name": row.name,
        "version": row.config_version,
        "hash": row.config_hash,
    }


async def _config(db: Database, cache: Cache, tenant_id: uuid.UUID, digest: str) -> TenantConfig:
    config = _configs.get(digest)
    if config is not None:
        return config
    document = await cache.get(CONFIG_NS, digest)
    if document is None:
        async with db.read(tenant_id=tenant_id) as session:
            document = (
                await session.execute(
                    select(TenantConfigVersion.config)
                    .where(
                        TenantConfigVersion.tenant_id == tenant_id,
                        TenantConfigVersion.config_hash == digest,
                    )
                    .order_by(TenantConfigVersion.version.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        if document is None:
            raise ServiceUnavailable(N_("tenant configuration is being replaced; retry"))
        # Content-addressed: it can live longer than the pointer without going stale.
        await cache.set(CONFIG_NS, digest, document, max(_ttl(), 3600.0))
    config = _parse_config(document, tenant_id)
    _remember(_configs, digest, config)
    return config


def _parse_config(document: Any, tenant_id: uuid.UUID) -> TenantConfig:
    """A stored configuration, parsed; from now on its ID numbers are masked in logs."""
    try:
        config = TenantConfig.model_validate(document)
    except ValidationError as exc:
        # Stored by an older release whose schema this one no longer accepts.
        log.error(
            "tenant.stored_config_invalid", tenant_id=str(tenant_id), errors=exc.error_count()
        )
        raise ServiceUnavailable(N_("tenant configuration must be reloaded")) from exc
    for id_type in config.id_types:
        # Every path that reads a tenant's configuration passes here, so every process
        # that may log the tenant's ID numbers knows their format before it can.
        register_pattern(id_type.regex)
    return config


async def get_public_config(*, db: Database, cache: Cache, code: str) -> PublicConfigDocument:
    """The allow-listed public configuration of a tenant, serialised, with its ETag."""
    tenant = await get_tenant_or_404(db=db, cache=cache, code=code)
    body = _public.get(tenant.hash)
    if body is None:
        view = PublicConfig.model_validate(tenant.config.model_dump(mode="json"))
        body = orjson.dumps(view.model_dump(mode="json"))
        _remember(_public, tenant.hash, body)
    return PublicConfigDocument(etag=f'"{tenant.hash}"', body=body)


async def get_history(*, db: Database, code: str) -> list[ConfigVersionInfo]:
    """Every configuration version of a tenant, newest first; NotFound if unknown."""
    async with db.read() as session:
        tenant_id = (
            await session.execute(select(Tenant.id).where(Tenant.code == code))
        ).scalar_one_or_none()
        if tenant_id is None:
            raise NotFound(N_("unknown tenant"))
        await set_tenant_scope(session, tenant_id)
        rows = (
            await session.execute(
                select(TenantConfigVersion)
                .where(TenantConfigVersion.tenant_id == tenant_id)
                .order_by(TenantConfigVersion.version.desc())
            )
        ).scalars()
        return [ConfigVersionInfo.model_validate(r) for r in rows]


def is_in_subtree(*, tenant: TenantInfo, region_code: str, ancestor_code: str) -> bool:
    """True when ``region_code`` is ``ancestor_code`` or lies below it (current regions)."""
    index = tenant.config.region_index
    region, ancestor = index.get(region_code), index.get(ancestor_code)
    return region is not None and ancestor is not None and region.path.startswith(ancestor.path)


async def get_region(
    *, db: Database, tenant_id: uuid.UUID, code: str, field: str = "region_code"
) -> RegionInfo:
    """A region of the tenant, active or not; ValidationFailed on ``field`` if unknown."""
    async with db.read(tenant_id=tenant_id) as session:
        row = (
            await session.execute(
                select(Region).where(Region.tenant_id == tenant_id, Region.code == code)
            )
        ).scalar_one_or_none()
        # Converted inside the block: the read's rollback expires ORM objects.
        found = RegionInfo.model_validate(row) if row is not None else None
    if found is None:
        raise invalid(field, N_("unknown region"))
    return found


async def region_subtree(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    code: str,
    include_inactive: bool = False,
    field: str = "region_code",
) -> list[RegionInfo]:
    """The region ``code`` and every region below it, in path order."""
    root = await get_region(db=db, tenant_id=tenant_id, code=code, field=field)
    # Paths end in "/" and "0" follows "/" in byte order: the subtree is one index range.
    query = select(Region).where(
        Region.tenant_id == tenant_id,
        Region.path >= root.path,
        Region.path < root.path[:-1] + "0",
    )
    if not include_inactive:
        query = query.where(Region.active.is_(True))
    async with db.read(tenant_id=tenant_id) as session:
        rows = (await session.execute(query.order_by(Region.path))).scalars().all()
        return [RegionInfo.model_validate(r) for r in rows]


def _id_type(config: TenantConfig, code: str, field: str) -> IdDocumentType:
    found = config.id_types_by_code.get(code)
    if found is None:
        raise invalid(field, N_("unknown ID document type"))
    return found


def validate_id_number(
    *,
    config: TenantConfig,
    id_type: str,
    value: str,
    field: str = "id_number",
    type_field: str = "id_type",
) -> str:
    """The normalised ID number, or ValidationFailed naming ``field`` and the reason."""
    kind = _id_type(config, id_type, type_field)
    normalised, reason = check_id_number(kind, value)
    if reason is not None:
        raise invalid(field, reason, max_length=MAX_ID_LENGTH)
    return normalised


def get_product(
    *, config: TenantConfig, product_id: str, field: str = "product_id"
) -> VaccineProduct:
    """A product of the vaccine catalogue; ValidationFailed on ``field`` if unknown."""
    product = config.products.get(product_id)
    if product is None:
        raise invalid(field, N_("unknown vaccine product"))
    return product


def phone_region(tenant_id: uuid.UUID) -> str | None:
    """The default phone region of a tenant this process has read (None if not yet).

    National-format phone numbers in encrypted fields normalise with it: the composition
    root gives it to the crypto layer (``set_phone_region_resolver``) at start-up.
    """
    return _phone_regions.get(tenant_id)
