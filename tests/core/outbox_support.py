"""Test-only tables and helpers for the outbox tests (not part of the app's schema)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.outbox import (
    PENDING,
    Event,
    Handler,
    OutboxDelivery,
    OutboxEvent,
    Subscriber,
    Subscriptions,
    Worker,
    emit,
)
from vaxport.settings import Settings

test_metadata = MetaData()

# One row per handler run: which worker ran which event, and when (wall clock, so runs
# recorded by different processes on this machine compare).
runs = Table(
    "outbox_test_runs",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("worker", String(100), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
)

# The durable effect of a handler (what "happens once" means).
effects = Table(
    "outbox_test_effects",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
)


async def create_test_tables(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(test_metadata.create_all)


async def clear_test_tables(db: Database) -> None:
    async with db.engine.begin() as conn:
        for table in (runs, effects):
            await conn.execute(table.delete())


async def record_run(db: Database, event: Event, worker: str) -> int:
    async with db.transaction() as uow:
        result = await uow.session.execute(
            insert(runs)
            .values(event_id=str(event.id), worker=worker, started_at=time.time())
            .returning(runs.c.id)
        )
        return int(result.scalar_one())


async def finish_run(db: Database, run_id: int) -> None:
    async with db.transaction() as uow:
        await uow.session.execute(
            runs.update().where(runs.c.id == run_id).values(finished_at=time.time())
        )


async def all_runs(db: Database) -> list[Any]:
    async with db.read() as session:
        return list((await session.execute(select(runs).order_by(runs.c.id))).all())


async def count(db: Database, table: Table | type[OutboxEvent] | type[OutboxDelivery]) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def get_event(db: Database, event_id: uuid.UUID) -> OutboxEvent:
    async with db.read() as session:
        row = await session.get(OutboxEvent, event_id)
        assert row is not None
        session.expunge(row)  # a detached snapshot: the read's rollback must not expire it
        return row


async def wait_for(predicate: Any, *, limit: float = 20.0, every: float = 0.05) -> None:
    """Poll an async predicate; a guard against hangs, not a timing assertion."""
    deadline = time.monotonic() + limit
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(every)


async def emit_one(db: Database, event_type: str = "test.thing", **payload: object) -> uuid.UUID:
    async with db.transaction(tenant_id=uuid.uuid4()) as uow:
        return await emit(uow, event_type, dict(payload))


def each(event_type: str, fn: Handler, name: str | None = None) -> Subscriber:
    """A one-event subscriber to ``event_type`` (named after it unless told)."""
    return Subscriber.each(name or f"{event_type}-sub", (event_type,), fn)


def make_worker(
    db: Database,
    cache: Cache,
    settings: Settings,
    *subscribers: Subscriber,
    worker_id: str = "test-worker",
    concurrency: int | None = None,
) -> Worker:
    """A worker delivering to just these subscribers."""
    return Worker(
        db,
        cache,
        settings,
        subscriptions=Subscriptions(subscribers),
        worker_id=worker_id,
        concurrency=concurrency,
    )


async def get_delivery(
    db: Database, event_id: uuid.UUID, subscriber: str | None = None
) -> OutboxDelivery:
    """The delivery of ``event_id`` to ``subscriber`` (or its only one), detached."""
    query = select(OutboxDelivery).where(OutboxDelivery.event_id == event_id)
    if subscriber is not None:
        query = query.where(OutboxDelivery.subscriber == subscriber)
    async with db.read() as session:
        [row] = (await session.scalars(query)).all()
        session.expunge(row)
        return row


async def pending_left(db: Database) -> int:
    """Events not yet fanned out plus deliveries not yet done."""
    async with db.read() as session:
        events = await session.scalar(select(func.count()).where(OutboxEvent.state == PENDING))
        deliveries = await session.scalar(
            select(func.count()).where(OutboxDelivery.state == PENDING)
        )
    return int(events or 0) + int(deliveries or 0)


async def drain(worker: Worker, *, rounds: int = 200) -> None:
    """Run batches until nothing is pending (retries are due within milliseconds)."""
    for _ in range(rounds):
        if await worker.run_batch() == 0:
            if not await pending_left(worker.db):
                return
            await asyncio.sleep(0.005)
    raise AssertionError("outbox did not drain")


async def make_due(db: Database, event_id: uuid.UUID) -> None:
    """Move an event's and its deliveries' schedule into the past (what waiting would do)."""
    past = utcnow() - dt.timedelta(seconds=1)
    async with db.transaction() as uow:
        await uow.session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event_id).values(available_at=past)
        )
        await uow.session.execute(
            update(OutboxDelivery)
            .where(OutboxDelivery.event_id == event_id)
            .values(available_at=past)
        )


async def expire_leases(db: Database, event_id: uuid.UUID | None = None) -> None:
    """Let the leases on ``event_id``'s deliveries (or on all) lapse, as time would."""
    stmt = update(OutboxDelivery).values(locked_until=utcnow() - dt.timedelta(seconds=1))
    if event_id is not None:
        stmt = stmt.where(OutboxDelivery.event_id == event_id)
    async with db.transaction() as uow:
        await uow.session.execute(stmt.where(OutboxDelivery.locked_until.is_not(None)))
