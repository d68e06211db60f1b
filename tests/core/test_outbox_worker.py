"""Delivery outcomes per subscriber: retries with backoff, RetryLater, dead letters, re-drive."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import insert

from tests.core.outbox_support import (
    count,
    drain,
    each,
    effects,
    emit_one,
    get_delivery,
    get_event,
    make_due,
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
    PermanentFailure,
    RetryLater,
)
from vaxport.settings import Settings


async def test_handler_failing_twice_then_succeeding_takes_effect_once(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    calls: list[int] = []

    async def flaky(event: Event, ctx: HandlerContext) -> None:
        calls.append(event.attempts)
        async with ctx.db.transaction() as uow:
            await uow.session.execute(insert(effects).values(event_id=str(event.id)))
            if event.attempts < 3:
                raise ConnectionError("provider unreachable")  # the effect rolls back

    worker = make_worker(odb, cache, fast, each("test.flaky", flaky))
    event_id = await emit_one(odb, "test.flaky", dose_id=str(uuid.uuid4()))
    await drain(worker)
    for _ in range(3):  # more rounds deliver nothing more
        assert await worker.run_batch() == 0

    assert calls == [1, 2, 3]
    assert await count(odb, effects) == 1
    row = await get_delivery(odb, event_id, "test.flaky-sub")
    assert row.state == DELIVERED
    assert row.attempts == 3
    assert row.delivered_at is not None
    assert row.locked_by is None
    assert row.last_error == "ConnectionError: provider unreachable"
    assert (await get_event(odb, event_id)).state == DELIVERED  # fanned out once


async def test_transient_failure_backs_off_and_dead_letters_after_max_attempts(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    async def broken(event: Event, ctx: HandlerContext) -> None:
        raise ValueError("line one\nline two " + "x" * 1000)

    worker = make_worker(odb, cache, fast, each("test.broken", broken))
    event_id = await emit_one(odb, "test.broken", national_id="SECRET-123")
    before = utcnow()
    assert await worker.run_batch() == 1
    row = await get_delivery(odb, event_id)
    assert row.state == PENDING
    assert row.attempts == 1
    # Full jitter: somewhere in [0, base] after the failure.
    assert before <= row.available_at <= utcnow() + dt.timedelta(seconds=0.001)
    await drain(worker)

    row = await get_delivery(odb, event_id)
    assert row.state == DEAD
    assert row.attempts == fast.outbox_max_attempts
    assert row.last_error is not None
    assert row.last_error.startswith("ValueError: line one line two xxx")
    assert len(row.last_error) <= 220
    assert "SECRET" not in row.last_error
    dead = await outbox.list_dead(db=odb)
    assert [(d.event_id, d.subscriber, d.event_type, d.attempts) for d in dead] == [
        (event_id, "test.broken-sub", "test.broken", 3)
    ]


async def test_dead_letter_can_be_redriven_and_then_delivered(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    fixed = False
    delivered: list[uuid.UUID] = []

    async def needs_fix(event: Event, ctx: HandlerContext) -> None:
        if not fixed:
            raise RuntimeError("bug")
        delivered.append(event.id)

    worker = make_worker(odb, cache, fast, each("test.needs_fix", needs_fix))
    first = await emit_one(odb, "test.needs_fix")
    second = await emit_one(odb, "test.needs_fix")
    await drain(worker)
    assert {d.event_id for d in await outbox.list_dead(db=odb)} == {first, second}

    fixed = True
    assert await outbox.redrive(db=odb, ids=[first]) == 1
    row = await get_delivery(odb, first)
    assert (row.state, row.attempts) == (PENDING, 0)
    await drain(worker)
    assert delivered == [first]
    assert (await get_delivery(odb, second)).state == DEAD

    assert await outbox.redrive(db=odb, all_dead=True) == 1
    await drain(worker)
    assert delivered == [first, second]
    assert await outbox.list_dead(db=odb) == []
    # Nothing to re-drive, and a delivered event is never re-driven.
    assert await outbox.redrive(db=odb, ids=[first]) == 0
    assert await outbox.redrive(db=odb) == 0


async def test_permanent_failure_dead_letters_at_once(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    async def invalid(event: Event, ctx: HandlerContext) -> None:
        raise PermanentFailure("certificate template missing")

    worker = make_worker(odb, cache, fast, each("test.invalid", invalid))
    event_id = await emit_one(odb, "test.invalid")
    assert await worker.run_batch() == 1
    row = await get_delivery(odb, event_id)
    assert (row.state, row.attempts) == (DEAD, 1)
    assert row.last_error == "PermanentFailure: certificate template missing"


async def test_retry_later_delays_without_using_up_attempts(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    seen: list[int] = []

    async def rate_limited(event: Event, ctx: HandlerContext) -> None:
        seen.append(event.attempts)
        if len(seen) == 1:
            raise RetryLater(30)

    worker = make_worker(odb, cache, fast, each("test.rate_limited", rate_limited))
    event_id = await emit_one(odb, "test.rate_limited")
    before = utcnow()
    assert await worker.run_batch() == 1
    after = utcnow()
    row = await get_delivery(odb, event_id)
    assert row.state == PENDING
    assert row.attempts == 0  # a requested delay is not a failed attempt
    assert before + dt.timedelta(seconds=30) <= row.available_at
    assert row.available_at <= after + dt.timedelta(seconds=30)
    assert await worker.run_batch() == 0  # not before its time

    await make_due(odb, event_id)
    assert await worker.run_batch() == 1
    assert (await get_delivery(odb, event_id)).state == DELIVERED
    assert seen == [1, 1]


async def test_retry_later_and_a_failure_of_two_subscribers_are_kept_apart(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    async def defers(event: Event, ctx: HandlerContext) -> None:
        raise RetryLater(60)

    async def fails(event: Event, ctx: HandlerContext) -> None:
        raise OSError("smtp down")

    worker = make_worker(
        odb,
        cache,
        fast,
        each("test.mixed", defers, "test.defers"),
        each("test.mixed", fails, "test.fails"),
    )
    event_id = await emit_one(odb, "test.mixed")
    start = utcnow()
    assert await worker.run_batch() == 2
    deferred = await get_delivery(odb, event_id, "test.defers")
    assert deferred.attempts == 0  # asked for the delay: not counted
    assert deferred.available_at >= start + dt.timedelta(seconds=60)
    assert deferred.last_error == "RetryLater"
    failed = await get_delivery(odb, event_id, "test.fails")
    assert failed.attempts == 1  # a real failure counts
    assert failed.available_at < start + dt.timedelta(seconds=60)
    assert failed.last_error == "OSError: smtp down"


async def test_a_subscriber_that_succeeded_is_not_run_again_when_another_fails(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    ran: list[str] = []

    async def first(event: Event, ctx: HandlerContext) -> None:
        ran.append("first")
        if ran.count("first") == 1:
            raise RuntimeError("first fails once")

    async def second(event: Event, ctx: HandlerContext) -> None:
        ran.append("second")

    worker = make_worker(
        odb,
        cache,
        fast,
        each("test.fanout", first, "test.first"),
        each("test.fanout", second, "test.second"),
    )
    event_id = await emit_one(odb, "test.fanout")
    await drain(worker)
    assert sorted(ran) == ["first", "first", "second"]
    assert (await get_delivery(odb, event_id, "test.first")).attempts == 2
    assert (await get_delivery(odb, event_id, "test.second")).attempts == 1


async def test_event_without_subscriber_is_done_not_dead(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    async def other(event: Event, ctx: HandlerContext) -> None:
        raise AssertionError("not this type")

    worker = make_worker(odb, cache, fast, each("test.other", other))
    event_id = await emit_one(odb, "test.nobody_listens")
    await drain(worker)
    row = await get_event(odb, event_id)
    assert (row.state, row.last_error) == (DELIVERED, None)
    assert await count(odb, outbox.OutboxDelivery) == 0
    assert await outbox.list_dead(db=odb) == []


async def test_hung_handler_times_out_as_a_transient_failure(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    async def hangs(event: Event, ctx: HandlerContext) -> None:
        await asyncio.sleep(60)

    worker = make_worker(
        odb,
        cache,
        fast.model_copy(update={"outbox_handler_timeout_seconds": 0.05}),
        each("test.hangs", hangs),
    )
    event_id = await emit_one(odb, "test.hangs")
    await worker.run_batch()
    row = await get_delivery(odb, event_id)
    assert (row.state, row.attempts, row.last_error) == (PENDING, 1, "TimeoutError")


def test_backoff_grows_exponentially_with_full_jitter_under_a_cap() -> None:
    for attempts in range(1, 12):
        ceiling = min(60.0, 0.5 * 2 ** (attempts - 1))
        samples = [outbox.backoff_seconds(attempts, base=0.5, cap=60.0) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling / 2  # spread over the whole range, not a fixed delay
    assert outbox.backoff_seconds(10_000, base=1.0, cap=5.0) <= 5.0
