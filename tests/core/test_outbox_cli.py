"""``vaxport outbox stats|dead|redrive`` and the outbox gauges on ``/metrics``."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from tests.core.outbox_support import get_event
from vaxport.cli import app as cli
from vaxport.core import outbox
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.outbox import (
    DEAD,
    PENDING,
    Event,
    HandlerContext,
    PermanentFailure,
    Worker,
    emit,
)
from vaxport.settings import Settings, get_settings


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {
        "VAXPORT_ENV": "test",
        "VAXPORT_DATABASE_URL": database_url,
        "VAXPORT_DATA_DIR": str(tmp_path),
        "VAXPORT_REDIS_URL": "",
    }
    get_settings.cache_clear()


async def _cli(env: dict[str, str], *args: str) -> Result:
    # In a thread: the command runs its own event loop (asyncio.run), as from a shell.
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)
    get_settings.cache_clear()
    return result


async def _dead_letters(odb: Database, cache: Cache, fast: Settings, n: int) -> list[uuid.UUID]:
    @outbox.handler("test.doomed")
    async def doomed(event: Event, ctx: HandlerContext) -> None:
        raise PermanentFailure("no template for locale")

    async with odb.transaction() as uow:
        ids = [await emit(uow, "test.doomed", {"i": i}) for i in range(n)]
    await Worker(odb, cache, fast).run_batch()
    return ids


async def test_dead_lists_id_type_attempts_and_last_error(
    odb: Database,
    cache: Cache,
    fast: Settings,
    env: dict[str, str],
    handlers: dict[str, list[outbox.Handler]],
) -> None:
    empty = await _cli(env, "outbox", "dead")
    assert empty.exit_code == 0, empty.output
    assert "no dead-lettered events" in empty.output

    ids = await _dead_letters(odb, cache, fast, 2)
    result = await _cli(env, "outbox", "dead")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    for event_id in ids:
        assert any(
            line.startswith(f"{event_id}  test.doomed  attempts=1  PermanentFailure: no template")
            for line in lines
        )


async def test_redrive_by_id_and_all(
    odb: Database,
    cache: Cache,
    fast: Settings,
    env: dict[str, str],
    handlers: dict[str, list[outbox.Handler]],
) -> None:
    first, second, third = await _dead_letters(odb, cache, fast, 3)
    one = await _cli(env, "outbox", "redrive", "--id", str(first), "--id", str(second))
    assert one.exit_code == 0, one.output
    assert "re-driven 2 events" in one.output
    assert (await get_event(odb, first)).state == PENDING
    assert (await get_event(odb, third)).state == DEAD

    rest = await _cli(env, "outbox", "redrive", "--all")
    assert "re-driven 1 events" in rest.output
    assert (await get_event(odb, third)).state == PENDING


@pytest.mark.parametrize(
    "args",
    [(), ("--all", "--id", "01a21b00-0000-7000-8000-000000000000"), ("--id", "not-a-uuid")],
)
async def test_redrive_needs_exactly_one_selection(
    odb: Database, env: dict[str, str], args: tuple[str, ...]
) -> None:
    result = await _cli(env, "outbox", "redrive", *args)
    assert result.exit_code == 2


async def test_stats_counts_by_state_and_type(
    odb: Database,
    cache: Cache,
    fast: Settings,
    env: dict[str, str],
    handlers: dict[str, list[outbox.Handler]],
) -> None:
    await _dead_letters(odb, cache, fast, 1)
    async with odb.transaction() as uow:
        await emit(uow, "test.due", {})
        await emit(uow, "test.due", {})
        await emit(uow, "test.later", {}, available_at=utcnow() + dt.timedelta(hours=1))
    stats = await outbox.stats(db=odb)
    assert (stats.due, stats.scheduled, stats.dead, stats.delivered) == (2, 1, 1, 0)
    assert stats.by_type["test.due"].due == 2
    assert stats.by_type["test.later"].scheduled == 1
    assert stats.by_type["test.doomed"].dead == 1
    assert stats.oldest_due_age_seconds is not None

    result = await _cli(env, "outbox", "stats")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("due 2  scheduled 1  leased 0  dead 1  delivered 0")
    assert any(
        line.split() == ["test.due", "2", "0", "0", "0"] for line in result.output.splitlines()
    )


async def test_metrics_route_reports_outbox_backlog_age_and_dead(
    odb: Database,
    cache: Cache,
    fast: Settings,
    client: httpx.AsyncClient,
    handlers: dict[str, list[outbox.Handler]],
) -> None:
    await _dead_letters(odb, cache, fast, 1)
    async with odb.transaction() as uow:
        for _ in range(3):
            await emit(uow, "test.waiting", {}, available_at=utcnow() - dt.timedelta(seconds=90))
        await emit(uow, "test.waiting", {}, available_at=utcnow() + dt.timedelta(hours=1))
    text = (await client.get("/metrics")).text
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("vaxport_outbox_") and not line.startswith("#")
    }
    assert values["vaxport_outbox_backlog"] == 3.0  # due now; the scheduled one is not late
    assert values["vaxport_outbox_dead"] == 1.0
    assert 90.0 <= values["vaxport_outbox_oldest_age_seconds"] < 600
    assert values['vaxport_outbox_failures_total{event_type="test.doomed"}'] >= 1.0


async def test_metrics_route_answers_when_the_database_is_down(
    settings: Settings, cache: Cache, tmp_path: Path
) -> None:
    from vaxport.app import create_app

    broken = Database(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/db.sqlite")
    app = create_app(settings, database=broken, cache=cache)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/metrics")
    await broken.dispose()
    assert r.status_code == 200
    assert "vaxport_outbox_backlog" in r.text
