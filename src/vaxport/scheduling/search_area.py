"""What a public search's filters resolve to: regions, places, products, days, ages.

Regions come from the tenant's configuration (a subtree, no query). A postal code or a
point is resolved by the facility directory through facilities' front door (its own
search and distance order, served from its cache): the centres found, nearest first,
become the search's places. Ages are whole years, as a person types them: a session or
product is left out only when nobody of that age could be admitted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.facilities import service as facilities
from vaxport.scheduling.reach import local_today
from vaxport.scheduling.search_schemas import AreaQuery
from vaxport.settings import get_settings
from vaxport.tenancy.service import TenantInfo, date_age_passed, date_age_reached

# Centres a postal-code or distance search considers at most (nearest first): beyond
# them a search must be narrowed. Pages of the directory's largest size.
MAX_PLACES = 500
_DIRECTORY_PAGE = 100


@dataclass(frozen=True, slots=True)
class Area:
    """A resolved area and product filter."""

    region_codes: tuple[str, ...] | None = None
    # With a postal code or point: the centres in it, by id, in the directory's order.
    places: dict[uuid.UUID, dict[str, Any]] | None = None
    products: tuple[str, ...] | None = None  # None: every product


def today(tenant: TenantInfo) -> dt.date:
    """The tenant's local date now."""
    return local_today(tenant)


def horizon(tenant: TenantInfo, first: dt.date) -> dt.date:
    """The last day people may book: ``booking.days_ahead`` after ``first`` (today)."""
    return first + dt.timedelta(days=tenant.config.booking.days_ahead)


def region_codes(tenant: TenantInfo, code: str) -> tuple[str, ...]:
    """``code`` and every region below it; 422 on ``region`` if the tenant has none such."""
    index = tenant.config.region_index
    root = index.get(code)
    if root is None:
        raise invalid("region", N_("unknown region"))
    return tuple(sorted(c for c, node in index.items() if node.path.startswith(root.path)))


def check_product(tenant: TenantInfo, product_id: str) -> None:
    """422 on ``vaccine`` unless the catalogue has ``product_id``."""
    if product_id not in tenant.config.products:
        raise invalid("vaccine", N_("unknown vaccine product"))


def check(tenant: TenantInfo, query: AreaQuery) -> None:
    """The filters that depend on the tenant, checked before any cache or query."""
    if query.region is not None:
        region_codes(tenant, query.region)
    if query.vaccine is not None:
        check_product(tenant, query.vaccine)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def admits_age(years: int, min_age: str | None, max_age: str | None, on: dt.date) -> bool:
    """Whether someone ``years`` old on ``on`` could be within ``min_age``..``max_age``."""
    if years > on.year - 1:
        return False  # born before year 1: nobody
    if min_age:
        oldest = _years_before(on, years + 1) + dt.timedelta(days=1)
        if date_age_reached(oldest, min_age) > on:
            return False
    if max_age:
        youngest = _years_before(on, years)
        if date_age_passed(youngest, max_age) <= on:
            return False
    return True


def _age_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"{value}y"
    if isinstance(value, str) and value[:-1].isdigit() and value[-1:] in ("d", "w", "m", "y"):
        return value
    return None


def session_admits(
    dose_numbers: Any, eligibility: Any, *, dose: int | None, age: int | None, on: dt.date
) -> bool:
    """Whether a session serves ``dose`` and admits someone ``age`` years old.

    ``eligibility`` is the session's narrowing (``min_age``/``max_age``: whole years or
    ages such as ``"12y"``); what it does not say, it does not narrow.
    """
    if dose is not None and dose not in (dose_numbers or ()):
        return False
    if age is not None and isinstance(eligibility, dict):
        low, high = _age_text(eligibility.get("min_age")), _age_text(eligibility.get("max_age"))
        if (low or high) and not admits_age(age, low, high, on):
            return False
    return True


def _products(tenant: TenantInfo, query: AreaQuery, on: dt.date) -> tuple[str, ...] | None:
    if query.vaccine is None and query.age is None:
        return None
    wanted = [p for p in tenant.config.vaccines if query.vaccine in (None, p.id)]
    if query.age is not None:
        wanted = [p for p in wanted if admits_age(query.age, p.min_age, p.max_age, on)]
    return tuple(p.id for p in wanted)


async def _places(
    db: Database, cache: Cache, tenant: TenantInfo, query: AreaQuery
) -> dict[uuid.UUID, dict[str, Any]]:
    found: dict[uuid.UUID, dict[str, Any]] = {}
    cursor: str | None = None
    seconds = get_settings().directory_cache_seconds
    while len(found) < MAX_PLACES:
        page = await facilities.directory_page(
            db=db,
            cache=cache,
            tenant=tenant,
            query=facilities.DirectoryQuery(
                postal_code=query.postal_code,
                lat=query.lat,
                lon=query.lon,
                radius_km=query.radius_km,
                limit=_DIRECTORY_PAGE,
                cursor=cursor,
            ),
            cache_seconds=seconds,
        )
        doc = orjson.loads(page.body)
        for item in doc["items"]:
            found[uuid.UUID(item["id"])] = item
        cursor = doc.get("next_cursor")
        if not cursor:
            break
    return found


async def resolve(
    db: Database, cache: Cache, tenant: TenantInfo, query: AreaQuery, on: dt.date
) -> Area:
    """The area and products ``query`` names (its tenant-dependent parts checked)."""
    check(tenant, query)
    located = query.postal_code is not None or query.lat is not None
    return Area(
        region_codes=region_codes(tenant, query.region) if query.region else None,
        places=await _places(db, cache, tenant, query) if located else None,
        products=_products(tenant, query, on),
    )


async def place(
    db: Database, cache: Cache, tenant: TenantInfo, area: Area, facility_id: uuid.UUID
) -> dict[str, Any] | None:
    """A centre as the public directory shows it (None once it is out of service)."""
    if area.places is not None:
        return area.places.get(facility_id)
    try:
        doc = await facilities.directory_entry(
            db=db,
            cache=cache,
            tenant=tenant,
            facility_id=facility_id,
            cache_seconds=get_settings().directory_cache_seconds,
        )
    except NotFound:
        return None
    found: dict[str, Any] = orjson.loads(doc.body)
    return found
