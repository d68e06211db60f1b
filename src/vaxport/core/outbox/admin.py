"""Operating the outbox: statistics, metrics, the dead letters, re-drive, retention."""

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
from vaxport.core.outbox.models import IS_DEAD, IS_DELIVERED, IS_PENDING, PENDING, OutboxEvent

log = get_logger(__name__)

PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class TypeCounts:
    """Events of one type by where they stand."""

    due: int = 0
    scheduled: int = 0
    leased: int = 0
    dead: int = 0


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """The outbox at a glance (``due`` includes events leased to a worker right now)."""

    due: int
    scheduled: int
    leased: int
    dead: int
    delivered: int
    oldest_due_age_seconds: float | None
    by_type: dict[str, TypeCounts] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadEvent:
    """A dead-lettered event as shown to an operator (no payload: it may be sensitive)."""

    id: uuid.UUID
    event_type: str
    tenant_id: uuid.UUID | None
    attempts: int
    last_error: str | None
    created_at: dt.datetime


async def backlog(*, db: Database) -> tuple[int, float | None, int]:
    """(due events, age in seconds of the most overdue one, dead events)."""
    now = utcnow()
    async with db.read() as session:
        due, oldest = (
            await session.execute(
                select(func.count(), func.min(OutboxEvent.available_at)).where(
                    IS_PENDING, OutboxEvent.available_at <= now
                )
            )
        ).one()
        dead = await session.scalar(select(func.count()).where(IS_DEAD))
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else None
    return int(due), age, int(dead or 0)


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
    """Counts by state and by type (delivered: those still within the retention)."""
    now = utcnow()
    due_expr = func.sum(_case(OutboxEvent.available_at <= now))
    leased_expr = func.sum(_case(OutboxEvent.locked_until > now))
    async with db.read() as session:
        pending_rows = (
            await session.execute(
                select(OutboxEvent.event_type, func.count(), due_expr, leased_expr)
                .where(IS_PENDING)
                .group_by(OutboxEvent.event_type)
            )
        ).all()
        dead_rows = (
            await session.execute(
                select(OutboxEvent.event_type, func.count())
                .where(IS_DEAD)
                .group_by(OutboxEvent.event_type)
            )
        ).all()
        delivered = await session.scalar(select(func.count()).where(IS_DELIVERED))
    by_type: dict[str, dict[str, int]] = {}
    for event_type, total, due, leased in pending_rows:
        by_type[event_type] = {
            "due": int(due or 0),
            "scheduled": int(total) - int(due or 0),
            "leased": int(leased or 0),
        }
    for event_type, total in dead_rows:
        by_type.setdefault(event_type, {})["dead"] = int(total)
    counts = {t: TypeCounts(**c) for t, c in sorted(by_type.items())}
    _, age, _ = await backlog(db=db)
    return OutboxStats(
        due=sum(c.due for c in counts.values()),
        scheduled=sum(c.scheduled for c in counts.values()),
        leased=sum(c.leased for c in counts.values()),
        dead=sum(c.dead for c in counts.values()),
        delivered=int(delivered or 0),
        oldest_due_age_seconds=age,
        by_type=counts,
    )


def _case(condition: ColumnElement[bool]) -> Any:
    return case((condition, 1), else_=0)


async def list_dead(
    *, db: Database, limit: int = 100, event_type: str | None = None
) -> list[DeadEvent]:
    """Dead-lettered events, oldest first."""
    query = select(
        OutboxEvent.id,
        OutboxEvent.event_type,
        OutboxEvent.tenant_id,
        OutboxEvent.attempts,
        OutboxEvent.last_error,
        OutboxEvent.created_at,
    ).where(IS_DEAD)
    if event_type is not None:
        query = query.where(OutboxEvent.event_type == event_type)
    query = query.order_by(OutboxEvent.created_at, OutboxEvent.id).limit(limit)
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    return [DeadEvent(*row) for row in rows]


async def redrive(
    *, db: Database, ids: Sequence[uuid.UUID] | None = None, all_dead: bool = False
) -> int:
    """Give dead-lettered events (``ids``, or all of them) a fresh set of attempts now."""
    if not ids and not all_dead:
        return 0
    stmt = (
        update(OutboxEvent)
        .where(IS_DEAD)
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
        stmt = stmt.where(OutboxEvent.id.in_(list(ids or [])))
    async with db.transaction() as uow:
        result: Any = await uow.session.execute(stmt)
    count = int(result.rowcount)
    log.info("outbox.redriven", count=count, all_dead=all_dead)
    return count


async def purge_delivered(*, db: Database, before: dt.datetime) -> int:
    """Delete events delivered before ``before``, in small transactions; returns the count."""
    return await delete_in_batches(
        db, OutboxEvent, IS_DELIVERED, OutboxEvent.delivered_at < before, batch=PURGE_BATCH
    )
