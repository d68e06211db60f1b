"""Choosing a centre by name or code among those in a staff member's reach.

Forms never ask for a facility's internal id: people pick a centre from a list (narrowed
by a search when the reach is large) or type its code. Whatever names the centre, it is
resolved inside the actor's reach only: an unknown code and a code outside the reach get
the same answer, so the form does not reveal which centres exist elsewhere.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from vaxport.core.db import Database
from vaxport.core.errors import NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.facilities.models import Facility
from vaxport.facilities.reads import get_public, list_facilities
from vaxport.facilities.schemas import AdminListQuery, FacilityOut, PublicFacility
from vaxport.facilities.writes import in_scope, to_out
from vaxport.tenancy.service import TenantInfo

UNKNOWN_CENTRE = N_("is not a centre you can choose: pick one from the list")
CHOICES_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Centres:
    """Active centres in reach (by code); ``more`` when the list was cut at the limit."""

    items: list[PublicFacility]
    more: bool


async def centres_in_reach(
    *,
    db: Database,
    tenant: TenantInfo,
    within_region: str | None,
    only: uuid.UUID | None = None,
    q: str | None = None,
    limit: int = CHOICES_LIMIT,
) -> Centres:
    """The active centres an actor may choose: their own one, or those of their region
    subtree (the whole country for national staff), optionally matching ``q``."""
    if only is not None:
        try:
            return Centres([await get_public(db=db, tenant=tenant, facility_id=only)], more=False)
        except NotFound:  # their centre was deactivated
            return Centres([], more=False)
    query = AdminListQuery(q=q[:100] if q else None, active=True, limit=limit)
    page = await list_facilities(db=db, tenant=tenant, query=query, within_region=within_region)
    return Centres(list(page.items), more=page.next_cursor is not None)


async def resolve_centre(
    *,
    db: Database,
    tenant: TenantInfo,
    value: str,
    within_region: str | None,
    only: uuid.UUID | None = None,
    field: str = "facility_id",
) -> FacilityOut:
    """The active centre named by ``value`` (its code, any case, or its id) within reach.

    422 on ``field`` when nothing in reach answers to it, whether or not it exists.
    """
    text = value.strip()
    if not text:
        raise invalid(field, N_("is required: choose a centre"))
    try:
        key = Facility.id == uuid.UUID(text)
    except ValueError:
        key = Facility.code == text.upper()[:64]
    async with db.read(tenant_id=tenant.id) as session:
        row = await session.scalar(
            select(Facility).where(Facility.tenant_id == tenant.id, key, Facility.active.is_(True))
        )
        found = to_out(row) if row is not None else None
    if (
        found is None
        or (only is not None and found.id != only)
        or not in_scope(tenant, found.region_code, within_region)
    ):
        raise invalid(field, UNKNOWN_CENTRE)
    return found
