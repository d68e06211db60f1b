"""Real workers: SIGKILL mid-batch, SIGTERM, ``--once``, and concurrent workers.

The concurrent-workers test runs on both legs: on PostgreSQL it proves the row locks
(FOR UPDATE SKIP LOCKED) keep claimers apart, on SQLite the BEGIN IMMEDIATE writer lock.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import ROOT
from tests.core.outbox_support import all_runs, finish_run, get_event, record_run, wait_for
from vaxport.core import outbox
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.outbox import DELIVERED, Event, HandlerContext, OutboxEvent, Worker, emit
from vaxport.settings import Settings


def _start_worker(
    database_url: str, tmp_path: Path, *, sleep: float, lease: float, args: tuple[str, ...] = ()
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
    handlers: dict[str, list[outbox.Handler]],
) -> None:
    ids = await _emit_many(odb, 3)
    proc = _start_worker(database_url, tmp_path, sleep=60, lease=2, args=("--concurrency", "1"))
    try:
        await wait_for(lambda: _has_runs(odb), limit=30)
    finally:
        proc.send_signal(signal.SIGKILL)
        await _wait_exit(proc)
    assert proc.returncode == -signal.SIGKILL

    killed = [r.worker for r in await all_runs(odb)]
    assert killed == [f"pid:{proc.pid}"]  # one event started, none finished
    leases = {}
    for event_id in ids:
        row = await get_event(odb, event_id)
        assert (row.state, row.attempts) == ("pending", 1)
        assert row.locked_by is not None
        assert row.locked_until is not None
        leases[event_id] = row.locked_until

    @outbox.handler("test.slow")
    async def here(event: Event, ctx: HandlerContext) -> None:
        run_id = await record_run(ctx.db, event, "survivor")
        await finish_run(ctx.db, run_id)

    survivor = Worker(odb, cache, fast, worker_id="survivor")
    if utcnow() < min(leases.values()):
        assert await survivor.claim() == []  # the dead worker's lease still holds
    wait = (max(leases.values()) - utcnow()).total_seconds()
    await asyncio.sleep(max(0.0, wait) + 0.05)
    assert await survivor.run_batch() == 3
    for event_id in ids:
        row = await get_event(odb, event_id)
        assert (row.state, row.attempts) == (DELIVERED, 2)
    runs = await all_runs(odb)
    assert sorted(r.event_id for r in runs if r.worker == "survivor") == sorted(map(str, ids))


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
        row = await get_event(odb, event_id)
        assert (row.state, row.attempts, row.locked_by) == (DELIVERED, 1, None)
    assert all(r.finished_at is not None for r in await all_runs(odb))


async def test_worker_cli_once_delivers_and_exits(
    odb: Database, database_url: str, tmp_path: Path
) -> None:
    ids = await _emit_many(odb, 3)
    proc = _start_worker(database_url, tmp_path, sleep=0, lease=10, args=("--once",))
    assert await _wait_exit(proc, limit=30) == 0
    assert proc.stdout is not None
    assert b"handled 3 events" in proc.stdout.read()
    assert {(await get_event(odb, i)).state for i in ids} == {DELIVERED}


async def test_concurrent_workers_never_handle_the_same_event_at_once(
    odb: Database,
    cache: Cache,
    fast: Settings,
    database_url: str,
    handlers: dict[str, list[outbox.Handler]],
) -> None:
    # Separate engines: each worker has its own connections and transactions, as
    # separate processes would; the database alone keeps them apart.
    settings = fast.model_copy(update={"outbox_batch_size": 2, "outbox_lease_seconds": 30})
    active: set[uuid.UUID] = set()
    overlaps: list[uuid.UUID] = []
    spans: dict[uuid.UUID, list[tuple[str, float, float]]] = {}
    worker_of: dict[int, str] = {}

    @outbox.handler("test.contended")
    async def contended(event: Event, ctx: HandlerContext) -> None:
        if event.id in active:
            overlaps.append(event.id)
        active.add(event.id)
        start = time.monotonic()
        await asyncio.sleep(random.uniform(0, 0.01))
        active.discard(event.id)
        name = worker_of[id(ctx.db)]
        spans.setdefault(event.id, []).append((name, start, time.monotonic()))

    ids = await _emit_many(odb, 80, "test.contended")
    dbs = [Database(database_url, pool_size=2, max_overflow=0) for _ in range(4)]
    workers = []
    for n, db in enumerate(dbs):
        worker_of[id(db)] = f"w{n}"
        workers.append(Worker(db, cache, settings, worker_id=f"w{n}", concurrency=2))
    try:
        handled = await asyncio.gather(*(w.run(asyncio.Event(), once=True) for w in workers))
    finally:
        for db in dbs:
            await db.dispose()

    assert overlaps == []
    assert sum(handled) == 80
    assert sorted(spans) == sorted(ids)
    assert all(len(s) == 1 for s in spans.values())  # each handled once, by one worker
    assert len({s[0][0] for s in spans.values()}) >= 2  # the workers really did share
    async with odb.read() as session:
        states = dict(
            (
                await session.execute(
                    select(OutboxEvent.state, func.count()).group_by(OutboxEvent.state)
                )
            ).all()
        )
    assert states == {DELIVERED: 80}


async def _has_runs(db: Database) -> bool:
    return bool(await all_runs(db))
