"""Who reaches which sessions: the centre's managers, its region's admins, national staff.

Publishing, closing and cancelling need ``slots:write`` over the session's centre; reading
needs ``facilities:read`` over it (a session is part of a centre's schedule, no personal
data). A session or centre out of reach is, to the actor, not there (404).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, true

from vaxport.core.db import Database
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor, Resource, can
from vaxport.scheduling.models import Session
from vaxport.tenancy.service import TenantInfo

WRITE = "slots:write"
READ = "facilities:read"
NO_SESSION = N_("session not found")
NO_FACILITY = N_("no such facility")


def reaches(
    actor: Actor,
    permission: str,
    tenant_id: uuid.UUID,
    *,
    region_code: str,
    facility_id: uuid.UUID,
) -> bool:
    """Whether ``actor`` may use ``permission`` on a centre's sessions."""
    place = Resource(tenant_id, region_code=region_code, facility_id=facility_id)
    return can(actor, permission, place)


def reaches_session(actor: Actor, permission: str, session: Session) -> bool:
    """Whether ``actor`` may use ``permission`` on ``session``."""
    return reaches(
        actor,
        permission,
        session.tenant_id,
        region_code=session.region_code,
        facility_id=session.facility_id,
    )


def session_filter(actor: Actor) -> ColumnElement[bool]:
    """The sessions ``actor`` reaches, as a WHERE clause (the rule of :func:`reaches`)."""
    if actor.kind != "staff":
        return false()
    if actor.is_national:
        return true()
    if actor.facility_id is not None:
        return Session.facility_id == actor.facility_id
    codes = actor.region_filter_codes()
    if not codes:
        return false()
    return Session.region_code.in_(sorted(codes))


@dataclass(frozen=True, slots=True)
class Centre:
    """What publishing needs of a centre: where it is and the vaccines it offers."""

    id: uuid.UUID
    region_code: str
    vaccines: list[str]


async def centre_in_reach(
    db: Database, tenant: TenantInfo, actor: Actor, facility_id: uuid.UUID
) -> Centre:
    """An active centre ``actor`` may publish at; 404 when unknown, inactive or out of reach."""
    try:
        found = await facilities.get(db=db, tenant=tenant, facility_id=facility_id)
    except NotFound:
        raise NotFound(NO_FACILITY) from None
    if not found.active or not reaches(
        actor, WRITE, tenant.id, region_code=found.region_code, facility_id=found.id
    ):
        raise NotFound(NO_FACILITY)
    return Centre(found.id, found.region_code, list(found.vaccines))
