"""Read use cases of the facilities registry: get, list, and the cached public directory.

Re-exported by ``service``; administrators' reads take ``within_region`` like writes do
(a facility outside it is, to them, not there).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, ScalarSelect, select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.facilities import directory, writes
from vaxport.facilities.geo import km_for_chord2
from vaxport.facilities.models import Facility
from vaxport.facilities.queries import Search, encode_cursor, make_search, statement
from vaxport.facilities.schemas import (
    AdminListQuery,
    DirectoryQuery,
    FacilityOut,
    FacilityPage,
    PublicFacility,
    PublicPage,
)
from vaxport.tenancy.service import TenantInfo, region_subtree


async def get(
    *,
    db: Database,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    within_region: str | None = None,
) -> FacilityOut:
    """A facility, active or not; NotFound (404) if none with that id is in reach."""
    async with db.read(tenant_id=tenant.id) as session:
        facility = await session.scalar(
            select(Facility).where(Facility.tenant_id == tenant.id, Facility.id == facility_id)
        )
        if facility is None:
            raise NotFound(N_("no such facility"))
        writes.check_reach(tenant, facility, within_region)
        return writes.to_out(facility)


async def facility_region(
    *, db: Database, tenant_id: uuid.UUID, facility_id: uuid.UUID
) -> str | None:
    """The region a facility lies in; None if the tenant has no such facility."""
    async with db.read(tenant_id=tenant_id) as session:
        region: str | None = await session.scalar(
            select(Facility.region_code).where(
                Facility.tenant_id == tenant_id, Facility.id == facility_id
            )
        )
        return region


async def facility_region_in(
    session: AsyncSession, tenant_id: uuid.UUID, facility_id: uuid.UUID
) -> str | None:
    """:func:`facility_region` in the caller's transaction."""
    region: str | None = await session.scalar(
        select(Facility.region_code).where(
            Facility.tenant_id == tenant_id, Facility.id == facility_id
        )
    )
    return region


async def names_in(
    session: AsyncSession, tenant: TenantInfo, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """Each facility's name in the tenant's default language (else its first name, else
    its code), by id, in the caller's transaction: one statement for any number of ids;
    ids of no facility of the tenant are left out."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Facility.id, Facility.name, Facility.code).where(
            Facility.tenant_id == tenant.id, Facility.id.in_(wanted)
        )
    )
    locale = tenant.config.default_locale
    return {
        fid: (name or {}).get(locale) or next(iter((name or {}).values()), code)
        for fid, name, code in rows.all()
    }


def region_of(
    tenant_id: ColumnElement[uuid.UUID], facility_id: ColumnElement[uuid.UUID]
) -> ScalarSelect[str]:
    """A facility's region as a scalar subquery of the caller's statement (NULL when the
    tenant has no such facility): read with the caller's own rows, no round trip of its
    own. The arguments are the statement's columns or ``bindparam``s."""
    return (
        select(Facility.region_code)
        .where(Facility.tenant_id == tenant_id, Facility.id == facility_id)
        .scalar_subquery()
    )


async def get_by_code(*, db: Database, tenant: TenantInfo, code: str) -> FacilityOut:
    """A facility by its code (any case), active or not; NotFound if there is none."""
    async with db.read(tenant_id=tenant.id) as session:
        facility = await session.scalar(
            select(Facility).where(
                Facility.tenant_id == tenant.id, Facility.code == code.strip().upper()
            )
        )
        if facility is None:
            raise NotFound(N_("no such facility"))
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
            raise NotFound(N_("no such facility"))
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
