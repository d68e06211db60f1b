"""A worker SIGKILLed after the provider accepted a message, before it was marked sent.

A real ``vaxport worker`` process sends to the loopback gateway, which records the
request and holds its answer; the test kills the process there. The message stays
``sending``; once the lease lapses another worker delivers the event again, and the
resend carries the same Idempotency-Key, so a gateway that deduplicates sends once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.conftest import ROOT
from tests.notifications.dispatch_support import (
    PHONE,
    keys_seen,
    notifications,
    queue,
    row_of,
    run_worker,
    sms_http,
    tenant_with,
)
from tests.notifications.peers import Recorded, Reply, RunningHttpPeer
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.outbox import OutboxDelivery
from vaxport.settings import Settings

pytestmark = pytest.mark.usefixtures("dispatch_env")


def _start_worker(app_database_url: str, key_file: Path, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "VAXPORT_ENV": "test",
        "VAXPORT_DATABASE_URL": app_database_url,
        "VAXPORT_KEY_FILE": str(key_file),
        "VAXPORT_DATA_DIR": str(data_dir),
        "VAXPORT_REDIS_URL": "",
        "VAXPORT_LOG_LEVEL": "INFO",
        "VAXPORT_OUTBOX_LEASE_SECONDS": "2",
        "VAXPORT_OUTBOX_POLL_SECONDS": "0.05",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "vaxport.cli", "worker", "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        # A file, not a pipe: a worker that writes more than a pipe holds would block.
        stderr=(data_dir / "worker.err").open("wb"),
    )


def _stderr(data_dir: Path) -> str:
    return (data_dir / "worker.err").read_text(errors="replace")[-2000:]


async def _activity(db: Database) -> str:
    """What the database's other sessions are doing (for a worker that never sends)."""
    if not db.is_postgres:
        return ""
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT a.pid, a.state, a.wait_event_type, a.wait_event, left(a.query, 120), "
                    "(SELECT string_agg(l.locktype || ':' || l.mode || ':' || l.granted, ',') "
                    " FROM pg_locks l WHERE l.pid = a.pid) "
                    "FROM pg_stat_activity a WHERE a.datname = current_database() "
                    "AND a.pid <> pg_backend_pid()"
                )
            )
        ).all()
    return "\n".join(str(tuple(r)) for r in rows)


async def _until_accepted(
    accepted: asyncio.Event, proc: subprocess.Popen[bytes], data_dir: Path, db: Database
) -> None:
    """Wait for the gateway to take the message; a worker that died says why at once.

    A cold worker on a loaded CI machine can take a while to import and poll, so the
    budget is generous; a worker that exited fails the test with its own stderr.
    """
    for _ in range(1200):
        if accepted.is_set():
            return
        if proc.poll() is not None:
            pytest.fail(f"the worker exited ({proc.returncode}): {_stderr(data_dir)}")
        await asyncio.sleep(0.1)
    pytest.fail(f"the worker sent nothing within 120 s: {_stderr(data_dir)}\n{await _activity(db)}")


async def test_a_resend_after_a_crash_reuses_the_idempotency_key(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    app_database_url: str,
    key_file: Path,
    tmp_path: Path,
) -> None:
    tenant = await tenant_with(clean_db, notifications(sms_http(http_peer.url), sms="gateway"))
    accepted = asyncio.Event()

    async def accept_then_hang(req: Recorded) -> Reply | None:
        if accepted.is_set():
            return None  # the resend gets the default answer
        accepted.set()
        return Reply(200, {"id": "gw-1"}, stall=True)  # taken, but the answer never comes

    http_peer.peer.inspector = accept_then_hang
    message_id = await queue(clean_db, tenant, to=PHONE)

    proc = _start_worker(app_database_url, key_file, tmp_path)
    try:
        await _until_accepted(accepted, proc, tmp_path, clean_db)
    finally:
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 20)
    assert proc.returncode == -signal.SIGKILL, _stderr(tmp_path)
    http_peer.peer.release.set()

    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.attempts) == ("sending", 1)  # the provider has it; we don't know

    async with clean_db.read() as session:
        lease = (await session.execute(select(OutboxDelivery.locked_until))).scalar_one()
    assert lease is not None
    await asyncio.sleep(max(0.0, (lease - utcnow()).total_seconds()) + 0.05)
    assert await run_worker(clean_db, cache, fast) == 1

    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 2, "gw-default")
    assert len(http_peer.peer.requests) == 2
    # One logical message, one key: the gateway drops the second as a duplicate.
    assert set(keys_seen(http_peer.peer.requests)) == {str(message_id)}
