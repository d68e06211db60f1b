"""Real workers: SIGKILL mid-batch, SIGTERM, ``--once``, and concurrent workers.

The concurrent-workers test runs on both legs: on PostgreSQL it proves the row locks
(FOR UPDATE SKIP LOCKED) keep claimers apart, on SQLite the BEGIN IMMEDIATE writer lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import ROOT
from tests.core.outbox_support import (
    all_runs,
    each,
    finish_run,
    get_delivery,
    make_worker,
    record_run,
    wait_for,
)
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.outbox import (
    DELIVERED,
    Event,
    HandlerContext,
    OutboxDelivery,
    OutboxEvent,
    Subscriber,
    emit,
)
from vaxport.settings import Settings


def _start_worker(
    database_url: str,
    tmp_path: Path,
    *,
    sleep: float,
    lease: float,
    args: tuple[str, ...] = (),
    second: bool = False,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "VAXPORT_ENV": "test",
        "VAXPORT_DATABASE_URL": database_url,
        "VAXPORT_DATA_DIR": str(tmp_path),
        "VAXPORT_REDIS_URL": "",
        "VAXPORT_LOG_LEVEL": "WARNING",
        "VAXPORT_OUTBOX_LEASE_SECONDS": str(lease),
        "VAXPORT_OUTBOX_BATCH_SIZE": "10",
        "VAXPORT_OUTBOX_POLL_SECONDS": "0.05",
        "OUTBOX_TEST_SLEEP": str(sleep),
        "OUTBOX_TEST_SECOND": "1" if second else "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.core.outbox_worker_proc", "worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def _emit_many(db: Database, n: int, event_type: str = "test.slow") -> list[uuid.UUID]:
    async with db.transaction(tenant_id=uuid.uuid4()) as uow:
        return [await emit(uow, event_type, {"n": i}) for i in range(n)]


async def _wait_exit(proc: subprocess.Popen[bytes], limit: float = 20.0) -> int:
    deadline = time.monotonic() + limit
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("worker process did not exit")
        await asyncio.sleep(0.05)
    return proc.returncode


async def test_worker_killed_mid_batch_leaves_its_events_to_another_worker_after_the_lease(
    odb: Database,
    cache: Cache,
    fast: Settings,
    database_url: str,
    tmp_path: Path,
) -> None:
    # Two subscribers: the quick one finishes before the kill, the slow one never does.
    ids = await _emit_many(odb, 3)
    proc = _start_worker(
        database_url, tmp_path, sleep=60, lease=2, args=("--concurrency", "1"), second=True
    )
    try:
        await wait_for(lambda: _slow_started(odb), limit=30)
    finally:
        proc.send_signal(signal.SIGKILL)
        await _wait_exit(proc)
    assert proc.returncode == -signal.SIGKILL

    killed = [r.worker for r in await all_runs(odb) if r.worker.startswith("pid:")]
    assert killed == [f"pid:{proc.pid}"]  # one slow delivery started, none finished
    # Finished means delivered: a handler whose run was recorded but whose delivery the kill
    # stopped short of marking is run again (at least once), as the outbox promises.
    quick_done = {
        event_id
        for event_id in ids
        if (await get_delivery(odb, event_id, "test.quick-sub")).state == DELIVERED
    }
    leases = {}
    for event_id in ids:
        row = await get_delivery(odb, event_id, "test.slow-sub")
        assert (row.state, row.attempts) == ("pending", 1)
        assert row.locked_by is not None
        assert row.locked_until is not None
        leases[event_id] = row.locked_until

    async def here(event: Event, ctx: HandlerContext) -> None:
        run_id = await record_run(ctx.db, event, "survivor")
        await finish_run(ctx.db, run_id)

    async def quick_again(event: Event, ctx: HandlerContext) -> None:
        await finish_run(ctx.db, await record_run(ctx.db, event, "survivor-quick"))

    survivor = make_worker(
        odb,
        cache,
        fast,
        each("test.slow", here, "test.slow-sub"),
        each("test.slow", quick_again, "test.quick-sub"),
        worker_id="survivor",
    )
    if utcnow() < min(leases.values()):
        # The dead worker's leases still hold; only quick deliveries it had not leased.
        assert all(d.subscriber == "test.quick-sub" for d in await survivor.claim())
    wait = (max(leases.values()) - utcnow()).total_seconds()
    await asyncio.sleep(max(0.0, wait) + 0.05)
    while await survivor.run_batch():
        pass
    for event_id in ids:
        row = await get_delivery(odb, event_id, "test.slow-sub")
        assert (row.state, row.attempts) == (DELIVERED, 2)
        assert (await get_delivery(odb, event_id, "test.quick-sub")).state == DELIVERED
    runs = await all_runs(odb)
    assert sorted(r.event_id for r in runs if r.worker == "survivor") == sorted(map(str, ids))
    # A subscriber that finished before the crash is not run again for that event.
    again = {uuid.UUID(r.event_id) for r in runs if r.worker == "survivor-quick"}
    assert quick_done
    assert not again & quick_done


async def test_sigterm_finishes_the_batch_in_hand_then_exits(
    odb: Database, database_url: str, tmp_path: Path
) -> None:
    ids = await _emit_many(odb, 2)
    proc = _start_worker(database_url, tmp_path, sleep=0.5, lease=10, args=("--concurrency", "1"))
    try:
        await wait_for(lambda: _has_runs(odb), limit=30)
        proc.send_signal(signal.SIGTERM)
        assert await _wait_exit(proc) == 0, proc.stderr.read() if proc.stderr else b""
    finally:
        if proc.poll() is None:
            proc.kill()
    for event_id in ids:
        row = await get_delivery(odb, event_id)
        assert (row.state, row.attempts, row.locked_by) == (DELIVERED, 1, None)
    assert all(r.finished_at is not None for r in await all_runs(odb))


async def test_worker_cli_once_delivers_and_exits(
    odb: Database, database_url: str, tmp_path: Path
) -> None:
    ids = await _emit_many(odb, 3)
    proc = _start_worker(database_url, tmp_path, sleep=0, lease=10, args=("--once",))
    assert await _wait_exit(proc, limit=30) == 0
    assert proc.stdout is not None
    assert b"handled 3 deliveries" in proc.stdout.read()
    assert {(await get_delivery(odb, i)).state for i in ids} == {DELIVERED}


async def test_concurrent_workers_never_handle_the_same_delivery_at_once(
    odb: Database,
    cache: Cache,
    fast: Settings,
    database_url: str,
) -> None:
    # Separate engines: each worker has its own connections and transactions, as
    # separate processes would; the database alone keeps them apart. Two subscribers
    # (one taking batches of 3): each event is fanned out once and each delivery is
    # handled once, under one lease.
    settings = fast.model_copy(update={"outbox_batch_size": 4, "outbox_lease_seconds": 30})
    active: set[tuple[str, uuid.UUID]] = set()
    overlaps: list[tuple[str, uuid.UUID]] = []
    spans: dict[tuple[str, uuid.UUID], list[str]] = {}
    worker_of: dict[int, str] = {}

    started: set[str] = set()
    second = asyncio.Event()

    async def handle(subscriber: str, events: Sequence[Event], ctx: HandlerContext) -> None:
        keys = [(subscriber, e.id) for e in events]
        overlaps.extend(k for k in keys if k in active)
        active.update(keys)
        started.add(worker_of[id(ctx.db)])
        if len(started) >= 2:
            second.set()
        # The first worker to claim holds its lease until another has claimed too (or 5 s
        # went by): the others must find work beside it, whoever connected first.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(second.wait(), 5)
        # Long enough that one worker cannot drain the backlog before the others have
        # connected (seen on a loaded machine with 0-10 ms), short enough to stay cheap.
        await asyncio.sleep(random.uniform(0.02, 0.04))
        active.difference_update(keys)
        for key in keys:
            spans.setdefault(key, []).append(worker_of[id(ctx.db)])

    async def one(event: Event, ctx: HandlerContext) -> None:
        await handle("one", [event], ctx)

    async def batch(events: Sequence[Event], ctx: HandlerContext) -> None:
        assert 1 <= len(events) <= 3
        await handle("batch", events, ctx)

    ids = await _emit_many(odb, 80, "test.contended")
    dbs = [Database(database_url, pool_size=2, max_overflow=0) for _ in range(4)]
    workers = []
    for n, db in enumerate(dbs):
        worker_of[id(db)] = f"w{n}"
        workers.append(
            make_worker(
                db,
                cache,
                settings,
                each("test.contended", one, "test.one"),
                Subscriber("test.batch", ("test.contended",), batch, batch_size=3),
                worker_id=f"w{n}",
                concurrency=2,
            )
        )
    # The workers poll until every delivery is done, as deployed ones do: a worker making
    # one pass (``once``) could find the backlog still locked by another's fan-out and stop.
    stop = asyncio.Event()
    running = asyncio.gather(*(w.run(stop) for w in workers))
    try:
        await wait_for(lambda: _delivered(odb, 160), limit=60)
        stop.set()
        handled = await running
    finally:
        stop.set()
        await asyncio.gather(running, return_exceptions=True)
        for db in dbs:
            await db.dispose()

    assert overlaps == []
    assert sum(handled) == 160
    assert sorted(spans) == sorted((s, i) for s in ("one", "batch") for i in ids)
    assert all(len(s) == 1 for s in spans.values())  # each handled once, by one worker
    assert len({s[0] for s in spans.values()}) >= 2  # the workers really did share
    async with odb.read() as session:
        states = dict(
            (
                await session.execute(
                    select(OutboxDelivery.state, func.count()).group_by(OutboxDelivery.state)
                )
            ).all()
        )
        fanned = await session.scalar(select(func.count()).where(OutboxEvent.state == DELIVERED))
    assert states == {DELIVERED: 160}
    assert fanned == 80


async def _delivered(db: Database, count: int) -> bool:
    async with db.read() as session:
        done = await session.scalar(select(func.count()).where(OutboxDelivery.state == DELIVERED))
    return done == count


async def _has_runs(db: Database) -> bool:
    return bool(await all_runs(db))


async def _slow_started(db: Database) -> bool:
    return any(r.worker.startswith("pid:") for r in await all_runs(db))
