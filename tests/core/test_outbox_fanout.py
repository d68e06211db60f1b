"""Fan-out: each subscriber gets its own delivery, retried, batched and dead-lettered alone."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select

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
from vaxport.core.db import Database
from vaxport.core.outbox import (
    DEAD,
    DELIVERED,
    PENDING,
    Event,
    HandlerContext,
    OutboxDelivery,
    Subscriber,
    emit,
)
from vaxport.settings import Settings


async def test_two_subscribers_one_failing_the_other_runs_once_the_failing_one_dies_alone(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    ran: dict[str, list[int]] = {"audit": [], "sms": []}

    async def audit(event: Event, ctx: HandlerContext) -> None:
        ran["audit"].append(event.attempts)

    async def sms(event: Event, ctx: HandlerContext) -> None:
        ran["sms"].append(event.attempts)
        raise ConnectionError("gateway down")

    worker = make_worker(
        odb,
        cache,
        fast,
        each("dose.recorded", audit, "test.audit"),
        each("dose.recorded", sms, "test.sms"),
    )
    event_id = await emit_one(odb, "dose.recorded", dose_id=str(uuid.uuid4()))
    await drain(worker)

    assert ran == {"audit": [1], "sms": [1, 2, 3]}
    ok = await get_delivery(odb, event_id, "test.audit")
    assert (ok.state, ok.attempts, ok.last_error) == (DELIVERED, 1, None)
    dead = await get_delivery(odb, event_id, "test.sms")
    assert (dead.state, dead.attempts) == (DEAD, fast.outbox_max_attempts)
    [letter] = await outbox.list_dead(db=odb)
    assert (letter.event_id, letter.subscriber, letter.event_type) == (
        event_id,
        "test.sms",
        "dose.recorded",
    )
    assert letter.last_error == "ConnectionError: gateway down"

    # Re-driving the dead letter runs the failing subscriber only.
    ran["sms"].clear()
    assert await outbox.redrive(db=odb, ids=[event_id]) == 1
    await drain(worker)
    assert ran == {"audit": [1], "sms": [1, 2, 3]}


async def test_batch_subscriber_receives_lists_up_to_its_size(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    calls: list[list[uuid.UUID]] = []
    singles: list[uuid.UUID] = []

    async def rollup(events: Sequence[Event], ctx: HandlerContext) -> None:
        assert {e.event_type for e in events} <= {"dose.recorded", "dose.voided"}
        calls.append([e.id for e in events])

    async def single(event: Event, ctx: HandlerContext) -> None:
        singles.append(event.id)

    worker = make_worker(
        odb,
        cache,
        fast,
        Subscriber("test.rollup", ("dose.recorded", "dose.voided"), rollup, batch_size=3),
        each("dose.recorded", single, "test.single"),
    )
    async with odb.transaction(tenant_id=uuid.uuid4()) as uow:
        ids = [await emit(uow, "dose.recorded", {"n": i}) for i in range(6)]
        ids.append(await emit(uow, "dose.voided", {"n": 6}))
    assert await worker.run_batch() == 10  # the claim's limit: 10 of the 13 deliveries
    await drain(worker)

    assert all(1 <= len(c) <= 3 for c in calls)
    assert sorted(i for c in calls for i in c) == sorted(ids)  # each event once
    assert max(len(c) for c in calls) == 3
    assert sorted(singles) == sorted(ids[:6])


async def test_a_failing_batch_is_retried_whole_and_dead_lettered_for_its_subscriber_only(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    sizes: list[int] = []

    async def broken(events: Sequence[Event], ctx: HandlerContext) -> None:
        sizes.append(len(events))
        raise outbox.PermanentFailure("schema mismatch")

    async def fine(event: Event, ctx: HandlerContext) -> None:
        return None

    worker = make_worker(
        odb,
        cache,
        fast,
        Subscriber("test.broken-batch", ("x.happened",), broken, batch_size=5),
        each("x.happened", fine, "test.fine"),
    )
    ids = [await emit_one(odb, "x.happened") for _ in range(4)]
    await drain(worker)
    assert sizes == [4]
    dead = await outbox.list_dead(db=odb)
    assert sorted(d.event_id for d in dead) == sorted(ids)
    assert {d.subscriber for d in dead} == {"test.broken-batch"}
    assert {(await get_delivery(odb, i, "test.fine")).state for i in ids} == {DELIVERED}


async def test_a_lapsed_lease_redelivers_only_the_subscriber_that_had_not_finished(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    ran: list[str] = []

    async def quick(event: Event, ctx: HandlerContext) -> None:
        ran.append("quick")

    async def slow(event: Event, ctx: HandlerContext) -> None:
        ran.append("slow")

    subs = (each("x.happened", quick, "test.quick"), each("x.happened", slow, "test.slow"))
    a = make_worker(odb, cache, fast, *subs, worker_id="a")
    b = make_worker(odb, cache, fast, *subs, worker_id="b")
    event_id = await emit_one(odb, "x.happened")
    claimed = await a.claim()
    assert sorted(d.subscriber for d in claimed) == ["test.quick", "test.slow"]
    [quick_delivery] = [d for d in claimed if d.subscriber == "test.quick"]
    assert await a.deliver(quick_delivery) == DELIVERED
    # a dies before running test.slow; its lease lapses and b takes over that one only.
    await expire_leases(odb, event_id)
    [taken] = await b.claim()
    assert taken.subscriber == "test.slow"
    assert await b.deliver(taken) == DELIVERED
    assert ran == ["quick", "slow"]
    assert (await get_delivery(odb, event_id, "test.slow")).attempts == 2
    assert (await get_delivery(odb, event_id, "test.quick")).attempts == 1


async def test_a_worker_leaves_deliveries_of_subscribers_it_does_not_know_to_others(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    # A rolling deploy: the new release adds test.new; an old worker still runs.
    async def old(event: Event, ctx: HandlerContext) -> None:
        return None

    async def new(event: Event, ctx: HandlerContext) -> None:
        return None

    new_worker = make_worker(
        odb, cache, fast, each("x.happened", old, "test.old"), each("x.happened", new, "test.new")
    )
    old_worker = make_worker(odb, cache, fast, each("x.happened", old, "test.old"))
    event_id = await emit_one(odb, "x.happened")
    await new_worker.claim()  # fans out to both, leases both
    await expire_leases(odb)
    assert await old_worker.run_batch() == 1
    assert (await get_delivery(odb, event_id, "test.old")).state == DELIVERED
    assert (await get_delivery(odb, event_id, "test.new")).state == PENDING
    await drain(new_worker)
    assert (await get_delivery(odb, event_id, "test.new")).state == DELIVERED


async def test_emit_writes_the_event_only_and_the_worker_fans_it_out_once(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    async def fine(event: Event, ctx: HandlerContext) -> None:
        return None

    event_id = await emit_one(odb, "x.happened")
    assert await count(odb, OutboxDelivery) == 0  # nothing more on the write path
    assert (await get_event(odb, event_id)).state == PENDING
    worker = make_worker(
        odb, cache, fast, each("x.happened", fine, "test.a"), each("x.happened", fine, "test.b")
    )
    await drain(worker)
    await drain(worker)
    async with odb.read() as session:
        rows = (
            await session.execute(
                select(OutboxDelivery.subscriber, func.count()).group_by(OutboxDelivery.subscriber)
            )
        ).all()
    assert sorted(tuple(r) for r in rows) == [("test.a", 1), ("test.b", 1)]
    assert (await get_event(odb, event_id)).state == DELIVERED
