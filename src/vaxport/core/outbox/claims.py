"""The worker's two claims, in one transaction: fan due events out, lease due deliveries.

On PostgreSQL concurrent claimers skip each other's rows (``FOR UPDATE SKIP LOCKED``)
instead of queueing behind them; on SQLite the BEGIN IMMEDIATE writer lock serialises
claims instead.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.clock import utcnow
from vaxport.core.ids import uuid7
from vaxport.core.outbox.handlers import Event
from vaxport.core.outbox.models import (
    D_PENDING,
    DELIVERED,
    IS_PENDING,
    PENDING,
    OutboxDelivery,
    OutboxEvent,
)
from vaxport.core.outbox.subscriptions import Subscriptions


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event leased to this worker for one subscriber."""

    id: uuid.UUID
    subscriber: str
    event: Event


async def fan_out(
    session: AsyncSession,
    subscriptions: Subscriptions,
    *,
    cutoff: dt.datetime,
    limit: int,
    skip_locked: bool,
) -> int:
    """Turn up to ``limit`` due events into one delivery per current subscriber each.

    An event of a type nobody subscribes to is done here. Returns the events fanned out.
    """
    now = utcnow()
    due = (
        select(OutboxEvent.id)
        .where(
            IS_PENDING,
            OutboxEvent.available_at <= cutoff,
            # Not one that a worker of the release before fan-out is delivering whole.
            or_(OutboxEvent.locked_until.is_(None), OutboxEvent.locked_until <= now),
        )
        .order_by(OutboxEvent.available_at)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    published = (
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(due.scalar_subquery()), IS_PENDING)
            .values(state=DELIVERED, delivered_at=now, locked_until=None, locked_by=None)
            .returning(
                OutboxEvent.id,
                OutboxEvent.event_type,
                OutboxEvent.tenant_id,
                OutboxEvent.available_at,
            )
            .execution_options(synchronize_session=False)
        )
    ).all()
    rows = [
        {
            "id": uuid7(),
            "event_id": e.id,
            "subscriber": sub.name,
            "tenant_id": e.tenant_id,
            "event_type": e.event_type,
            "state": PENDING,
            "attempts": 0,
            # The event's own time: a --once run that started before the fan-out takes it.
            "available_at": e.available_at,
            "created_at": now,
        }
        for e in published
        for sub in subscriptions.for_type(e.event_type)
    ]
    if rows:
        await session.execute(insert(OutboxDelivery), rows)
    return len(published)


async def lease(
    session: AsyncSession,
    subscribers: Sequence[str],
    *,
    cutoff: dt.datetime,
    limit: int,
    skip_locked: bool,
    until: dt.datetime,
    worker_id: str,
) -> list[Delivery]:
    """Lease up to ``limit`` due deliveries to ``subscribers`` (counts an attempt each)."""
    if not subscribers:
        return []
    now = utcnow()
    due = (
        select(OutboxDelivery.id)
        .where(
            D_PENDING,
            OutboxDelivery.available_at <= cutoff,
            OutboxDelivery.subscriber.in_(subscribers),
            or_(OutboxDelivery.locked_until.is_(None), OutboxDelivery.locked_until <= now),
        )
        .order_by(OutboxDelivery.available_at)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    claimed = (
        await session.execute(
            update(OutboxDelivery)
            .where(OutboxDelivery.id.in_(due.scalar_subquery()))
            .values(
                locked_until=until,
                locked_by=worker_id,
                attempts=OutboxDelivery.attempts + 1,
            )
            .returning(
                OutboxDelivery.id,
                OutboxDelivery.subscriber,
                OutboxDelivery.event_id,
                OutboxDelivery.event_type,
                OutboxDelivery.tenant_id,
                OutboxDelivery.attempts,
            )
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not claimed:
        return []
    # Payloads are read from the publication: written once, however many subscribers.
    events = {
        r.id: r
        for r in await session.execute(
            select(OutboxEvent.id, OutboxEvent.payload, OutboxEvent.created_at).where(
                OutboxEvent.id.in_({c.event_id for c in claimed})
            )
        )
    }
    deliveries = [
        Delivery(
            c.id,
            c.subscriber,
            Event(c.event_id, c.event_type, c.tenant_id, dict(e.payload), c.attempts, e.created_at),
        )
        for c in claimed
        if (e := events.get(c.event_id)) is not None
    ]
    deliveries.sort(key=lambda d: (d.event.id, d.subscriber))
    return deliveries
