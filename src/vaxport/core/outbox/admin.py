"""Operating the outbox: backlog per subscriber, metrics, dead letters, re-drive, retention."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, update

from vaxport.core.clock import utcnow
from vaxport.core.db import Database, delete_in_batches
from vaxport.core.logging import get_logger
from vaxport.core.metrics import OUTBOX_BACKLOG, OUTBOX_DEAD, OUTBOX_OLDEST_AGE
from vaxport.core.outbox.models import (
    D_DEAD,
    D_DELIVERED,
    D_PENDING,
    IS_DELIVERED,
    IS_PENDING,
    PENDING,
    OutboxDelivery,
    OutboxEvent,
)

log = get_logger(__name__)

PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class SubscriberCounts:
    """One subscriber's deliveries by where they stand (``due`` includes leased ones)."""

    due: int = 0
    scheduled: int = 0
    leased: int = 0
    dead: int = 0
    oldest_due_age_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """The outbox at a glance: deliveries by state and subscriber, and unpublished events.

    ``unpublished_*``: events not yet fanned out to their subscribers (``due``: a worker
    may take them now; ``scheduled``: emitted for later). ``delivered`` counts deliveries
    still within the retention.
    """

    due: int
    scheduled: int
    leased: int
    dead: int
    delivered: int
    oldest_due_age_seconds: float | None
    unpublished_due: int = 0
    unpublished_scheduled: int = 0
    by_subscriber: dict[str, SubscriberCounts] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadDelivery:
    """A dead letter: one subscriber gave up on one event (no payload: it may be sensitive)."""

    event_id: uuid.UUID
    subscriber: str
    event_type: str
    tenant_id: uuid.UUID | None
    attempts: int
    last_error: str | None
    created_at: dt.datetime


def _age(now: dt.datetime, oldest: dt.datetime | None) -> float | None:
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else None


async def backlog(*, db: Database) -> tuple[int, float | None, int]:
    """(due deliveries and unpublished events, age in seconds of the most overdue, dead)."""
    now = utcnow()
    async with db.read() as session:
        due, oldest_delivery = (
            await session.execute(
                select(func.count(), func.min(OutboxDelivery.available_at)).where(
                    D_PENDING, OutboxDelivery.available_at <= now
                )
            )
        ).one()
        unpublished, oldest_event = (
            await session.execute(
                select(func.count(), func.min(OutboxEvent.available_at)).where(
                    IS_PENDING, OutboxEvent.available_at <= now
                )
            )
        ).one()
        dead = await session.scalar(select(func.count()).where(D_DEAD))
    oldest = min((t for t in (oldest_delivery, oldest_event) if t is not None), default=None)
    return int(due) + int(unpublished), _age(now, oldest), int(dead or 0)


async def refresh_metrics(db: Database) -> None:
    """Set the outbox gauges from the database (counters are kept by the workers)."""
    try:
        due, age, dead = await backlog(db=db)
    except Exception as exc:  # noqa: BLE001 - /metrics must answer while the database is down
        log.warning("outbox.metrics_failed", error=type(exc).__name__)
        return
    OUTBOX_BACKLOG.set(due)
    OUTBOX_OLDEST_AGE.set(age or 0.0)
    OUTBOX_DEAD.set(dead)


async def stats(*, db: Database) -> OutboxStats:
    """Backlog per subscriber, events not yet fanned out, and retained deliveries."""
    now = utcnow()
    is_due = OutboxDelivery.available_at <= now
    async with db.read() as session:
        pending_rows = (
            await session.execute(
                select(
                    OutboxDelivery.subscriber,
                    func.count(),
                    func.sum(_case(is_due)),
                    func.sum(_case(OutboxDelivery.locked_until > now)),
                )
                .where(D_PENDING)
                .group_by(OutboxDelivery.subscriber)
            )
        ).all()
        oldest_due = {
            row.subscriber: row.oldest
            for row in await session.execute(
                select(
                    OutboxDelivery.subscriber,
                    func.min(OutboxDelivery.available_at).label("oldest"),
                )
                .where(D_PENDING, is_due)
                .group_by(OutboxDelivery.subscriber)
            )
        }
        dead_rows = (
            await session.execute(
                select(OutboxDelivery.subscriber, func.count())
                .where(D_DEAD)
                .group_by(OutboxDelivery.subscriber)
            )
        ).all()
        delivered = await session.scalar(select(func.count()).where(D_DELIVERED))
        unpublished, unpublished_due = (
            await session.execute(
                select(func.count(), func.sum(_case(OutboxEvent.available_at <= now))).where(
                    IS_PENDING
                )
            )
        ).one()
        oldest_event = await session.scalar(
            select(func.min(OutboxEvent.available_at)).where(
                IS_PENDING, OutboxEvent.available_at <= now
            )
        )
    by_subscriber: dict[str, dict[str, Any]] = {}
    for name, total, due, leased in pending_rows:
        by_subscriber[name] = {
            "due": int(due or 0),
            "scheduled": int(total) - int(due or 0),
            "leased": int(leased or 0),
            "oldest_due_age_seconds": _age(now, oldest_due.get(name)),
        }
    for name, total in dead_rows:
        by_subscriber.setdefault(name, {})["dead"] = int(total)
    counts = {n: SubscriberCounts(**c) for n, c in sorted(by_subscriber.items())}
    ages = [c.oldest_due_age_seconds for c in counts.values()]
    ages.append(_age(now, oldest_event))
    return OutboxStats(
        due=sum(c.due for c in counts.values()),
        scheduled=sum(c.scheduled for c in counts.values()),
        leased=sum(c.leased for c in counts.values()),
        dead=sum(c.dead for c in counts.values()),
        delivered=int(delivered or 0),
        oldest_due_age_seconds=max((a for a in ages if a is not None), default=None),
        unpublished_due=int(unpublished_due or 0),
        unpublished_scheduled=int(unpublished) - int(unpublished_due or 0),
        by_subscriber=counts,
    )


def _case(condition: ColumnElement[bool]) -> Any:
    return case((condition, 1), else_=0)


async def list_dead(
    *,
    db: Database,
    limit: int = 100,
    event_type: str | None = None,
    subscriber: str | None = None,
) -> list[DeadDelivery]:
    """Dead letters, oldest first: which subscriber gave up on which event."""
    query = select(
        OutboxDelivery.event_id,
        OutboxDelivery.subscriber,
        OutboxDelivery.event_type,
        OutboxDelivery.tenant_id,
        OutboxDelivery.attempts,
        OutboxDelivery.last_error,
        OutboxDelivery.created_at,
    ).where(D_DEAD)
    if event_type is not None:
        query = query.where(OutboxDelivery.event_type == event_type)
    if subscriber is not None:
        query = query.where(OutboxDelivery.subscriber == subscriber)
    query = query.order_by(OutboxDelivery.created_at, OutboxDelivery.id).limit(limit)
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    return [DeadDelivery(*row) for row in rows]


async def redrive(
    *,
    db: Database,
    ids: Sequence[uuid.UUID] | None = None,
    all_dead: bool = False,
    subscriber: str | None = None,
) -> int:
    """Give dead letters a fresh set of attempts now; returns how many.

    ``ids`` are event ids (every subscriber's dead letter for them, or only
    ``subscriber``'s); ``all_dead``: every dead letter (of ``subscriber``, if given).
    """
    if not ids and not all_dead:
        return 0
    stmt = (
        update(OutboxDelivery)
        .where(D_DEAD)
        .values(
            state=PENDING,
            attempts=0,
            available_at=utcnow(),
            locked_until=None,
            locked_by=None,
        )
        .execution_options(synchronize_session=False)
    )
    if not all_dead:
        stmt = stmt.where(OutboxDelivery.event_id.in_(list(ids or [])))
    if subscriber is not None:
        stmt = stmt.where(OutboxDelivery.subscriber == subscriber)
    async with db.transaction() as uow:
        result: Any = await uow.session.execute(stmt)
    count = int(result.rowcount)
    log.info("outbox.redriven", count=count, all_dead=all_dead, subscriber=subscriber)
    return count


async def purge_delivered(*, db: Database, before: dt.datetime) -> int:
    """Delete deliveries done before ``before``, then events fanned out before it that no
    delivery refers to any more, in small transactions; returns the events deleted.
    """
    await delete_in_batches(
        db,
        OutboxDelivery,
        D_DELIVERED,
        OutboxDelivery.delivered_at < before,
        batch=PURGE_BATCH,
    )
    # An event stays while a delivery of it is pending or dead: re-drive needs its payload.
    referred = select(OutboxDelivery.id).where(OutboxDelivery.event_id == OutboxEvent.id)
    return await delete_in_batches(
        db,
        OutboxEvent,
        IS_DELIVERED,
        OutboxEvent.delivered_at < before,
        ~referred.exists(),
        batch=PURGE_BATCH,
    )
