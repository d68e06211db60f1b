"""Outbox events of the facilities context (payloads carry ids only), and its subscriber.

- ``facility.created``: a facility was added (API, CLI or import).
- ``facility.changed``: any of its fields changed (its ``version`` went up).
- ``facility.deactivated``: it no longer takes vaccinations; kept for history.
- ``facility.reactivated``: a deactivated facility is back in service.

Other contexts (scheduling, analytics) subscribe to these. The facilities context itself
handles each by invalidating the tenant's cached public directory: the writer already
did once its transaction committed, but a process can die between its commit and that
step, and the outbox delivers at least once.
"""

from __future__ import annotations

import uuid

from vaxport.core.db import UnitOfWork
from vaxport.core.outbox import Event, HandlerContext, Subscriber, emit
from vaxport.facilities import directory

CREATED = "facility.created"
CHANGED = "facility.changed"
DEACTIVATED = "facility.deactivated"
REACTIVATED = "facility.reactivated"
EVENT_TYPES = (CREATED, CHANGED, DEACTIVATED, REACTIVATED)


async def publish(uow: UnitOfWork, event_type: str, facility_id: uuid.UUID) -> None:
    """Add ``event_type`` about ``facility_id`` to the unit of work's transaction."""
    await emit(uow, event_type, {"facility_id": str(facility_id)})


async def refresh_directory(event: Event, ctx: HandlerContext) -> None:
    """Make the tenant's cached directory answers unreachable (idempotent)."""
    if event.tenant_id is not None:
        await directory.invalidate(ctx.cache, event.tenant_id)


SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber.each("facilities.refresh-directory", EVENT_TYPES, refresh_directory),
)
