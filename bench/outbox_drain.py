"""Outbox drain rate: how fast N workers deliver a backlog, beside a table full of history.

    PYTHONPATH=src python bench/outbox_drain.py [--url postgresql+asyncpg://...] \
        [--events 5000] [--history 100000] [--workers 1 2 4]

Creates a scratch database (a temporary SQLite file, or a fresh PostgreSQL database on
the server of --url, dropped afterwards), migrates it, fills it with delivered history,
then for each worker count emits a backlog and times real workers (separate engines,
no-op handler) draining it. Prints events/s and the claim query's PostgreSQL plan.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, text

from vaxport import wiring
from vaxport.core import migrate
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.ids import uuid7
from vaxport.core.outbox import (
    DELIVERED,
    Event,
    HandlerContext,
    OutboxEvent,
    Subscriber,
    Subscriptions,
    Worker,
    emit,
)
from vaxport.settings import Settings

PARTS = wiring.build()


async def noop(event: Event, ctx: HandlerContext) -> None:
    return None


SUBSCRIPTIONS = Subscriptions([Subscriber.each("bench.noop", ["bench.noop"], noop)])


async def scratch(url: str | None) -> tuple[str, str | None]:
    if not url:
        path = Path(tempfile.mkdtemp()) / "bench.db"
        return f"sqlite+aiosqlite:///{path}", None
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"vaxport_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(host=base.host, port=base.port or 5432, user=base.username)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return base.set(database=name).render_as_string(hide_password=False), name


async def drop(url: str, name: str | None) -> None:
    if name is None:
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    conn = await asyncpg.connect(host=base.host, port=base.port or 5432, user=base.username)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def fill_history(db: Database, n: int) -> None:
    old = utcnow() - dt.timedelta(days=1)
    for start in range(0, n, 5000):
        rows = [
            {
                "id": uuid7(),
                "tenant_id": None,
                "event_type": "bench.history",
                "payload": {"i": i},
                "state": DELIVERED,
                "attempts": 1,
                "available_at": old,
                "created_at": old,
                "delivered_at": old,
            }
            for i in range(start, min(n, start + 5000))
        ]
        async with db.transaction() as uow:
            await uow.session.execute(insert(OutboxEvent), rows)


async def backlog(db: Database, n: int) -> None:
    for start in range(0, n, 500):
        async with db.transaction(tenant_id=uuid.uuid4()) as uow:
            for i in range(start, min(n, start + 500)):
                await emit(uow, "bench.noop", {"i": i})


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    url, name = await scratch(args.url or None)
    settings = Settings(env="test", database_url=url, outbox_batch_size=100)
    db = Database(url)
    try:
        await migrate.upgrade(db, metadata=PARTS.metadata)
        wiring.install(PARTS)
        await fill_history(db, args.history)
        if db.is_postgres:
            async with db.engine.begin() as conn:
                await conn.execute(text("ANALYZE outbox_events"))
                await conn.execute(text("ANALYZE outbox_deliveries"))
        print(f"database: {'postgresql' if db.is_postgres else 'sqlite'}; history {args.history}")
        for n in args.workers:
            await backlog(db, args.events)
            dbs = [Database(url, pool_size=4, max_overflow=0) for _ in range(n)]
            workers = [
                Worker(
                    d,
                    Cache(MemoryBackend()),
                    settings,
                    subscriptions=SUBSCRIPTIONS,
                    worker_id=f"w{i}",
                    concurrency=8,
                )
                for i, d in enumerate(dbs)
            ]
            start = time.perf_counter()
            handled = await asyncio.gather(*(w.run(asyncio.Event(), once=True) for w in workers))
            elapsed = time.perf_counter() - start
            for d in dbs:
                await d.dispose()
            print(
                f"workers {n}: {sum(handled)} events in {elapsed:.2f}s = "
                f"{sum(handled) / elapsed:,.0f} events/s"
            )
        if db.is_postgres:
            await backlog(db, 1000)
            async with db.engine.begin() as conn:
                await conn.execute(text("ANALYZE outbox_events"))
                await conn.execute(text("ANALYZE outbox_deliveries"))
                plan = await conn.execute(
                    text(
                        "EXPLAIN UPDATE outbox_events SET locked_by = 'x' WHERE id IN ("
                        "SELECT id FROM outbox_events WHERE state = 'pending' AND "
                        "available_at <= now() AND (locked_until IS NULL OR locked_until <= now())"
                        " ORDER BY available_at LIMIT 100 FOR UPDATE SKIP LOCKED)"
                    )
                )
                print("claim plan:\n  " + "\n  ".join(r[0] for r in plan))
    finally:
        await db.dispose()
        await drop(args.url, name)


if __name__ == "__main__":
    asyncio.run(main())
