"""HTTP routes of the facilities context: the public directory and the administrators' API.

Writes and the administrators' reads need ``facilities:write`` (national and regional
admins); the acting account comes from identity (``CurrentActor``) and its region
subtree bounds what it reaches: a facility outside it is, to the actor, not there (404).
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response

from vaxport.core.errors import Forbidden
from vaxport.core.http.answers import keep_answer
from vaxport.core.http.conditional import etag_matches
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import N_
from vaxport.core.imports.readers import XLSX_MEDIA_TYPE
from vaxport.core.imports.upload import remove_tree, spool, upload_kind
from vaxport.facilities import service
from vaxport.facilities.directory import Document
from vaxport.facilities.importer import import_file
from vaxport.facilities.schemas import (
    AdminListQuery,
    DirectoryQuery,
    FacilityCreate,
    FacilityOut,
    FacilityPage,
    FacilityUpdate,
    ImportSummary,
    PublicFacility,
    PublicPage,
    VersionedChange,
)
from vaxport.identity.service import Actor, CurrentActor
from vaxport.tenancy.service import get_tenant_or_404

router = APIRouter(tags=["facilities"])

READ = requires("facilities:read", public=True)
SEARCH = requires("facilities:read", public=True, rate="public_search")
WRITE = requires("facilities:write")
UPLOAD = requires("facilities:write", upload=True)
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (the ETag still matches)"}
}


def acting(actor: Actor) -> dict[str, Any]:
    """The service keywords for ``actor``: who acts, and the region subtree they reach."""
    if actor.is_national:
        region = None
    elif actor.region_code is not None:
        region = actor.region_code
    else:  # a scope without a region (e.g. a facility not yet placed) reaches nothing
        raise Forbidden(N_("your scope does not cover facilities"))
    return {"by": actor.principal, "within_region": region}


def _cached(doc: Document, request: Request, max_age: int) -> Response:
    headers = {"ETag": doc.etag, "Cache-Control": f"public, max-age={max_age}"}
    if etag_matches(request.headers.get("if-none-match"), doc.etag):
        return Response(status_code=304, headers=headers)
    keep_answer(request)  # a facility write in this process drops it (directory.invalidate)
    return Response(doc.body, media_type="application/json", headers=headers)


@router.get(
    "/api/v1/{tenant}/facilities",
    dependencies=[SEARCH],
    response_model=PublicPage,
    responses=_NOT_MODIFIED,
    summary="Find vaccination centres",
)
async def list_directory(
    tenant: str, request: Request, ctx: Ctx, query: Annotated[DirectoryQuery, Query()]
) -> Response:
    """Active facilities, filtered; nearest first when ``lat``/``lon`` are given."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    seconds = ctx.settings.directory_cache_seconds
    doc = await service.directory_page(
        db=ctx.db, cache=ctx.cache, tenant=info, query=query, cache_seconds=seconds
    )
    return _cached(doc, request, seconds)


@router.get(
    "/api/v1/{tenant}/facilities/{facility_id}",
    dependencies=[READ],
    response_model=PublicFacility,
    responses=_NOT_MODIFIED,
    summary="One vaccination centre",
)
async def get_directory_entry(
    tenant: str, facility_id: uuid.UUID, request: Request, ctx: Ctx
) -> Response:
    """An active facility; 404 once it is deactivated."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    seconds = ctx.settings.directory_cache_seconds
    doc = await service.directory_entry(
        db=ctx.db, cache=ctx.cache, tenant=info, facility_id=facility_id, cache_seconds=seconds
    )
    return _cached(doc, request, seconds)


@router.post(
    "/api/v1/{tenant}/facilities", dependencies=[WRITE], status_code=201, summary="Add a facility"
)
async def create_facility(
    tenant: str, body: FacilityCreate, response: Response, ctx: Ctx, who: CurrentActor
) -> FacilityOut:
    """Create a facility (a code is made up when none is given)."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    created = await service.create(
        db=ctx.db, cache=ctx.cache, tenant=info, data=body, **acting(who)
    )
    response.headers["Location"] = f"/api/v1/{tenant}/admin/facilities/{created.id}"
    return created


@router.patch(
    "/api/v1/{tenant}/facilities/{facility_id}",
    dependencies=[WRITE],
    summary="Change a facility",
)
async def update_facility(
    tenant: str, facility_id: uuid.UUID, body: FacilityUpdate, ctx: Ctx, who: CurrentActor
) -> FacilityOut:
    """Change the given fields (null clears an optional one); ``version`` makes it conditional."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    return await service.update(
        db=ctx.db,
        cache=ctx.cache,
        tenant=info,
        facility_id=facility_id,
        changes=body,
        **acting(who),
    )


async def _set_active(
    tenant: str,
    facility_id: uuid.UUID,
    body: VersionedChange | None,
    who: Actor,
    ctx: Ctx,
    *,
    active: bool,
) -> FacilityOut:
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    change = service.reactivate if active else service.deactivate
    return await change(
        db=ctx.db,
        cache=ctx.cache,
        tenant=info,
        facility_id=facility_id,
        version=body.version if body else None,
        **acting(who),
    )


@router.post(
    "/api/v1/{tenant}/facilities/{facility_id}/deactivate",
    dependencies=[WRITE],
    summary="Take a facility out of service",
)
async def deactivate_facility(
    tenant: str,
    facility_id: uuid.UUID,
    ctx: Ctx,
    who: CurrentActor,
    body: Annotated[VersionedChange | None, Body()] = None,
) -> FacilityOut:
    """Hide it from the public directory; it is kept, with its history."""
    return await _set_active(tenant, facility_id, body, who, ctx, active=False)


@router.post(
    "/api/v1/{tenant}/facilities/{facility_id}/reactivate",
    dependencies=[WRITE],
    summary="Put a facility back in service",
)
async def reactivate_facility(
    tenant: str,
    facility_id: uuid.UUID,
    ctx: Ctx,
    who: CurrentActor,
    body: Annotated[VersionedChange | None, Body()] = None,
) -> FacilityOut:
    """Show it in the public directory again."""
    return await _set_active(tenant, facility_id, body, who, ctx, active=True)


@router.get(
    "/api/v1/{tenant}/admin/facilities",
    dependencies=[WRITE],
    summary="List facilities (administrators)",
)
async def list_facilities(
    tenant: str, ctx: Ctx, who: CurrentActor, query: Annotated[AdminListQuery, Query()]
) -> FacilityPage:
    """Every facility in the actor's region, deactivated ones too unless ``active`` says."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    return await service.list_facilities(
        db=ctx.db, tenant=info, query=query, within_region=acting(who)["within_region"]
    )


@router.get(
    "/api/v1/{tenant}/admin/facilities/{facility_id}",
    dependencies=[WRITE],
    summary="One facility (administrators)",
)
async def get_facility(
    tenant: str, facility_id: uuid.UUID, ctx: Ctx, who: CurrentActor
) -> FacilityOut:
    """A facility with its version and timestamps, active or not (in the actor's reach)."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    return await service.get(
        db=ctx.db, tenant=info, facility_id=facility_id, within_region=acting(who)["within_region"]
    )


# `code`, `name`, `type` and `region_code` are required; docs/facilities.md lists the others.
FACILITIES_CSV_EXAMPLE = (
    "code,name,type,region_code,vaccines,hours_mon\n"
    "NOR-01-01-101,Hillcrest Clinic,public,NOR-01-01,covid-mrna;hpv,08:00-12:00\n"
)


@router.post(
    "/api/v1/{tenant}/facilities/import",
    dependencies=[UPLOAD],
    summary="Import facilities from CSV or XLSX",
    responses={200: {"content": {"text/csv": {}}, "description": "summary or error report"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"example": FACILITIES_CSV_EXAMPLE},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def import_facilities(tenant: str, request: Request, ctx: Ctx, who: CurrentActor) -> Response:
    """Upsert facilities by code from the body (CSV or XLSX; see docs/facilities.md).

    Answers the summary as JSON, or the full error report when ``Accept: text/csv``.
    """
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    kind = upload_kind(request)
    work = Path(tempfile.mkdtemp(prefix="vaxport-import-"))
    report_path = work / "errors.csv"
    try:
        upload = await spool(request, ctx.settings.upload_max_bytes, work, kind)
        with report_path.open("w", encoding="utf-8", newline="") as report:
            summary: ImportSummary = await import_file(
                db=ctx.db,
                cache=ctx.cache,
                tenant=info,
                path=upload,
                kind=kind,
                report=report,
                **acting(who),
            )
    except BaseException:
        remove_tree(work)
        raise
    if "text/csv" in request.headers.get("accept", ""):
        return FileResponse(
            report_path,
            media_type="text/csv; charset=utf-8",
            filename="facility-import-errors.csv",
            background=BackgroundTask(remove_tree, work),
        )
    remove_tree(work)
    return Response(summary.model_dump_json(), media_type="application/json")
