"""Measure concurrent audit appends on PostgreSQL (a script, not a test).

    PYTHONPATH=src python bench/audit_append.py \
        --url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres [--seconds 10 --clients 32]

Creates a scratch database, migrates it as the owner, and runs as the least-privileged
app role (RLS on), all clients writing for ONE tenant (a country's surge). Each
transaction is an "act": the audit entry followed by --act-statements more round trips
(the rest of the use case, as when record() is called mid-way). Scenarios, each
reported as transactions/s and p50/p99 latency:
  ceiling   - the act without any audit entry (the same stack, no audit);
  sealed    - our design: record() inserts an unsealed entry; the sealer links later;
  head-lock - the naive design: lock the tenant's chain head, insert, update the head
              (the lock is then held until the act commits).
Then the sealer's own rate over everything written.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.engine import make_url

from vaxport import wiring
from vaxport.core import audit, migrate
from vaxport.core.audit.chain import seal, verify
from vaxport.core.db import Database
from vaxport.core.ids import uuid7
from vaxport.core.principal import Principal

APP_ROLE = "vaxport_test_app"


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database="postgres"
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _entry(uow) -> None:  # type: ignore[no-untyped-def]
    await audit.record(
        uow,
        by=Principal(uuid7(), "vaccinator", "staff"),
        action="dose.record",
        object_type="dose",
        object_id=uuid7(),
        client_ip="198.51.100.4",
        details={"dose_number": 1},
    )


async def _run(
    name: str, clients: int, seconds: float, once: Callable[[], Awaitable[None]]
) -> float:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await once()
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    rate = len(latencies) / elapsed
    print(f"{name:10s} {rate:8.0f} tx/s   p50 {q[49] * 1000:6.1f} ms   p99 {q[98] * 1000:6.1f} ms")
    return rate


async def _rest_of_act(uow, statements: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(statements):
        await uow.session.execute(text("SELECT 1"))


async def main(url: str, seconds: float, clients: int, statements: int) -> None:
    name = f"vaxport_bench_audit_{uuid.uuid4().hex[:8]}"
    await _admin(url, f'CREATE DATABASE "{name}"')
    owner_url = make_url(url).set(database=name)
    app_url = owner_url.set(username=APP_ROLE)
    owner = Database(owner_url.render_as_string(hide_password=False), pool_size=2)
    app = Database(app_url.render_as_string(hide_password=False), pool_size=clients)
    try:
        await migrate.upgrade(owner, metadata=wiring.build().metadata, app_role=APP_ROLE)
        tenant_id = uuid7()
        async with owner.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO tenants VALUES (:t, 'bx', 'Bench', '{}', 1, :h, now(), now())"),
                {"t": tenant_id, "h": "0" * 64},
            )
            await conn.execute(
                text("CREATE TABLE bench_head (tenant_id uuid PRIMARY KEY, hash text NOT NULL)")
            )
            await conn.execute(text(f"GRANT SELECT, UPDATE ON bench_head TO {APP_ROLE}"))
            await conn.execute(
                text("INSERT INTO bench_head VALUES (:t, :h)"), {"t": tenant_id, "h": "0" * 64}
            )

        async def empty() -> None:
            async with app.transaction(tenant_id=tenant_id) as uow:
                await _rest_of_act(uow, statements)

        async def sealed() -> None:
            async with app.transaction(tenant_id=tenant_id) as uow:
                await _entry(uow)
                await _rest_of_act(uow, statements)

        async def head_lock() -> None:
            async with app.transaction(tenant_id=tenant_id) as uow:
                prev = (
                    await uow.session.execute(
                        text("SELECT hash FROM bench_head WHERE tenant_id = :t FOR UPDATE"),
                        {"t": tenant_id},
                    )
                ).scalar_one()
                await _entry(uow)
                await uow.session.execute(
                    text("UPDATE bench_head SET hash = :h WHERE tenant_id = :t"),
                    {"h": hashlib.sha256(prev.encode()).hexdigest(), "t": tenant_id},
                )
                await _rest_of_act(uow, statements)

        await _run("warm-up", clients, 2, sealed)
        print(
            f"{clients} clients, one tenant, {seconds:.0f} s each, act = audit + "
            f"{statements} statements, as role {APP_ROLE}"
        )
        ceiling = await _run("ceiling", clients, seconds, empty)
        ours = await _run("sealed", clients, seconds, sealed)
        naive = await _run("head-lock", clients, seconds, head_lock)
        print(f"sealed/ceiling {ours / ceiling:.2f}   head-lock/ceiling {naive / ceiling:.2f}")

        t0 = time.perf_counter()
        n = await seal(db=app, tenant_id=tenant_id)
        dt_seal = time.perf_counter() - t0
        print(f"sealer     {n / dt_seal:8.0f} entries/s ({n} entries in {dt_seal:.1f} s)")
        t0 = time.perf_counter()
        result = await verify(db=app, tenant_id=tenant_id)
        dt_verify = time.perf_counter() - t0
        print(
            f"verify     {result.sealed / dt_verify:8.0f} entries/s (ok={result.ok}, "
            f"{result.sealed} sealed)"
        )
    finally:
        await app.dispose()
        await owner.dispose()
        await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--act-statements", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.seconds, args.clients, args.act_statements))
