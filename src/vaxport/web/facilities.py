"""The public "find a vaccination centre" page.

A plain GET form (region, postal code, vaccine, name): it works without JavaScript.
``static/js/facility-finder.js`` adds a "use my location" button that fills ``lat`` and
``lon`` (rounded to about a kilometre) and submits the same form. Results come from the
cached public directory; the page carries an ETag and answers 304 when it still matches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
import phonenumbers
from babel.dates import format_date, get_day_names
from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from vaxport.core.errors import ValidationFailed, from_validation
from vaxport.core.http.conditional import etag_matches
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.facilities import service
from vaxport.facilities.service import WEEKDAYS, DirectoryQuery
from vaxport.tenancy.service import TenantInfo, get_tenant_or_404, localized
from vaxport.web.problems import field_errors
from vaxport.web.rendering import PageLocale, render
from vaxport.web.staff_common import locale_of

router = APIRouter(include_in_schema=False)

SEARCH_FIELDS = ("region", "postal_code", "vaccine", "q", "lat", "lon", "radius_km", "cursor")
RADII = (10, 25, 50, 100, 250)


@dataclass(frozen=True, slots=True)
class RegionOption:
    code: str
    label: str
    level: int

    @property
    def indent(self) -> str:
        """Em spaces showing the level in the list (silent for screen readers)."""
        return "\u2003" * (self.level - 1)


def _region_options(tenant: TenantInfo, page: PageLocale) -> list[RegionOption]:
    config = tenant.config
    index = config.region_index
    items = sorted(config.regions.items, key=lambda r: index[r.code].path)
    return [
        RegionOption(
            code=r.code,
            label=localized(r.name, page.locale, config.default_locale),
            level=index[r.code].level,
        )
        for r in items
    ]


def _hours_rows(item: dict[str, Any], page: PageLocale) -> list[tuple[str, str]]:
    names = get_day_names("wide", locale=page.locale.replace("-", "_"))
    weekly = item["opening_hours"]["weekly"]
    return [
        (
            names[i].capitalize(),
            ", ".join(f"{h['opens']}\u2013{h['closes']}" for h in weekly.get(day, [])),
        )
        for i, day in enumerate(WEEKDAYS)
    ]


def _exceptions(item: dict[str, Any], page: PageLocale, today: dt.date) -> list[dict[str, Any]]:
    out = []
    for e in item["opening_hours"]["exceptions"]:
        day = dt.date.fromisoformat(e["date"])
        if day < today:
            continue
        out.append(
            {
                "date": format_date(day, "medium", locale=page.locale.replace("-", "_")),
                "hours": ", ".join(f"{h['opens']}\u2013{h['closes']}" for h in e["hours"]),
                "note": e.get("note"),
            }
        )
    return out[:5]


def _view(
    item: dict[str, Any],
    tenant: TenantInfo,
    page: PageLocale,
    today: dt.date,
    region_names: dict[str, str],
) -> dict[str, Any]:
    config = tenant.config
    distance = item.get("distance_km")
    return {
        **item,
        "display_name": localized(item["name"], page.locale, config.default_locale),
        "region_name": region_names.get(item["region_code"], item["region_code"]),
        "distance": (
            None
            if distance is None
            else format_decimal(distance, format="#,##0.0", locale=page.locale.replace("-", "_"))
        ),
        "phone_display": _phone(item["phone"]),
        "vaccine_names": [
            config.products[p].name if p in config.products else p for p in item["vaccines"]
        ],
        "accessibility_text": (
            localized(item["accessibility"], page.locale, config.default_locale)
            if item["accessibility"]
            else None
        ),
        "hours": _hours_rows(item, page),
        "exceptions": _exceptions(item, page, today),
    }


def _phone(e164: str | None) -> str | None:
    if not e164:
        return None
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _form_values(request: Request) -> dict[str, str]:
    return {
        k: v.strip()
        for k, v in request.query_params.items()
        if k in SEARCH_FIELDS and v.strip() != ""
    }


@router.api_route(
    "/{tenant}/facilities",
    methods=["GET", "HEAD"],
    dependencies=[requires("facilities:read", public=True, rate="public_search")],
)
async def find_a_centre(tenant: str, request: Request, ctx: Ctx) -> Response:
    """Search the tenant's active vaccination centres; nearest first with a location."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    page = locale_of(request, info)
    values = _form_values(request)
    problem: ValidationFailed | None = None
    results: dict[str, Any] | None = None
    searched = any(k in values for k in ("region", "postal_code", "vaccine", "q", "lat"))
    if searched:
        try:
            query = DirectoryQuery.model_validate(values)
            doc = await service.directory_page(
                db=ctx.db,
                cache=ctx.cache,
                tenant=info,
                query=query,
                cache_seconds=ctx.settings.directory_cache_seconds,
            )
            results = orjson.loads(doc.body)
        except ValidationError as exc:
            problem = ValidationFailed(errors=from_validation(exc.errors()))
        except ValidationFailed as exc:
            problem = exc
    errors = field_errors(problem) if problem else []
    today = info.config.local_today()
    regions = _region_options(info, page)
    names = {r.code: r.label for r in regions}
    items = [_view(i, info, page, today, names) for i in (results or {}).get("items", [])]
    next_cursor = (results or {}).get("next_cursor")
    keep = {k: v for k, v in values.items() if k != "cursor"}
    response = render(
        request,
        "facility_finder.html",
        page,
        status=422 if errors else 200,
        tenant=info,
        nav_current="facilities",
        values=values,
        errors=errors,
        error_fields={(e.field or "").split(".")[0] for e in errors},
        searched=searched and not errors,
        items=items,
        regions=regions,
        vaccines=[p for p in info.config.vaccines if p.active],
        radii=RADII,
        near="lat" in values and "lon" in values and not errors,
        next_url=(
            f"{request.url.path}?{urlencode({**keep, 'cursor': next_cursor})}"
            if next_cursor
            else None
        ),
        without_location_url=(
            f"{request.url.path}?"
            + urlencode({k: v for k, v in keep.items() if k not in ("lat", "lon", "radius_km")})
        ),
    )
    etag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    response.headers["etag"] = etag
    # A page that sets the language cookie is the visitor's own; others are shareable.
    scope = "private" if "set-cookie" in response.headers else "public"
    response.headers["cache-control"] = f"{scope}, max-age={ctx.settings.directory_cache_seconds}"
    if not errors and etag_matches(request.headers.get("if-none-match"), etag):
        kept = ("etag", "cache-control", "vary", "content-language")
        return Response(
            status_code=304, headers={k: v for k, v in response.headers.items() if k in kept}
        )
    return response
