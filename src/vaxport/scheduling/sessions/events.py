"""The sessions' subscriber: a centre taken out of service cancels its sessions to come.

``facility.deactivated`` (payload ``{"facility_id"}``) is the facilities context's event;
its name is the contract, so it is written here rather than imported. The handler is
idempotent (a second delivery finds nothing left to cancel); ``wiring`` lists
:data:`SUBSCRIBERS`.
"""

from __future__ import annotations

import uuid

from vaxport.core.outbox import Event, HandlerContext, PermanentFailure, Subscriber
from vaxport.scheduling.sessions.ending import cancel_at_facility

FACILITY_DEACTIVATED = "facility.deactivated"


async def cancel_sessions_of_closed_facility(event: Event, ctx: HandlerContext) -> None:
    """Cancel the sessions (and release the appointments) of a deactivated centre."""
    if event.tenant_id is None:
        raise PermanentFailure("facility.deactivated without a tenant")
    try:
        facility_id = uuid.UUID(str(event.payload["facility_id"]))
    except (KeyError, ValueError) as exc:
        raise PermanentFailure("facility.deactivated without a facility id") from exc
    await cancel_at_facility(
        db=ctx.db, cache=ctx.cache, tenant_id=event.tenant_id, facility_id=facility_id
    )


SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber.each(
        "scheduling.cancel-sessions-of-closed-facility",
        (FACILITY_DEACTIVATED,),
        cancel_sessions_of_closed_facility,
    ),
)
