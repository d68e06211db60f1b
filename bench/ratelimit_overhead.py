"""Measure what rate limits and the transport layer add per request (a script, not a test).

    PYTHONPATH=src python bench/ratelimit_overhead.py [--redis redis://127.0.0.1:6379/0]
        [--requests 5000]

Drives the real app (``create_app``, full middleware stack, bench no-op routes) in
process, one request at a time, so the numbers are the cost of the stack itself without
a server or network. Each configuration is reported as CPU and wall microseconds per
request, the best of 5 rounds (the machine is shared: the minimum is the least noisy
estimate of what the code costs). Callers come from 1,000 addresses in turn, as real
traffic does, with the default limits (a window holds at most as many entries as its
limit, and the moving window's cost grows with that):
  off        - rate limits disabled (the ceiling);
  unlimited  - rate limits on, the request's class unlimited (plain reads by default);
  memory     - in-process moving windows, anonymous caller (one ip limit);
  memory+acc - in-process, signed-in caller (ip + account limits);
  redis      - windows in Redis (one ip limit), when --redis is given;
  redis+acc  - Redis, ip + account limits;
  proxies    - limits off, trusted proxies + forced HTTPS (the transport layer alone).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from vaxport import wiring
from vaxport.app import create_app
from vaxport.core import migrate
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.settings import Settings

PARTS = wiring.build()

CLIENTS = 1000


async def _drive(
    app: Any, n: int, headers: list[tuple[bytes, bytes]], scheme: str
) -> tuple[float, float]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    start, cpu = time.perf_counter(), time.thread_time()
    for i in range(n):
        peer = f"10.0.{i % CLIENTS // 250}.{i % 250}"
        forwarded = (b"x-forwarded-for", f"203.0.{i % CLIENTS // 250}.{i % 250}".encode())
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": scheme,
            "path": "/bench/noop",
            "raw_path": b"/bench/noop",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"bench"), forwarded, *headers],
            "client": (peer, 5555),
            "server": ("bench", 80),
        }
        await app(scope, receive, send)
    return (time.thread_time() - cpu) / n * 1e6, (time.perf_counter() - start) / n * 1e6


class _Principal:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # One account per client address, as when each person signs in on their phone.
        scope.setdefault("state", {})["principal_id"] = f"account-{scope['client'][0]}"
        await self.app(scope, receive, send)


async def _measure(name: str, settings: Settings, n: int, *, account: bool = False) -> None:
    db = Database(settings.effective_database_url)
    await migrate.upgrade(db, metadata=PARTS.metadata)
    wiring.install(PARTS)
    app = create_app(settings, database=db, cache=Cache(MemoryBackend()))
    if account:
        app.add_middleware(_Principal)
    headers = [(b"x-forwarded-proto", b"https")]
    scheme = "http" if settings.trusted_proxies else "https"
    await _drive(app, 200, headers, scheme)  # warm up (compiles the route table)
    rounds = [await _drive(app, n, headers, scheme) for _ in range(5)]
    await app.state.rate_limiter.close()
    await db.dispose()
    cpu = min(r[0] for r in rounds)
    wall = min(r[1] for r in rounds)
    print(f"{name:12s} cpu {cpu:7.1f} us/request   wall {wall:7.1f} us/request")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="")
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(
            env="development",
            bench_mode=True,
            data_dir=Path(tmp),
            log_level="WARNING",
            # The no-op is a plain read; give its class the limits a write has.
            rate_limit_default_ip="1200/minute",
            rate_limit_default_account="300/minute",
            rate_limit_prefix=f"vaxport-bench-{uuid.uuid4().hex[:8]}",
        )
        n = args.requests
        await _measure("off", base.model_copy(update={"rate_limit_enabled": False}), n)
        unlimited = {
            "rate_limit_default_ip": "unlimited",
            "rate_limit_default_account": "unlimited",
        }
        await _measure("unlimited", base.model_copy(update=unlimited), n)
        await _measure("memory", base, n)
        await _measure("memory+acc", base, n, account=True)
        if args.redis:
            redis = base.model_copy(update={"redis_url": args.redis})
            await _measure("redis", redis, n)
            await _measure("redis+acc", redis, n, account=True)
        proxies = base.model_copy(
            update={
                "rate_limit_enabled": False,
                "trusted_proxies": ["10.0.0.0/8"],
                "force_https": True,
            }
        )
        await _measure("proxies", proxies, n)
        if args.redis:
            import redis.asyncio as aioredis

            r = aioredis.Redis.from_url(args.redis)
            async for key in r.scan_iter(match=f"{base.rate_limit_prefix}:*"):
                await r.delete(key)
            await r.aclose()


if __name__ == "__main__":
    asyncio.run(main())
