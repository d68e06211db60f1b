"""Dispatch throughput: messages/second through ONE worker, and the drain time of a backlog.

    PYTHONPATH=src python bench/notifications_dispatch.py [--url postgresql+asyncpg://...] \
        [--messages 10000] [--concurrency 4 16] [--kinds sms email]

Creates a scratch database (a temporary SQLite file, or a fresh PostgreSQL database on the
server of --url, dropped afterwards), loads the demo country with an SMS-over-HTTP channel
and an SMTP channel pointing at local peers running in their own processes (a tiny
uvicorn gateway, aiosmtpd's Sink), queues N messages with notify() (unique destinations,
so caps never bite), then times one real outbox worker draining them: the full path of
each message (claim, lock and mark ``sending``, decrypt, render, send, record, outbox
bookkeeping). Beside it, the same peer driven by the bare channel (no database), the
ceiling the dispatcher cannot beat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from notifications_throughput import email, free_port, sms, start
from outbox_drain import drop, scratch
from vaxport import wiring
from vaxport.core import migrate
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.crypto import configure_keyring
from vaxport.core.db import Database
from vaxport.core.logging import configure_logging
from vaxport.core.outbox import Subscriptions, Worker
from vaxport.notifications import events, service
from vaxport.notifications.models import Message
from vaxport.notifications.runtime import RUNTIME, close_channels
from vaxport.settings import Settings
from vaxport.tenancy.loader import load
from vaxport.tenancy.service import get_tenant_or_404

PARTS = wiring.build()

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent / "countries" / "demo.yaml"


def tenant_file(directory: Path, code: str, http_port: int, smtp_port: int) -> Path:
    data: dict[str, Any] = yaml.safe_load(DEMO.read_text("utf-8"))
    data["code"] = code
    data["notifications"] = {
        "channels": [
            {
                "name": "gateway",
                "type": "sms-http",
                "options": {
                    "url": f"http://127.0.0.1:{http_port}/send",
                    "body": {"to": "{to}", "text": "{text}", "ref": "{dedup_key}"},
                    "message_id_json_path": "messages.0.id",
                },
            },
            {
                "name": "mail",
                "type": "smtp",
                "options": {
                    "host": "127.0.0.1",
                    "port": smtp_port,
                    "security": "plain",
                    "sender": "Demoland <no-reply@health.example.org>",
                },
            },
        ],
        "routes": {"sms": "gateway", "email": "mail"},
    }
    path = directory / f"{code}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def destination(kind: str, i: int) -> str:
    # 416-555-xxxx and 647-555-xxxx: valid Canadian numbers (the demo's region).
    if kind == "sms":
        return f"+1{416 if i < 10_000 else 647}555{i % 10_000:04d}"
    return f"person{i}@example.org"


async def queue(db: Database, tenant_id: Any, kind: str, n: int) -> float:
    """Queue ``n`` messages (500 per transaction); returns messages/second."""
    started = time.perf_counter()
    for first in range(0, n, 500):
        async with db.transaction(tenant_id=tenant_id) as uow:
            for i in range(first, min(n, first + 500)):
                await service.notify(
                    uow,
                    tenant_id=tenant_id,
                    event="test_message",
                    to=destination(kind, i),
                    kind=kind,  # type: ignore[arg-type]
                    data={"tenant_name": "Demoland"},
                    dedup_key=f"bench:{kind}:{i}:{time.time_ns()}",
                )
    return n / (time.perf_counter() - started)


async def drain(db: Database, settings: Settings, concurrency: int) -> tuple[int, float]:
    worker = Worker(
        db,
        Cache(MemoryBackend()),
        settings,
        subscriptions=Subscriptions(events.SUBSCRIBERS),
        concurrency=concurrency,
    )
    started = time.perf_counter()
    handled = await worker.run(asyncio.Event(), once=True)
    return handled, time.perf_counter() - started


async def ceiling(tenant: Any, settings: Settings, kind: str, n: int, concurrency: int) -> float:
    """The bare channel's rate to the same peer, for the same concurrency."""
    channel = (await RUNTIME.channels(tenant, settings)).for_kind(kind)  # type: ignore[arg-type]
    make = sms if kind == "sms" else email
    counter = iter(range(n))

    async def one() -> None:
        for i in counter:
            await channel.send(make(i))

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--kinds", nargs="+", default=["sms", "email"])
    parser.add_argument("--log-level", default="INFO", help="logs go to /dev/null")
    args = parser.parse_args()
    with open(os.devnull, "w") as null:
        configure_logging(level=args.log_level, json=True, stream=null)
        asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp())
    smtp_port, http_port = free_port(), free_port()
    py = sys.executable
    procs = [
        start([py, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}", "-c",
               "aiosmtpd.handlers.Sink"], smtp_port),
        start([py, "-m", "uvicorn", "notifications_peer:app", "--app-dir", str(HERE), "--port",
               str(http_port), "--log-level", "warning", "--no-access-log", "--lifespan", "off"],
              http_port),
    ]  # fmt: skip
    url, name = await scratch(args.url or None)
    settings = Settings(
        env="test",
        database_url=url,
        data_dir=tmp,
        key_file=tmp / "keys.json",
        outbox_batch_size=100,
    )
    configure_keyring(settings)
    db = Database(url, pool_size=20, max_overflow=10)
    try:
        await migrate.upgrade(db, metadata=PARTS.metadata)
        wiring.install(PARTS)
        cache = Cache(MemoryBackend())
        await load(
            db=db,
            cache=cache,
            path=tenant_file(tmp, "bench", http_port, smtp_port),
            rules=PARTS.config_rules,
        )
        tenant = await get_tenant_or_404(db=db, cache=cache, code="bench")
        print(f"database: {'postgresql' if db.is_postgres else 'sqlite'}; one worker; "
              f"{args.messages} messages per run; log level {args.log_level}")  # fmt: skip
        for kind in args.kinds:
            for concurrency in args.concurrency:
                rate_in = await queue(db, tenant.id, kind, args.messages)
                handled, elapsed = await drain(db, settings, concurrency)
                async with db.read(tenant_id=tenant.id) as session:
                    sent = await session.scalar(
                        select(func.count()).where(Message.status == "sent")
                    )
                top = await ceiling(tenant, settings, kind, 2000, concurrency)
                print(
                    f"{kind:5} concurrency {concurrency:2}: notify() {rate_in:6,.0f}/s | "
                    f"drained {handled} in {elapsed:6.2f}s = {handled / elapsed:6,.0f} msg/s "
                    f"(sent so far {sent}) | bare channel {top:6,.0f} msg/s "
                    f"-> {handled / elapsed / top:.0%} of ceiling"
                )
    finally:
        await close_channels()
        await db.dispose()
        await drop(args.url, name)
        for p in procs:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
