"""Taking and giving back a seat: the only statements that change a slot's ``booked``.

A seat is taken by one conditional UPDATE (``booked < capacity`` on an open slot) that
either takes it or touches nothing, whatever the concurrency; the table's CHECK is the
second wall. Callers write the appointment row in the same transaction, so a seat and its
owner commit or roll back together. These never read-then-write.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import update

from vaxport.core.db import UnitOfWork
from vaxport.scheduling.models import Slot

__all__ = ["TakenSeat", "give_back", "take"]


@dataclass(frozen=True, slots=True)
class TakenSeat:
    """The slot a seat was taken in, as the appointment row copies it."""

    slot_id: uuid.UUID
    session_id: uuid.UUID
    facility_id: uuid.UUID
    region_code: str
    product_id: str
    day: dt.date
    starts_at: dt.datetime
    remaining: int


async def take(uow: UnitOfWork, tenant_id: uuid.UUID, slot_id: uuid.UUID) -> TakenSeat | None:
    """Take one seat of an open slot; None when it is full, closed or not there."""
    row = (
        await uow.session.execute(
            update(Slot)
            .where(
                Slot.tenant_id == tenant_id,
                Slot.id == slot_id,
                Slot.status == "open",
                Slot.booked < Slot.capacity,
            )
            .values(booked=Slot.booked + 1, version=Slot.version + 1)
            .returning(
                Slot.session_id,
                Slot.facility_id,
                Slot.region_code,
                Slot.product_id,
                Slot.day,
                Slot.starts_at,
                Slot.capacity - Slot.booked,
            )
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:
        return None
    session_id, facility_id, region, product, day, starts_at, remaining = row
    return TakenSeat(slot_id, session_id, facility_id, region, product, day, starts_at, remaining)


async def give_back(uow: UnitOfWork, tenant_id: uuid.UUID, slot_id: uuid.UUID) -> None:
    """Return one seat (the appointment holding it ended in the same transaction)."""
    await uow.session.execute(
        update(Slot)
        .where(Slot.tenant_id == tenant_id, Slot.id == slot_id, Slot.booked > 0)
        .values(booked=Slot.booked - 1, version=Slot.version + 1)
        .execution_options(synchronize_session=False)
    )
