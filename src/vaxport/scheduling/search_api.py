"""HTTP routes of the public slot search, the 7-day calendar and the availability feed.

All public (no login), all GET, all served as cached bytes with an ETag (``If-None-Match``
answers 304) and ``Cache-Control: public``: browsers, CDNs and this process's kept answers
(``core/http/answers.py``) may reuse them for ``max-age`` seconds. The search and the
calendar are rate-limited as public searches; the feed is meant to be fetched by
aggregators about once a minute (``docs/scheduling.md``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from vaxport.core.http.answers import keep_answer
from vaxport.core.http.conditional import etag_matches
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.http.openapi import link_resource
from vaxport.scheduling import feed, search
from vaxport.scheduling.answers import MAX_AGE, Answer
from vaxport.scheduling.search_schemas import CalendarPage, CalendarQuery, SlotPage, SlotQuery
from vaxport.tenancy.service import get_tenant_or_404

router = APIRouter(tags=["slots"])

SEARCH = requires("slots:read", public=True, rate="public_search")
FEED = requires("slots:read", public=True)
SLOTS = "/api/v1/{tenant}/slots"
CALENDAR = SLOTS + "/calendar"
FEED_PATH = "/api/v1/{tenant}/$bulk-publish"
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (the ETag still matches)"}
}
_NDJSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {feed.NDJSON: {"schema": {"type": "string"}}}, "description": "NDJSON"},
    **_NOT_MODIFIED,
}

# A calendar row and a slot name a centre: its directory entry and its slots follow.
LINKS = link_resource(
    "facility_id",
    sources={
        ("GET", CALENDAR, "200"): "$response.body#/facilities/0/facility/id",
        ("GET", SLOTS, "200"): "$response.body#/items/0/facility/id",
    },
    targets={
        "GetFacility": ("GET", "/api/v1/{tenant}/facilities/{facility_id}"),
        "SlotsOfFacility": ("GET", SLOTS),
    },
)


def _served(answer: Answer, request: Request, max_age: int, media_type: str) -> Response:
    headers = {"ETag": answer.etag, "Cache-Control": f"public, max-age={max_age}"}
    if etag_matches(request.headers.get("if-none-match"), answer.etag):
        return Response(status_code=304, headers=headers)
    keep_answer(request)  # a seat change in this process drops it (slots_changed)
    return Response(answer.body, media_type=media_type, headers=headers)


@router.get(
    SLOTS,
    dependencies=[SEARCH],
    response_model=SlotPage,
    responses=_NOT_MODIFIED,
    summary="Find open vaccination slots",
)
async def find_slots(
    tenant: str, request: Request, ctx: Ctx, query: Annotated[SlotQuery, Query()]
) -> Response:
    """Open slots soonest first, each with its ``remaining`` seats; no filter: nationwide."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    answer = await search.search_slots(db=ctx.db, cache=ctx.cache, tenant=info, query=query)
    return _served(answer, request, MAX_AGE, "application/json")


@router.get(
    CALENDAR,
    dependencies=[SEARCH],
    response_model=CalendarPage,
    responses=_NOT_MODIFIED,
    summary="Open seats per centre and day, 7 days",
)
async def slot_calendar(
    tenant: str, request: Request, ctx: Ctx, query: Annotated[CalendarQuery, Query()]
) -> Response:
    """A 7-day calendar of an area: open seats per centre and day, from ``start`` (today)."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    answer = await search.slot_calendar(db=ctx.db, cache=ctx.cache, tenant=info, query=query)
    return _served(answer, request, MAX_AGE, "application/json")


@router.get(
    FEED_PATH,
    dependencies=[FEED],
    responses=_NOT_MODIFIED,
    summary="SMART Scheduling Links manifest",
)
async def bulk_publish(tenant: str, request: Request, ctx: Ctx) -> Response:
    """The ``$bulk-publish`` manifest: where the Location, Schedule and Slot files are."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    answer = await feed.manifest(cache=ctx.cache, tenant=info, base_url=ctx.settings.public_url)
    return _served(answer, request, feed.FEED_SECONDS, "application/json")


async def _file(
    tenant: str, request: Request, ctx: Ctx, kind: str, region: str | None = None
) -> Response:
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    answer = await feed.feed_file(
        db=ctx.db,
        cache=ctx.cache,
        tenant=info,
        base_url=ctx.settings.public_url,
        kind=kind,
        region=region,
    )
    return _served(answer, request, feed.FEED_SECONDS, feed.NDJSON)


@router.get(
    FEED_PATH + "/locations.ndjson",
    dependencies=[FEED],
    responses=_NDJSON,
    summary="Feed: the centres (FHIR Location, NDJSON)",
)
async def feed_locations(tenant: str, request: Request, ctx: Ctx) -> Response:
    """One FHIR Location per centre with sessions to come."""
    return await _file(tenant, request, ctx, "locations")


@router.get(
    FEED_PATH + "/schedules.ndjson",
    dependencies=[FEED],
    responses=_NDJSON,
    summary="Feed: centre and vaccine schedules (FHIR Schedule, NDJSON)",
)
async def feed_schedules(tenant: str, request: Request, ctx: Ctx) -> Response:
    """One FHIR Schedule per centre and vaccine product, with the dose numbers served."""
    return await _file(tenant, request, ctx, "schedules")


@router.get(
    FEED_PATH + "/slots/{region}.ndjson",
    dependencies=[FEED],
    responses=_NDJSON,
    summary="Feed: the slots of a top-level region (FHIR Slot, NDJSON)",
)
async def feed_slots(tenant: str, region: str, request: Request, ctx: Ctx) -> Response:
    """Every coming slot of the region: ``free`` with seats left, or ``busy``."""
    return await _file(tenant, request, ctx, "slots", region)
