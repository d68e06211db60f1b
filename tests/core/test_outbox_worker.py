"""Delivery: retries with backoff, RetryLater, dead letters, re-drive, leases, housekeeping."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import func, insert, select, update

from tests.core.outbox_support import count, effects, get_event
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
    OutboxEvent,
    PermanentFailure,
    RetryLater,
    Worker,
    emit,
)
from vaxport.settings import Settings


async def _emit(db: Database, event_type: str = "test.thing", **payload: object) -> uuid.UUID:
    async with db.transaction(tenant_id=uuid.uuid4()) as uow:
        return await emit(uow, event_type, dict(payload))


async def _drain(worker: Worker, *, rounds: int = 200) -> None:
    """Run batches until nothing is pending (retries are due within milliseconds)."""
    for _ in range(rounds):
        if await worker.run_batch() == 0:
            async with worker.db.read() as session:
                left = await session.scalar(
                    select(func.count()).where(OutboxEvent.state == PENDING)
                )
            if not left:
                return
            await asyncio.sleep(0.005)
    raise AssertionError("outbox did not drain")


async def _make_due(db: Database, event_id: uuid.UUID) -> None:
    """Move an event's schedule into the past (what waiting would do)."""
    async with db.transaction() as uow:
        await uow.session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event_id)
            .values(available_at=utcnow() - dt.timedelta(seconds=1))
        )


async def test_handler_failing_twice_then_succeeding_takes_effect_once(
    odb: Database, worker: Worker, handlers: dict[str, list[outbox.Handler]]
) -> None:
    calls: list[int] = []

    @outbox.handler("test.flaky")
    async def flaky(event: Event, ctx: HandlerContext) -> None:
        calls.append(event.attempts)
        async with ctx.db.transaction() as uow:
            await uow.session.execute(insert(effects).values(event_id=str(event.id)))
            if event.attempts < 3:
                raise ConnectionError("provider unreachable")  # the effect rolls back

    event_id = await _emit(odb, "test.flaky", dose_id=str(uuid.uuid4()))
    await _drain(worker)
    for _ in range(3):  # more rounds deliver nothing more
        assert await worker.run_batch() == 0

    assert calls == [1, 2, 3]
    assert await count(odb, effects) == 1
    row = await get_event(odb, event_id)
    assert row.state == DELIVERED
    assert row.attempts == 3
    assert row.delivered_at is not None
    assert row.locked_by is None
    assert row.last_error == "ConnectionError: provider unreachable"


async def test_transient_failure_backs_off_and_dead_letters_after_max_attempts(
    odb: Database, worker: Worker, handlers: dict[str, list[outbox.Handler]], fast: Settings
) -> None:
    @outbox.handler("test.broken")
    async def broken(event: Event, ctx: HandlerContext) -> None:
        raise ValueError("line one\nline two " + "x" * 1000)

    event_id = await _emit(odb, "test.broken", national_id="SECRET-123")
    before = utcnow()
    assert await worker.run_batch() == 1
    row = await get_event(odb, event_id)
    assert row.state == PENDING
    assert row.attempts == 1
    # Full jitter: somewhere in [0, base] after the failure.
    assert before <= row.available_at <= utcnow() + dt.timedelta(seconds=0.001)
    await _drain(worker)

    row = await get_event(odb, event_id)
    assert row.state == DEAD
    assert row.attempts == fast.outbox_max_attempts
    assert row.last_error is not None
    assert row.last_error.startswith("ValueError: line one line two xxx")
    assert len(row.last_error) <= 220
    assert "SECRET" not in row.last_error
    dead = await outbox.list_dead(db=odb)
    assert [(d.id, d.event_type, d.attempts) for d in dead] == [(event_id, "test.broken", 3)]


async def test_dead_letter_can_be_redriven_and_then_delivered(
    odb: Database, worker: Worker, handlers: dict[str, list[outbox.Handler]]
) -> None:
    fixed = False
    delivered: list[uuid.UUID] = []

    @outbox.handler("test.needs_fix")
    async def needs_fix(event: Event, ctx: HandlerContext) -> None:
        if not fixed:
            raise RuntimeError("bug")
        delivered.append(event.id)

    first = await _emit(odb, "test.needs_fix")
    second = await _emit(odb, "test.needs_fix")
    await _drain(worker)
    assert {d.id for d in await outbox.list_dead(db=odb)} == {first, second}

    fixed = True
    assert await outbox.redrive(db=odb, ids=[first]) == 1
    row = await get_event(odb, first)
    assert (row.state, row.attempts) == (PENDING, 0)
    await _drain(worker)
    assert delivered == [first]
    assert (await get_event(odb, second)).state == DEAD

    assert await outbox.redrive(db=odb, all_dead=True) == 1
    await _drain(worker)
    assert delivered == [first, second]
    assert await outbox.list_dead(db=odb) == []
    # Nothing to re-drive, and a delivered event is never re-driven.
    assert await outbox.redrive(db=odb, ids=[first]) == 0
    assert await outbox.redrive(db=odb) == 0


async def test_permanent_failure_dead_letters_at_once(
    odb: Database, worker: Worker, handlers: dict[str, list[outbox.Handler]]
) -> None:
    @outbox.handler("test.invalid")
    async def invalid(event: Event, ctx: HandlerContext) -> None:
        raise PermanentFailure("certificate template missing")

    event_id = await _emit(odb, "test.invalid")
    assert await worker.run_batch() == 1
    row = await get_event(odb, event_id)
    assert (row.state, row.attempts) == (DEAD, 1)
    assert row.last_error == "PermanentFailure: certificate template missing"


async def test_retry_later_delays_without_using_up_attempts(
    odb: Database, worker: Worker, handlers: dict[str, list[outbox.Handler]]
) -> None:
    seen: list[int] = []

    @outbox.handler("test.rate_limited")
    async def rate_limited(event: Event, ctx: HandlerContext) -> None:
        seen.append(event.attempts)
        if len(seen) == 1:
            raise RetryLater(30)

    event_id = await _emit(odb, "test.rate_limited")
    before = utcnow()
    assert await worker.run_batch() == 1
    after = utcnow()
    row = await get_event(odb, event_id)
    assert row.state == PENDING
    assert row.attempts == 0  # a requested delay is not a failed attempt
    assert before + dt.timedelta(seconds=30) <= row.available_at
    assert row.available_at <= after + dt.timedelta(seconds=30)
    assert await worker.run_batch() == 0  # not before its time

    await _make_due(odb, event_id)
    assert await worker.run_batch() == 1
    assert (await get_event(odb, event_id)).state == DELIVERED
    assert seen == [1, 1]


async def test_retry_later_longer_than_backoff_wins_over_another_handler_failure(
    odb: Database, worker: Worker, handlers: dict[str, list[outbox.Handler]]
) -> None:
    @outbox.handler("test.mixed")
    async def defers(event: Event, ctx: HandlerContext) -> None:
        raise RetryLater(60)

    @outbox.handler("test.mixed")
    async def fails(event: Event, ctx: HandlerContext) -> None:
        raise OSError("smtp down")

    event_id = await _emit(odb, "test.mixed")
    start = utcnow()
    await worker.run_batch()
    row = await get_event(odb, event_id)
    assert row.attempts == 1  # a real failure counts
    assert row.available_at >= start + dt.timedelta(seconds=60)
    assert row.last_error == "OSError: smtp down"


async def test_every_handler_of_a_type_runs_even_when_one_fails(
    odb: Database, worker: Worker, handlers: dict[str, list[outbox.Handler]]
) -> None:
    ran: list[str] = []

    @outbox.handler("test.fanout")
    async def first(event: Event, ctx: HandlerContext) -> None:
        ran.append("first")
        if ran.count("first") == 1:
            raise RuntimeError("first fails once")

    @outbox.handler("test.fanout")
    async def second(event: Event, ctx: HandlerContext) -> None:
        ran.append("second")

    outbox.register("test.fanout", second)  # registering again is a no-op
    event_id = await _emit(odb, "test.fanout")
    await _drain(worker)
    # At least once: the retry runs both again; handlers are idempotent by contract.
    assert ran == ["first", "second", "first", "second"]
    assert (await get_event(odb, event_id)).state == DELIVERED


async def test_event_without_handler_is_retried_then_dead_lettered(
    odb: Database, worker: Worker, handlers: dict[str, list[outbox.Handler]]
) -> None:
    event_id = await _emit(odb, "test.nobody_listens")
    await _drain(worker)
    row = await get_event(odb, event_id)
    assert row.state == DEAD
    assert row.last_error == "LookupError: no handler registered for test.nobody_listens"


async def test_hung_handler_times_out_as_a_transient_failure(
    odb: Database,
    cache: Cache,
    fast: Settings,
    handlers: dict[str, list[outbox.Handler]],
) -> None:
    @outbox.handler("test.hangs")
    async def hangs(event: Event, ctx: HandlerContext) -> None:
        await asyncio.sleep(60)

    worker = Worker(odb, cache, fast.model_copy(update={"outbox_handler_timeout_seconds": 0.05}))
    event_id = await _emit(odb, "test.hangs")
    await worker.run_batch()
    row = await get_event(odb, event_id)
    assert (row.state, row.attempts, row.last_error) == (PENDING, 1, "TimeoutError")


async def test_leased_event_is_not_claimed_by_another_worker_until_the_lease_lapses(
    odb: Database, cache: Cache, fast: Settings, handlers: dict[str, list[outbox.Handler]]
) -> None:
    ran: list[str] = []

    @outbox.handler("test.leased")
    async def leased(event: Event, ctx: HandlerContext) -> None:
        ran.append("b")

    a = Worker(odb, cache, fast, worker_id="a")
    b = Worker(odb, cache, fast, worker_id="b")
    event_id = await _emit(odb, "test.leased")
    [claimed] = await a.claim()  # a claims, then "dies" without handling
    assert claimed.id == event_id
    row = await get_event(odb, event_id)
    assert row.locked_by == "a"
    assert row.locked_until is not None
    if utcnow() < row.locked_until:
        assert await b.claim() == []

    async with odb.transaction() as uow:  # the lease lapses
        await uow.session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event_id)
            .values(locked_until=utcnow() - dt.timedelta(seconds=1))
        )
    assert await b.run_batch() == 1
    row = await get_event(odb, event_id)
    assert (row.state, row.attempts, ran) == (DELIVERED, 2, ["b"])
    # a's late verdict is dropped: b's outcome stands.
    assert await a.deliver(claimed) == DELIVERED
    assert (await get_event(odb, event_id)).delivered_at == row.delivered_at


async def test_lease_is_renewed_while_a_slow_batch_runs(
    odb: Database, cache: Cache, fast: Settings, handlers: dict[str, list[outbox.Handler]]
) -> None:
    settings = fast.model_copy(update={"outbox_lease_seconds": 1.0})
    slow_started = asyncio.Event()

    @outbox.handler("test.slow_batch")
    async def slow(event: Event, ctx: HandlerContext) -> None:
        slow_started.set()
        await asyncio.sleep(1.6)  # longer than the lease

    a = Worker(odb, cache, settings, worker_id="a")
    b = Worker(odb, cache, settings, worker_id="b")
    event_id = await _emit(odb, "test.slow_batch")
    task = asyncio.create_task(a.run_batch())
    await slow_started.wait()
    await asyncio.sleep(1.2)  # past the first lease, before the handler ends
    assert await b.claim() == []
    assert await task == 1
    row = await get_event(odb, event_id)
    assert (row.state, row.attempts) == (DELIVERED, 1)


async def test_run_worker_stops_gracefully_after_finishing_its_batch(
    odb: Database, cache: Cache, fast: Settings, handlers: dict[str, list[outbox.Handler]]
) -> None:
    stop = asyncio.Event()
    done: list[uuid.UUID] = []

    @outbox.handler("test.batch")
    async def batch(event: Event, ctx: HandlerContext) -> None:
        stop.set()  # asked to stop while the batch is in hand
        await asyncio.sleep(0.01)
        done.append(event.id)

    ids = {await _emit(odb, "test.batch") for _ in range(5)}
    handled = await outbox.run_worker(odb, cache, fast, stop, concurrency=2)
    assert handled == 5
    assert set(done) == ids
    for event_id in ids:
        assert (await get_event(odb, event_id)).state == DELIVERED


async def test_run_worker_once_delivers_what_is_due_and_returns(
    odb: Database, cache: Cache, fast: Settings, handlers: dict[str, list[outbox.Handler]]
) -> None:
    @outbox.handler("test.due")
    async def due(event: Event, ctx: HandlerContext) -> None:
        return None

    now_ids = [await _emit(odb, "test.due") for _ in range(12)]  # > one batch
    async with odb.transaction() as uow:
        later = await emit(uow, "test.due", {}, available_at=utcnow() + dt.timedelta(hours=1))
    handled = await outbox.run_worker(odb, cache, fast, asyncio.Event(), once=True)
    assert handled == 12
    assert {(await get_event(odb, i)).state for i in now_ids} == {DELIVERED}
    assert (await get_event(odb, later)).state == PENDING


async def test_housekeeping_purges_old_delivered_events_only(
    odb: Database, worker: Worker, handlers: dict[str, list[outbox.Handler]], fast: Settings
) -> None:
    @outbox.handler("test.kept")
    async def kept(event: Event, ctx: HandlerContext) -> None:
        return None

    old, recent = await _emit(odb, "test.kept"), await _emit(odb, "test.kept")
    await _drain(worker)
    pending = await _emit(odb, "test.kept")
    long_ago = utcnow() - dt.timedelta(days=fast.outbox_retention_days, hours=1)
    async with odb.transaction() as uow:
        await uow.session.execute(
            update(OutboxEvent).where(OutboxEvent.id == old).values(delivered_at=long_ago)
        )
        await uow.session.execute(
            update(OutboxEvent).where(OutboxEvent.id == pending).values(created_at=long_ago)
        )
    await worker.housekeep(force=True)
    async with odb.read() as session:
        left = set((await session.execute(select(OutboxEvent.id))).scalars())
    assert left == {recent, pending}
    assert await outbox.purge_delivered(db=odb, before=utcnow()) == 1


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


def test_backoff_grows_exponentially_with_full_jitter_under_a_cap() -> None:
    for attempts in range(1, 12):
        ceiling = min(60.0, 0.5 * 2 ** (attempts - 1))
        samples = [outbox.backoff_seconds(attempts, base=0.5, cap=60.0) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling / 2  # spread over the whole range, not a fixed delay
    assert outbox.backoff_seconds(10_000, base=1.0, cap=5.0) <= 5.0


def test_handler_registration_refuses_bad_event_types(
    handlers: dict[str, list[outbox.Handler]],
) -> None:
    async def fn(event: Event, ctx: HandlerContext) -> None:
        return None

    with pytest.raises(ValueError, match="bad outbox event type"):
        outbox.register("Has Spaces", fn)
    outbox.handler("test.ok")(fn)
    assert outbox.handlers_for("test.ok") == [fn]
    assert outbox.registered_types() == ["test.ok"]
    assert outbox.handlers_for("test.other") == []


def test_load_handlers_imports_the_listed_modules(
    monkeypatch: pytest.MonkeyPatch, handlers: dict[str, list[outbox.Handler]]
) -> None:
    import sys

    from vaxport import all_handlers

    monkeypatch.setattr(all_handlers, "HANDLER_MODULES", ["tests.core.outbox_handlers_example"])
    monkeypatch.delitem(sys.modules, "tests.core.outbox_handlers_example", raising=False)
    outbox.load_handlers()
    assert outbox.registered_types() == ["example.thing_happened"]
