"""Use cases of the facilities registry: create, update, (de)activate, get, list.

Writers pass ``within_region`` (the code of the actor's region subtree root; None for
national scope): a regional administrator can only create, change or (de)activate
facilities in that subtree. Every write records an audit entry and an outbox event in
its own transaction and, once committed, invalidates the public directory's cache.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, NotFound, ValidationFailed, field_error
from vaxport.core.ids import short_code
from vaxport.facilities import directory, events, writes
from vaxport.facilities.geo import km_for_chord2
from vaxport.facilities.models import Facility
from vaxport.facilities.queries import Search, encode_cursor, make_search, statement
from vaxport.facilities.schemas import (
    AdminListQuery,
    DirectoryQuery,
    FacilityCreate,
    FacilityFields,
    FacilityOut,
    FacilityPage,
    FacilityUpdate,
    PublicFacility,
    PublicPage,
)
from vaxport.facilities.validation import columns
from vaxport.tenancy.schemas import TenantInfo
from vaxport.tenancy.service import region_subtree

__all__ = [
    "create",
    "deactivate",
    "directory_entry",
    "directory_page",
    "get",
    "get_by_code",
    "get_public",
    "list_facilities",
    "list_public",
    "reactivate",
    "update",
]

_CODE_ATTEMPTS = 5


def _code_taken() -> Conflict:
    return Conflict(
        "a facility with this code already exists",
        errors=[field_error("code", "is already used by another facility")],
    )


async def _code_exists(uow: UnitOfWork, code: str) -> bool:
    found = await uow.session.scalar(
        select(Facility.id).where(Facility.tenant_id == uow.tenant_id, Facility.code == code)
    )
    return found is not None


async def _new_code(uow: UnitOfWork) -> str:
    for _ in range(_CODE_ATTEMPTS):
        code = f"F-{short_code(6)}"
        if not await _code_exists(uow, code):
            return code
    raise Conflict("could not find a free facility code; give one")  # pragma: no cover


def _after_write(uow: UnitOfWork, cache: Cache, tenant_id: uuid.UUID) -> None:
    async def invalidate() -> None:
        await directory.invalidate(cache, tenant_id)

    uow.after_commit(invalidate)


async def create(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    data: FacilityCreate,
    actor_id: uuid.UUID | None = None,
    actor_role: str = "system",
    within_region: str | None = None,
) -> FacilityOut:
    """Add a facility; 422 with every field problem, 409 if the code is taken."""
    cols, errors = columns(tenant, {f: getattr(data, f) for f in FacilityFields.model_fields})
    if errors:
        raise ValidationFailed(errors=errors)
    writes.check_scope(tenant, cols["region_code"], within_region)
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            if data.code is not None and await _code_exists(uow, data.code):
                raise _code_taken()
            code = data.code or await _new_code(uow)
            facility = writes.new_facility(tenant.id, code, cols, now=utcnow(), active=True)
            uow.session.add(facility)
            await uow.session.flush()
            await writes.add_vaccines(uow, [(facility.id, facility.vaccines)])
            changes = writes.Changes(uow, actor_id=actor_id, actor_role=actor_role, source="api")
            changes.add("facility.create", events.CREATED, facility)
            await changes.flush()
            _after_write(uow, cache, tenant.id)
    except IntegrityError as exc:
        # The code was taken by a concurrent create between our check and our insert.
        raise _code_taken() from exc
    return writes.to_out(facility)


async def _locked(uow: UnitOfWork, facility_id: uuid.UUID) -> Facility:
    facility = await uow.session.scalar(
        select(Facility)
        .where(Facility.tenant_id == uow.tenant_id, Facility.id == facility_id)
        .with_for_update()
    )
    if facility is None:
        raise NotFound("no such facility")
    return facility


def _check_version(facility: Facility, version: int | None) -> None:
    if version is not None and version != facility.version:
        raise Conflict(
            f"the facility changed since version {version}; it is at {facility.version}",
            errors=[field_error("version", f"is {facility.version}, not {version}")],
            current_version=facility.version,
        )


async def update(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    changes: FacilityUpdate,
    actor_id: uuid.UUID | None = None,
    actor_role: str = "system",
    within_region: str | None = None,
) -> FacilityOut:
    """Change the given fields; a change to nothing is a no-op (no new version, no event)."""
    given = changes.model_fields_set - {"version"}
    cols, errors = columns(tenant, {f: getattr(changes, f) for f in given})
    if errors:
        raise ValidationFailed(errors=errors)
    async with db.transaction(tenant_id=tenant.id) as uow:
        facility = await _locked(uow, facility_id)
        _check_version(facility, changes.version)
        writes.check_scope(tenant, facility.region_code, within_region)
        if "region_code" in cols:
            writes.check_scope(tenant, cols["region_code"], within_region)
        changed = writes.changed_fields(facility, cols)
        if changed:
            writes.apply(facility, cols, now=utcnow())
            if "vaccines" in changed:
                await writes.replace_vaccines(uow, facility)
            noted = writes.Changes(uow, actor_id=actor_id, actor_role=actor_role, source="api")
            noted.add("facility.update", events.CHANGED, facility, {"changed": changed})
            await noted.flush()
            _after_write(uow, cache, tenant.id)
    return writes.to_out(facility)


async def _set_active(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    active: bool,
    version: int | None,
    actor_id: uuid.UUID | None,
    actor_role: str,
    within_region: str | None,
) -> FacilityOut:
    async with db.transaction(tenant_id=tenant.id) as uow:
        facility = await _locked(uow, facility_id)
        _check_version(facility, version)
        writes.check_scope(tenant, facility.region_code, within_region)
        if facility.active != active:
            writes.set_active(facility, active, now=utcnow())
            noted = writes.Changes(uow, actor_id=actor_id, actor_role=actor_role, source="api")
            if active:
                noted.add("facility.reactivate", events.REACTIVATED, facility)
            else:
                noted.add("facility.deactivate", events.DEACTIVATED, facility)
            await noted.flush()
            _after_write(uow, cache, tenant.id)
    return writes.to_out(facility)


async def deactivate(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    version: int | None = None,
    actor_id: uuid.UUID | None = None,
    actor_role: str = "system",
    within_region: str | None = None,
) -> FacilityOut:
    """Take a facility out of service: hidden from the public, kept with its history."""
    return await _set_active(
        db=db,
        cache=cache,
        tenant=tenant,
        facility_id=facility_id,
        active=False,
        version=version,
        actor_id=actor_id,
        actor_role=actor_role,
        within_region=within_region,
    )


async def reactivate(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    version: int | None = None,
    actor_id: uuid.UUID | None = None,
    actor_role: str = "system",
    within_region: str | None = None,
) -> FacilityOut:
    """Put a deactivated facility back in service."""
    return await _set_active(
        db=db,
        cache=cache,
        tenant=tenant,
        facility_id=facility_id,
        active=True,
        version=version,
        actor_id=actor_id,
        actor_role=actor_role,
        within_region=within_region,
    )


async def get(*, db: Database, tenant: TenantInfo, facility_id: uuid.UUID) -> FacilityOut:
    """A facility, active or not; NotFound (404) if the tenant has none with that id."""
    async with db.read(tenant_id=tenant.id) as session:
        facility = await session.scalar(
            select(Facility).where(Facility.tenant_id == tenant.id, Facility.id == facility_id)
        )
        if facility is None:
            raise NotFound("no such facility")
        return writes.to_out(facility)


async def get_by_code(*, db: Database, tenant: TenantInfo, code: str) -> FacilityOut:
    """A facility by its code (any case), active or not; NotFound if there is none."""
    async with db.read(tenant_id=tenant.id) as session:
        facility = await session.scalar(
            select(Facility).where(
                Facility.tenant_id == tenant.id, Facility.code == code.strip().upper()
            )
        )
        if facility is None:
            raise NotFound("no such facility")
        return writes.to_out(facility)


async def get_public(*, db: Database, tenant: TenantInfo, facility_id: uuid.UUID) -> PublicFacility:
    """An active facility as the public sees it; NotFound if unknown or deactivated."""
    async with db.read(tenant_id=tenant.id) as session:
        facility = await session.scalar(
            select(Facility).where(
                Facility.tenant_id == tenant.id,
                Facility.id == facility_id,
                Facility.active.is_(True),
            )
        )
        if facility is None:
            raise NotFound("no such facility")
        return writes.to_public(facility)


async def _region_codes(
    db: Database, tenant: TenantInfo, region: str | None, within_region: str | None
) -> tuple[str, ...] | None:
    codes: set[str] | None = None
    for root, field in ((region, "region"), (within_region, "within_region")):
        if root is None:
            continue
        subtree = await region_subtree(
            db=db, tenant_id=tenant.id, code=root, include_inactive=True, field=field
        )
        found = {r.code for r in subtree}
        codes = found if codes is None else codes & found
    return None if codes is None else tuple(sorted(codes))


async def _search(
    db: Database,
    tenant: TenantInfo,
    query: DirectoryQuery,
    *,
    active: bool | None,
    within: str | None,
) -> Search:
    return make_search(
        tenant_id=tenant.id,
        region_codes=await _region_codes(db, tenant, query.region, within),
        type=query.type,
        vaccine=query.vaccine,
        q=query.q,
        postal_code=query.postal_code,
        lat=query.lat,
        lon=query.lon,
        radius_km=query.radius_km,
        active=active,
        limit=query.limit,
    )


async def _page(
    db: Database, search: Search, cursor: str | None
) -> tuple[list[tuple[Facility, float | None]], str | None]:
    async with db.read(tenant_id=search.tenant_id) as session:
        rows = [(f, d2) for f, d2 in (await session.execute(statement(search, cursor))).all()]
        session.expunge_all()  # the read's rollback must not expire what we return
    more = len(rows) > search.limit
    rows = rows[: search.limit]
    next_cursor = encode_cursor(search, *rows[-1]) if more and rows else None
    return rows, next_cursor


async def list_public(*, db: Database, tenant: TenantInfo, query: DirectoryQuery) -> PublicPage:
    """A page of the public directory: active facilities only, nearest first with a point."""
    search = await _search(db, tenant, query, active=True, within=None)
    rows, next_cursor = await _page(db, search, query.cursor)
    items = [writes.to_public(f, None if d2 is None else km_for_chord2(d2)) for f, d2 in rows]
    return PublicPage(items=items, next_cursor=next_cursor)


async def list_facilities(
    *, db: Database, tenant: TenantInfo, query: AdminListQuery, within_region: str | None = None
) -> FacilityPage:
    """A page of facilities for administrators (deactivated ones too, unless filtered)."""
    search = await _search(db, tenant, query, active=query.active, within=within_region)
    rows, next_cursor = await _page(db, search, query.cursor)
    items = []
    for facility, d2 in rows:
        out = writes.to_out(facility)
        if d2 is not None:
            out.distance_km = round(km_for_chord2(d2), 3)
        items.append(out)
    return FacilityPage(items=items, next_cursor=next_cursor)


async def directory_page(
    *, db: Database, cache: Cache, tenant: TenantInfo, query: DirectoryQuery, cache_seconds: float
) -> directory.Document:
    """The public list as served (JSON and its ETag), from the cache while fresh."""
    return await directory.cached_document(
        cache=cache,
        tenant_id=tenant.id,
        key={"list": query.model_dump(mode="json")},
        ttl=cache_seconds,
        build=lambda: list_public(db=db, tenant=tenant, query=query),
    )


async def directory_entry(
    *, db: Database, cache: Cache, tenant: TenantInfo, facility_id: uuid.UUID, cache_seconds: float
) -> directory.Document:
    """One active facility as served (JSON and its ETag); NotFound if unknown or inactive."""
    return await directory.cached_document(
        cache=cache,
        tenant_id=tenant.id,
        key={"one": str(facility_id)},
        ttl=cache_seconds,
        build=lambda: get_public(db=db, tenant=tenant, facility_id=facility_id),
    )
