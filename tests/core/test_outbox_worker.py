"""Delivery outcomes: retries with backoff, RetryLater, dead letters, re-drive, registry."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import insert

from tests.core.outbox_support import count, drain, effects, emit_one, get_event, make_due
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
    Worker,
)
from vaxport.settings import Settings


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

    event_id = await emit_one(odb, "test.flaky", dose_id=str(uuid.uuid4()))
    await drain(worker)
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

    event_id = await emit_one(odb, "test.broken", national_id="SECRET-123")
    before = utcnow()
    assert await worker.run_batch() == 1
    row = await get_event(odb, event_id)
    assert row.state == PENDING
    assert row.attempts == 1
    # Full jitter: somewhere in [0, base] after the failure.
    assert before <= row.available_at <= utcnow() + dt.timedelta(seconds=0.001)
    await drain(worker)

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

    first = await emit_one(odb, "test.needs_fix")
    second = await emit_one(odb, "test.needs_fix")
    await drain(worker)
    assert {d.id for d in await outbox.list_dead(db=odb)} == {first, second}

    fixed = True
    assert await outbox.redrive(db=odb, ids=[first]) == 1
    row = await get_event(odb, first)
    assert (row.state, row.attempts) == (PENDING, 0)
    await drain(worker)
    assert delivered == [first]
    assert (await get_event(odb, second)).state == DEAD

    assert await outbox.redrive(db=odb, all_dead=True) == 1
    await drain(worker)
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

    event_id = await emit_one(odb, "test.invalid")
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

    event_id = await emit_one(odb, "test.rate_limited")
    before = utcnow()
    assert await worker.run_batch() == 1
    after = utcnow()
    row = await get_event(odb, event_id)
    assert row.state == PENDING
    assert row.attempts == 0  # a requested delay is not a failed attempt
    assert before + dt.timedelta(seconds=30) <= row.available_at
    assert row.available_at <= after + dt.timedelta(seconds=30)
    assert await worker.run_batch() == 0  # not before its time

    await make_due(odb, event_id)
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

    event_id = await emit_one(odb, "test.mixed")
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
    event_id = await emit_one(odb, "test.fanout")
    await drain(worker)
    # At least once: the retry runs both again; handlers are idempotent by contract.
    assert ran == ["first", "second", "first", "second"]
    assert (await get_event(odb, event_id)).state == DELIVERED


async def test_event_without_handler_is_retried_then_dead_lettered(
    odb: Database, worker: Worker, handlers: dict[str, list[outbox.Handler]]
) -> None:
    event_id = await emit_one(odb, "test.nobody_listens")
    await drain(worker)
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
    event_id = await emit_one(odb, "test.hangs")
    await worker.run_batch()
    row = await get_event(odb, event_id)
    assert (row.state, row.attempts, row.last_error) == (PENDING, 1, "TimeoutError")


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
