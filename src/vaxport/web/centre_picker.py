"""The centre field of staff forms: a list of the centres in reach, grouped by region.

Works without script: a ``<select>`` whose options carry each centre's code, and, when
the reach holds more centres than the list shows, a GET search (``centre_q``) that
narrows it by name or code. The server resolves the code within the actor's reach.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import Request

from vaxport.core.db import Database
from vaxport.core.errors import invalid
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor
from vaxport.tenancy.service import TenantInfo
from vaxport.web.staff_common import locale_of, region_labels, text_in

SEARCH_PARAM = "centre_q"


@dataclass(frozen=True, slots=True)
class Centre:
    """One option: the code it submits and what it shows."""

    code: str
    label: str


@dataclass(frozen=True, slots=True)
class RegionGroup:
    """An ``<optgroup>``: a region and its centres."""

    label: str
    centres: list[Centre]


@dataclass(frozen=True, slots=True)
class Picker:
    """What the centre field shows: groups, the search typed, whether the list was cut."""

    groups: list[RegionGroup]
    query: str
    more: bool
    count: int


def _reach(actor: Actor) -> tuple[str | None, uuid.UUID | None, bool]:
    """``(within_region, only_facility, reaches_anything)`` of a staff member."""
    if actor.facility_id is not None:
        return None, actor.facility_id, True
    if actor.is_national:
        return None, None, True
    return actor.region_code, None, actor.region_code is not None


async def picker(db: Database, request: Request, tenant: TenantInfo, actor: Actor) -> Picker:
    """The centres ``actor`` may choose, narrowed by ``?centre_q=`` when given."""
    query = (request.query_params.get(SEARCH_PARAM) or "").strip()[:100]
    within, only, any_reach = _reach(actor)
    if not any_reach:
        return Picker([], query, more=False, count=0)
    found = await facilities.centres_in_reach(
        db=db, tenant=tenant, within_region=within, only=only, q=query or None
    )
    locale = locale_of(request, tenant).locale
    default = tenant.config.default_locale
    labels = region_labels(tenant, locale)
    index = tenant.config.region_index
    by_region: dict[str, list[Centre]] = {}
    for item in found.items:
        name = text_in(item.name, locale, default)
        by_region.setdefault(item.region_code, []).append(
            Centre(item.code, f"{name} ({item.code})")
        )
    order = sorted(by_region, key=lambda c: index[c].path if c in index else (c,))
    groups = [
        RegionGroup(labels.get(code, code), sorted(by_region[code], key=lambda c: c.label))
        for code in order
    ]
    return Picker(groups, query, more=found.more, count=len(found.items))


async def resolve(db: Database, tenant: TenantInfo, actor: Actor, value: str) -> uuid.UUID:
    """The id of the centre ``value`` names (code or id) within ``actor``'s reach; 422 else."""
    within, only, any_reach = _reach(actor)
    if not any_reach:
        raise invalid("facility_id", facilities.UNKNOWN_CENTRE)
    centre = await facilities.resolve_centre(
        db=db, tenant=tenant, value=value, within_region=within, only=only
    )
    return centre.id
