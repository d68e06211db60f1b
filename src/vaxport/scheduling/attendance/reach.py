"""Who works a centre's day, where their reach ends, and what "today" is for the tenant.

The day's work is staff work: citizens hold ``appointments:read``/``write`` for their
own family's bookings, and are refused here (403). A staff member reaches a centre by
their jurisdiction (their own facility; the facilities of their region subtree;
national staff all): anything outside it answers as missing (404).
"""

from __future__ import annotations

import uuid
from typing import Any

from vaxport.core import audit
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Forbidden, NotFound
from vaxport.core.i18n import N_
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor, Resource, can
from vaxport.tenancy.service import TenantInfo

READ = "appointments:read"
WRITE = "appointments:write"
NO_FACILITY = N_("no such facility")
NO_APPOINTMENT = N_("appointment not found")
NO_SESSION = N_("session not found")


def staff_only(actor: Actor) -> None:
    """403 for citizens: the day's list and its marks are work at a centre."""
    if actor.kind != "staff":
        raise Forbidden(N_("the day at a centre is work for its staff"))


def located(
    tenant_id: uuid.UUID, region_code: str | None, facility_id: uuid.UUID | None
) -> Resource:
    """A facility's object as the policy sees it: its region and facility."""
    return Resource(tenant_id=tenant_id, region_code=region_code, facility_id=facility_id)


def check(actor: Actor, permission: str, where: Resource, missing: str) -> None:
    """404 (``missing``) unless ``actor`` may exercise ``permission`` at ``where``."""
    if not can(actor, permission, where):
        raise NotFound(missing)


async def facility_in_reach(
    db: Database, tenant: TenantInfo, actor: Actor, facility_id: uuid.UUID, permission: str
) -> str:
    """The region of a centre ``actor`` may work at; 403 for citizens, 404 out of reach."""
    staff_only(actor)
    region = await facilities.facility_region(db=db, tenant_id=tenant.id, facility_id=facility_id)
    if region is None:
        raise NotFound(NO_FACILITY)
    check(actor, permission, located(tenant.id, region, facility_id), NO_FACILITY)
    return region


async def audit_people(
    uow: UnitOfWork, actor: Actor, action: str, people: list[uuid.UUID], **details: Any
) -> None:
    """One entry per person a staff member saw (as registration audits its reads)."""
    entries: list[audit.EntryFields] = [
        {"action": action, "object_type": "beneficiary", "object_id": pid, "details": details}
        for pid in dict.fromkeys(people)
    ]
    await audit.record_many(uow, by=actor.principal, entries=entries)
