"""The sessions' subscribers to the facilities context's events.

- ``facility.deactivated``: a centre taken out of service cancels its sessions to come.
- ``facility.changed``: a centre whose region was corrected takes its sessions to come,
  their slots and live appointments along (``relocation.py``).

Both events carry ``{"facility_id"}``; their names are the contract, so they are written
here rather than imported. Each handler reads the centre as it is now and is idempotent
(a second delivery finds nothing left to do); ``wiring`` lists :data:`SUBSCRIBERS`.
"""

from __future__ import annotations

import uuid

from vaxport.core.outbox import Event, HandlerContext, PermanentFailure, Subscriber
from vaxport.scheduling.sessions.ending import cancel_at_facility
from vaxport.scheduling.sessions.relocation import follow_facility_region

FACILITY_DEACTIVATED = "facility.deactivated"
FACILITY_CHANGED = "facility.changed"


def _facility(event: Event) -> tuple[uuid.UUID, uuid.UUID]:
    """The event's tenant and facility (a malformed event is never retried)."""
    if event.tenant_id is None:
        raise PermanentFailure(f"{event.event_type} without a tenant")
    try:
        return event.tenant_id, uuid.UUID(str(event.payload["facility_id"]))
    except (KeyError, ValueError) as exc:
        raise PermanentFailure(f"{event.event_type} without a facility id") from exc


async def cancel_sessions_of_closed_facility(event: Event, ctx: HandlerContext) -> None:
    """Cancel the sessions (and release the appointments) of a deactivated centre."""
    tenant_id, facility_id = _facility(event)
    await cancel_at_facility(
        db=ctx.db, cache=ctx.cache, tenant_id=tenant_id, facility_id=facility_id
    )


async def follow_region_of_changed_facility(event: Event, ctx: HandlerContext) -> None:
    """Move a changed centre's sessions to come to its region now (if it moved)."""
    tenant_id, facility_id = _facility(event)
    await follow_facility_region(
        db=ctx.db, cache=ctx.cache, tenant_id=tenant_id, facility_id=facility_id
    )


SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber.each(
        "scheduling.cancel-sessions-of-closed-facility",
        (FACILITY_DEACTIVATED,),
        cancel_sessions_of_closed_facility,
    ),
    Subscriber.each(
        "scheduling.follow-region-of-changed-facility",
        (FACILITY_CHANGED,),
        follow_region_of_changed_facility,
    ),
)
