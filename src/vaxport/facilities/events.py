"""Outbox events of the facilities context (payloads carry ids only).

- ``facility.created``: a facility was added (API, CLI or import).
- ``facility.changed``: any of its fields changed (its ``version`` went up).
- ``facility.deactivated``: it no longer takes vaccinations; kept for history.
- ``facility.reactivated``: a deactivated facility is back in service.
"""

from __future__ import annotations

import uuid

from vaxport.core.db import UnitOfWork
from vaxport.core.outbox import emit

CREATED = "facility.created"
CHANGED = "facility.changed"
DEACTIVATED = "facility.deactivated"
REACTIVATED = "facility.reactivated"
EVENT_TYPES = (CREATED, CHANGED, DEACTIVATED, REACTIVATED)


async def publish(uow: UnitOfWork, event_type: str, facility_id: uuid.UUID) -> None:
    """Add ``event_type`` about ``facility_id`` to the unit of work's transaction."""
    await emit(uow, event_type, {"facility_id": str(facility_id)})
