"""Outbox events about lots (payloads carry ids and the lot's product only).

- ``lot.held``: a lot was put on hold: no new dose may be drawn from it.
- ``lot.released``: a hold was lifted.
- ``lot.flagged``: serious adverse event reports on the lot reached the tenant's
  threshold; its admins are told (immunization.aefi.messages) and decide on a hold.
"""

from __future__ import annotations

import uuid

from vaxport.core.db import UnitOfWork
from vaxport.core.outbox import emit

LOT_HELD = "lot.held"
LOT_RELEASED = "lot.released"
LOT_FLAGGED = "lot.flagged"


async def publish(uow: UnitOfWork, event_type: str, lot_id: uuid.UUID, product_id: str) -> None:
    """Add ``event_type`` about the lot to the unit of work's transaction."""
    await emit(uow, event_type, {"lot_id": str(lot_id), "product_id": product_id})
