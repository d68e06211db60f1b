"""The public "find a vaccination slot" page and the 7-day calendar of an area.

Plain GET forms (region, postal code, vaccine, dose, age, dates): no login, no script.
Results come from the cached public search (``scheduling.service``); each page carries an
ETag and answers 304 while it still matches, and is ``public`` for ``MAX_AGE`` seconds
unless it set the language cookie. A slot links to the booking flow
(``/{tenant}/book?slot=<id>``); a calendar cell to that centre's slots of the day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

import orjson
from babel.dates import format_date, format_time
from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from vaxport.core.errors import ValidationFailed, from_validation
from vaxport.core.http.conditional import etag_matches
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.scheduling.service import CalendarQuery, SlotQuery, search_slots, slot_calendar
from vaxport.tenancy.service import TenantInfo, get_tenant_or_404, localized
from vaxport.web.facilities import RegionOption
from vaxport.web.problems import FormError, field_errors
from vaxport.web.rendering import PageLocale, render
from vaxport.web.staff_common import locale_of

router = APIRouter(include_in_schema=False)

PUBLIC = requires("slots:read", public=True, rate="public_search")
AREA_FIELDS = ("region", "postal_code", "lat", "lon", "radius_km", "vaccine", "dose", "age")
SLOT_FIELDS = (*AREA_FIELDS, "facility_id", "date_from", "date_to", "cursor")
CALENDAR_FIELDS = (*AREA_FIELDS, "start", "page")
# What a browser or shared cache may reuse a page for (the API's own bound, 2 s).
MAX_AGE = 2


def _values(request: Request, fields: tuple[str, ...]) -> dict[str, str]:
    return {
        k: v.strip() for k, v in request.query_params.items() if k in fields and v.strip() != ""
    }


async def _answer(
    kind: type[BaseModel], values: dict[str, str], fetch: Any
) -> tuple[dict[str, Any] | None, list[FormError]]:
    """The search's JSON for the form's values, or the errors to show beside the form."""
    try:
        answer = await fetch(kind.model_validate(values))
    except ValidationError as exc:
        return None, field_errors(ValidationFailed(errors=from_validation(exc.errors())))
    except ValidationFailed as exc:
        return None, field_errors(exc)
    found: dict[str, Any] = orjson.loads(answer.body)
    return found, []


def _babel(page: PageLocale) -> str:
    return page.locale.replace("-", "_")


def _place(item: dict[str, Any], tenant: TenantInfo, page: PageLocale) -> dict[str, Any]:
    config = tenant.config
    return {
        **item,
        "display_name": localized(item["name"], page.locale, config.default_locale),
    }


def _served(request: Request, response: Response, errors: list[FormError]) -> Response:
    etag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    response.headers["etag"] = etag
    # A page that sets the language cookie is the visitor's own; others are shareable.
    scope = "private" if "set-cookie" in response.headers else "public"
    response.headers["cache-control"] = f"{scope}, max-age={MAX_AGE}"
    if not errors and etag_matches(request.headers.get("if-none-match"), etag):
        kept = ("etag", "cache-control", "vary", "content-language")
        return Response(
            status_code=304, headers={k: v for k, v in response.headers.items() if k in kept}
        )
    return response


def _form_context(tenant: TenantInfo, page: PageLocale) -> dict[str, Any]:
    config = tenant.config
    index = config.region_index
    regions = [
        RegionOption(
            code=r.code,
            label=localized(r.name, page.locale, config.default_locale),
            level=index[r.code].level,
        )
        for r in sorted(config.regions.items, key=lambda r: index[r.code].path)
    ]
    return {"regions": regions, "vaccines": [p for p in config.vaccines if p.active]}


def _slot_view(item: dict[str, Any], tenant: TenantInfo, page: PageLocale) -> dict[str, Any]:
    start = dt.datetime.fromisoformat(item["start"])
    end = dt.datetime.fromisoformat(item["end"])
    locale = _babel(page)
    return {
        **item,
        "time": format_time(start.time(), "short", locale=locale),
        "until": format_time(end.time(), "short", locale=locale),
        "place": _place(item["facility"], tenant, page),
    }


@router.api_route("/{tenant}/slots", methods=["GET", "HEAD"], dependencies=[PUBLIC])
async def find_a_slot(tenant: str, request: Request, ctx: Ctx) -> Response:
    """Open slots soonest first (the coming days nationwide until narrowed)."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    page = locale_of(request, info)
    values = _values(request, SLOT_FIELDS)

    async def fetch(query: SlotQuery) -> Any:
        return await search_slots(db=ctx.db, cache=ctx.cache, tenant=info, query=query)

    results, errors = await _answer(SlotQuery, values, fetch)
    items = [_slot_view(i, info, page) for i in (results or {}).get("items", [])]
    days = [
        (format_date(dt.date.fromisoformat(d), "full", locale=_babel(page)), list(group))
        for d, group in groupby(items, key=lambda i: i["day"])
    ]
    keep = {k: v for k, v in values.items() if k != "cursor"}
    next_cursor = (results or {}).get("next_cursor")
    area = {k: v for k, v in keep.items() if k in AREA_FIELDS}
    response = render(
        request,
        "slots/search.html",
        page,
        status=422 if errors else 200,
        tenant=info,
        nav_current="slots",
        values=values,
        errors=errors,
        error_fields={(e.field or "").split(".")[0] for e in errors},
        days=days,
        count=len(items),
        next_url=(
            f"{request.url.path}?{urlencode({**keep, 'cursor': next_cursor})}"
            if next_cursor
            else None
        ),
        calendar_url=f"/{info.code}/slots/calendar" + (f"?{urlencode(area)}" if area else ""),
        **_form_context(info, page),
    )
    return _served(request, response, errors)


@router.api_route("/{tenant}/slots/calendar", methods=["GET", "HEAD"], dependencies=[PUBLIC])
async def area_calendar(tenant: str, request: Request, ctx: Ctx) -> Response:
    """Open places per centre on each of 7 days, for an area."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    page = locale_of(request, info)
    values = _values(request, CALENDAR_FIELDS)

    async def fetch(query: CalendarQuery) -> Any:
        return await slot_calendar(db=ctx.db, cache=ctx.cache, tenant=info, query=query)

    results, errors = await _answer(CalendarQuery, values, fetch)
    locale = _babel(page)
    days = [dt.date.fromisoformat(d) for d in (results or {}).get("days", [])]
    area = {k: v for k, v in values.items() if k in AREA_FIELDS}
    rows = []
    for row in (results or {}).get("facilities", []):
        place = _place(row["facility"], info, page)
        cells = []
        for d, seats in zip(days, row["seats"], strict=True):
            query = {**area, "facility_id": place["id"], "date_from": str(d), "date_to": str(d)}
            cells.append({"seats": seats, "url": f"/{info.code}/slots?{urlencode(query)}"})
        rows.append({"place": place, "cells": cells, "total": row["total"]})
    keep = {k: v for k, v in values.items() if k != "page"}

    def page_url(number: int | None) -> str | None:
        return f"{request.url.path}?{urlencode({**keep, 'page': number})}" if number else None

    number = (results or {}).get("page", 1)
    response = render(
        request,
        "slots/calendar.html",
        page,
        status=422 if errors else 200,
        tenant=info,
        nav_current="slots",
        values=values,
        errors=errors,
        error_fields={(e.field or "").split(".")[0] for e in errors},
        days=[
            {
                "label": format_date(d, "EEE d MMM", locale=locale),
                "long": format_date(d, "full", locale=locale),
            }
            for d in days
        ],
        first=format_date(days[0], "long", locale=locale) if days else "",
        last=format_date(days[-1], "long", locale=locale) if days else "",
        rows=rows,
        next_url=page_url((results or {}).get("next_page")),
        previous_url=page_url(number - 1 if number > 1 else None),
        search_url=f"/{info.code}/slots" + (f"?{urlencode(area)}" if area else ""),
        **_form_context(info, page),
    )
    return _served(request, response, errors)
