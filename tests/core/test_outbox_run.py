"""Running workers: leases and their renewal, graceful stop, --once, housekeeping."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import select, update

from tests.core.outbox_support import (
    count,
    drain,
    each,
    emit_one,
    expire_leases,
    get_delivery,
    get_event,
    make_worker,
)
from vaxport.core import outbox
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.outbox import (
    DEAD,
    DELIVERED,
    PENDING,
    Event,
    HandlerContext,
    OutboxDelivery,
    OutboxEvent,
    Subscriptions,
    emit,
)
from vaxport.settings import Settings


async def test_leased_delivery_is_not_claimed_by_another_worker_until_the_lease_lapses(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    ran: list[str] = []

    async def leased(event: Event, ctx: HandlerContext) -> None:
        ran.append("b")

    sub = each("test.leased", leased)
    a = make_worker(odb, cache, fast, sub, worker_id="a")
    b = make_worker(odb, cache, fast, sub, worker_id="b")
    event_id = await emit_one(odb, "test.leased")
    [claimed] = await a.claim()  # a claims, then "dies" without handling
    assert (claimed.event.id, claimed.subscriber) == (event_id, "test.leased-sub")
    row = await get_delivery(odb, event_id)
    assert row.locked_by == "a"
    assert row.locked_until is not None
    if utcnow() < row.locked_until:
        assert await b.claim() == []

    await expire_leases(odb, event_id)
    assert await b.run_batch() == 1
    row = await get_delivery(odb, event_id)
    assert (row.state, row.attempts, ran) == (DELIVERED, 2, ["b"])
    # a's late verdict is dropped: b's outcome stands.
    assert await a.deliver(claimed) == DELIVERED
    assert (await get_delivery(odb, event_id)).delivered_at == row.delivered_at


async def test_lease_is_renewed_while_a_slow_batch_runs(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    settings = fast.model_copy(update={"outbox_lease_seconds": 1.0})
    slow_started = asyncio.Event()

    async def slow(event: Event, ctx: HandlerContext) -> None:
        slow_started.set()
        await asyncio.sleep(1.6)  # longer than the lease

    sub = each("test.slow_batch", slow)
    a = make_worker(odb, cache, settings, sub, worker_id="a")
    b = make_worker(odb, cache, settings, sub, worker_id="b")
    event_id = await emit_one(odb, "test.slow_batch")
    task = asyncio.create_task(a.run_batch())
    await slow_started.wait()
    await asyncio.sleep(1.2)  # past the first lease, before the handler ends
    assert await b.claim() == []
    assert await task == 1
    row = await get_delivery(odb, event_id)
    assert (row.state, row.attempts) == (DELIVERED, 1)


async def test_run_worker_stops_gracefully_after_finishing_its_batch(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    stop = asyncio.Event()
    done: list[uuid.UUID] = []

    async def batch(event: Event, ctx: HandlerContext) -> None:
        stop.set()  # asked to stop while the batch is in hand
        await asyncio.sleep(0.01)
        done.append(event.id)

    subs = Subscriptions([each("test.batch", batch)])
    ids = {await emit_one(odb, "test.batch") for _ in range(5)}
    handled = await outbox.run_worker(odb, cache, fast, stop, subscriptions=subs, concurrency=2)
    assert handled == 5
    assert set(done) == ids
    for event_id in ids:
        assert (await get_delivery(odb, event_id)).state == DELIVERED


async def test_run_worker_once_delivers_what_is_due_and_returns(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    async def due(event: Event, ctx: HandlerContext) -> None:
        return None

    subs = Subscriptions([each("test.due", due)])
    now_ids = [await emit_one(odb, "test.due") for _ in range(12)]  # > one batch
    unheard = [await emit_one(odb, "test.unheard") for _ in range(12)]  # no subscriber
    async with odb.transaction() as uow:
        later = await emit(uow, "test.due", {}, available_at=utcnow() + dt.timedelta(hours=1))
    handled = await outbox.run_worker(
        odb, cache, fast, asyncio.Event(), subscriptions=subs, once=True
    )
    assert handled == 12
    assert {(await get_delivery(odb, i)).state for i in now_ids} == {DELIVERED}
    assert {(await get_event(odb, i)).state for i in unheard} == {DELIVERED}
    assert (await get_event(odb, later)).state == PENDING


async def test_housekeeping_purges_old_deliveries_and_the_events_they_leave(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    fail = False

    async def kept(event: Event, ctx: HandlerContext) -> None:
        if fail:
            raise outbox.PermanentFailure("kept for re-drive")

    worker = make_worker(odb, cache, fast, each("test.kept", kept))
    old, recent = await emit_one(odb, "test.kept"), await emit_one(odb, "test.kept")
    await drain(worker)
    fail = True
    old_dead = await emit_one(odb, "test.kept")
    await drain(worker)
    pending = await emit_one(odb, "test.kept")
    long_ago = utcnow() - dt.timedelta(days=fast.outbox_retention_days, hours=1)
    async with odb.transaction() as uow:
        for event_id in (old, old_dead):
            await uow.session.execute(
                update(OutboxEvent).where(OutboxEvent.id == event_id).values(delivered_at=long_ago)
            )
        await uow.session.execute(
            update(OutboxDelivery)
            .where(OutboxDelivery.event_id == old)
            .values(delivered_at=long_ago)
        )
        await uow.session.execute(
            update(OutboxEvent).where(OutboxEvent.id == pending).values(created_at=long_ago)
        )
    await worker.housekeep(force=True)
    async with odb.read() as session:
        left = set((await session.execute(select(OutboxEvent.id))).scalars())
        deliveries = set((await session.execute(select(OutboxDelivery.event_id))).scalars())
    # A dead letter keeps its event (re-drive needs the payload).
    assert left == {recent, old_dead, pending}
    assert deliveries == {recent, old_dead}
    assert await outbox.purge_delivered(db=odb, before=utcnow()) == 1  # recent's event


async def test_purge_deletes_in_batches(odb: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaxport.core.outbox import admin

    monkeypatch.setattr(admin, "PURGE_BATCH", 3)
    long_ago = utcnow() - dt.timedelta(days=30)
    async with odb.transaction() as uow:
        for _ in range(7):
            await emit(uow, "test.old", {})
    async with odb.transaction() as uow:
        await uow.session.execute(
            update(OutboxEvent).values(state=DELIVERED, delivered_at=long_ago)
        )
    assert await outbox.purge_delivered(db=odb, before=utcnow()) == 7
    assert await count(odb, OutboxEvent) == 0


async def test_outcome_of_a_worker_whose_lease_was_taken_over_is_dropped(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    async def taken_over(event: Event, ctx: HandlerContext) -> None:
        raise RuntimeError("a fails late")

    sub = each("test.taken_over", taken_over)
    a = make_worker(odb, cache, fast, sub, worker_id="a")
    b = make_worker(odb, cache, fast, sub, worker_id="b")
    event_id = await emit_one(odb, "test.taken_over")
    [claimed] = await a.claim()
    await expire_leases(odb, event_id)  # a stalls past its lease; b takes the delivery
    assert [d.event.id for d in await b.claim()] == [event_id]
    [outcome] = await a.handle([claimed])
    assert outcome.state == PENDING
    assert await a.record([outcome]) == 0
    row = await get_delivery(odb, event_id)
    assert (row.locked_by, row.attempts, row.last_error) == ("b", 2, None)


async def test_one_batch_with_mixed_outcomes_records_each(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    async def ok(event: Event, ctx: HandlerContext) -> None:
        return None

    async def retry(event: Event, ctx: HandlerContext) -> None:
        raise ConnectionError("later")

    async def dead(event: Event, ctx: HandlerContext) -> None:
        raise outbox.PermanentFailure("never")

    worker = make_worker(
        odb,
        cache,
        fast,
        each("test.mixed_ok", ok),
        each("test.mixed_retry", retry),
        each("test.mixed_dead", dead),
    )
    oks = [await emit_one(odb, "test.mixed_ok") for _ in range(5)]
    retried = await emit_one(odb, "test.mixed_retry")
    dead_id = await emit_one(odb, "test.mixed_dead")
    assert await worker.run_batch() == 7
    assert {(await get_delivery(odb, i)).state for i in oks} == {DELIVERED}
    row = await get_delivery(odb, retried)
    assert (row.state, row.attempts, row.locked_by) == (PENDING, 1, None)
    assert (await get_delivery(odb, dead_id)).state == DEAD
