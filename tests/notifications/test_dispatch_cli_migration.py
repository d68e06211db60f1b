"""``vaxport notify test`` and migration 0006 (messages, preferences) up and down."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner, Result

from tests.conftest import ROOT
from tests.notifications.dispatch_support import PHONE, notifications, run_worker, tenant_with
from tests.support.parts import METADATA
from vaxport.cli import app as cli
from vaxport.core import migrate
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.notifications import support
from vaxport.settings import Settings, get_settings

pytestmark = pytest.mark.usefixtures("dispatch_env")


@pytest.fixture
def env(app_database_url: str, tmp_path: Path, key_file: Path) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {
        "VAXPORT_ENV": "test",
        "VAXPORT_DATABASE_URL": app_database_url,
        "VAXPORT_DATA_DIR": str(tmp_path),
        "VAXPORT_KEY_FILE": str(key_file),
        "VAXPORT_REDIS_URL": "",
    }
    get_settings.cache_clear()


async def _cli(env: dict[str, str], *args: str) -> Result:
    # In a thread: the command runs its own event loop (asyncio.run), as from a shell.
    get_settings.cache_clear()  # settings read by the test itself must not leak in
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)
    get_settings.cache_clear()
    return result


async def _shell(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``vaxport ARGS`` as a separate process; (exit code, stdout + stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vaxport.cli",
        *args,
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT / "src")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_notify_test_queues_and_reports_what_the_worker_did(
    clean_db: Database, cache: Cache, fast: Settings, env: dict[str, str]
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    args = ("notify", "test", "--tenant", tenant.code, "--to", "(416) 555-0199")

    queued = await _cli(env, *args, "--wait", "0")
    assert queued.exit_code == 0, queued.output
    assert queued.output.endswith(": queued (sms)\n")

    # With a worker running meanwhile, the command waits for and reports the outcome.
    waiting = asyncio.create_task(_shell(env, *args, "--kind", "sms", "--wait", "60"))
    console = fast.model_copy(update={"data_dir": Path(env["VAXPORT_DATA_DIR"])})
    while not waiting.done():
        await run_worker(clean_db, cache, console)
        await asyncio.sleep(0.1)
    code, output = waiting.result()
    assert code == 0, output
    assert "sent via channel console" in output
    shown = await support.list_console_messages(settings=console)
    assert [m.to for m in shown] == ["+14165550199", "+14165550199"]


async def test_notify_test_explains_refusals_and_a_missing_worker(
    clean_db: Database, env: dict[str, str]
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    bad = await _cli(env, "notify", "test", "--tenant", tenant.code, "--to", "555")
    assert bad.exit_code == 2
    assert "--to: " in bad.output
    unknown = await _cli(env, "notify", "test", "--tenant", "nosuch", "--to", PHONE)
    assert (unknown.exit_code, unknown.output) == (1, "nosuch: unknown tenant\n")
    kind = await _cli(
        env, "notify", "test", "--tenant", tenant.code, "--to", PHONE, "--kind", "fax"
    )
    assert kind.exit_code == 2
    alone = await _cli(
        env, "notify", "test", "--tenant", tenant.code, "--to", PHONE, "--wait", "0.5"
    )
    assert alone.exit_code == 3
    assert "is a worker running" in alone.output


async def _tables(db: Database) -> tuple[set[str], set[str]]:
    def read(conn):  # type: ignore[no-untyped-def]
        insp = inspect(conn)
        tables = set(insp.get_table_names())
        indexes = (
            {ix["name"] for ix in insp.get_indexes("messages")} if "messages" in tables else set()
        )
        return tables, indexes

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def test_0006_upgrade_then_downgrade(empty_db: Database) -> None:
    await migrate.upgrade(empty_db, "0006", metadata=METADATA)
    tables, indexes = await _tables(empty_db)
    assert {"messages", "notification_preferences"} <= tables
    assert {
        "ix_messages_pending_reason",
        "ix_messages_provider_id",
        "ix_messages_phone_recent",
        "ix_messages_email_recent",
        "ix_messages_subject",
    } <= indexes

    await migrate.downgrade(empty_db, "-1")
    tables, _ = await _tables(empty_db)
    assert not tables & {"messages", "notification_preferences"}
    assert "data_keys" in tables  # the revision below is untouched

    await migrate.upgrade(empty_db, "head", metadata=METADATA)
    assert {"messages", "notification_preferences"} <= (await _tables(empty_db))[0]
