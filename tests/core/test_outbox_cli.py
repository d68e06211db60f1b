"""``vaxport outbox stats|dead|redrive`` (per subscriber) and the outbox gauges on ``/metrics``."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from tests.core.outbox_support import drain, each, get_delivery, make_worker
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
    """``n`` events that ``test.doomed-sub`` gives up on and ``test.fine-sub`` delivers."""

    async def doomed(event: Event, ctx: HandlerContext) -> None:
        raise PermanentFailure("no template for locale")

    async def fine(event: Event, ctx: HandlerContext) -> None:
        return None

    async with odb.transaction() as uow:
        ids = [await emit(uow, "test.doomed", {"i": i}) for i in range(n)]
    worker = make_worker(
        odb, cache, fast, each("test.doomed", doomed), each("test.doomed", fine, "test.fine-sub")
    )
    await drain(worker)
    return ids


async def test_dead_lists_event_id_subscriber_type_attempts_and_last_error(
    odb: Database,
    cache: Cache,
    fast: Settings,
    env: dict[str, str],
) -> None:
    empty = await _cli(env, "outbox", "dead")
    assert empty.exit_code == 0, empty.output
    assert "no dead-lettered events" in empty.output

    ids = await _dead_letters(odb, cache, fast, 2)
    result = await _cli(env, "outbox", "dead")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2  # the subscriber that succeeded has no dead letter
    for event_id in ids:
        assert any(
            line.startswith(
                f"{event_id}  test.doomed-sub  test.doomed  attempts=1  "
                "PermanentFailure: no template"
            )
            for line in lines
        )
    other = await _cli(env, "outbox", "dead", "--subscriber", "test.fine-sub")
    assert other.output.strip() == "no dead-lettered events"


async def test_redrive_by_id_and_all(
    odb: Database,
    cache: Cache,
    fast: Settings,
    env: dict[str, str],
) -> None:
    first, second, third = await _dead_letters(odb, cache, fast, 3)
    one = await _cli(env, "outbox", "redrive", "--id", str(first), "--id", str(second))
    assert one.exit_code == 0, one.output
    assert "re-driven 2 deliveries" in one.output
    assert (await get_delivery(odb, first, "test.doomed-sub")).state == PENDING
    assert (await get_delivery(odb, first, "test.fine-sub")).state == "delivered"
    assert (await get_delivery(odb, third, "test.doomed-sub")).state == DEAD

    rest = await _cli(env, "outbox", "redrive", "--all")
    assert "re-driven 1 deliveries" in rest.output
    assert (await get_delivery(odb, third, "test.doomed-sub")).state == PENDING


async def test_redrive_of_one_subscribers_dead_letters_leaves_the_others_dead(
    odb: Database, cache: Cache, fast: Settings, env: dict[str, str]
) -> None:
    async def other(event: Event, ctx: HandlerContext) -> None:
        raise PermanentFailure("other bug")

    [event_id] = await _dead_letters(odb, cache, fast, 1)
    async with odb.transaction() as uow:
        unrelated = await emit(uow, "test.other", {})
    await drain(make_worker(odb, cache, fast, each("test.other", other)))

    nothing = await _cli(env, "outbox", "redrive", "--all", "--subscriber", "test.fine-sub")
    assert "re-driven 0 deliveries" in nothing.output
    result = await _cli(
        env, "outbox", "redrive", "--id", str(event_id), "--subscriber", "test.doomed-sub"
    )
    assert result.exit_code == 0, result.output
    assert "re-driven 1 deliveries" in result.output
    assert (await get_delivery(odb, event_id, "test.doomed-sub")).state == PENDING
    assert (await get_delivery(odb, unrelated)).state == DEAD
    again = await _cli(env, "outbox", "redrive", "--all", "--subscriber", "test.other-sub")
    assert "re-driven 1 deliveries" in again.output
    assert (await get_delivery(odb, unrelated)).state == PENDING


@pytest.mark.parametrize(
    "args",
    [(), ("--all", "--id", "01a21b00-0000-7000-8000-000000000000"), ("--id", "not-a-uuid")],
)
async def test_redrive_needs_exactly_one_selection(
    odb: Database, env: dict[str, str], args: tuple[str, ...]
) -> None:
    result = await _cli(env, "outbox", "redrive", *args)
    assert result.exit_code == 2


async def test_stats_show_the_backlog_per_subscriber_and_events_not_yet_fanned_out(
    odb: Database,
    cache: Cache,
    fast: Settings,
    env: dict[str, str],
) -> None:
    async def later(event: Event, ctx: HandlerContext) -> None:
        raise outbox.RetryLater(3600)

    await _dead_letters(odb, cache, fast, 1)
    async with odb.transaction() as uow:
        await emit(uow, "test.waits", {})
        await emit(uow, "test.waits", {})
        await emit(uow, "test.unpublished", {})
        await emit(uow, "test.unpublished", {}, available_at=utcnow() + dt.timedelta(hours=1))
    waiter = make_worker(odb, cache, fast, each("test.waits", later))
    await waiter.claim(due_by=utcnow() - dt.timedelta(seconds=5))  # none due yet: no fan-out
    await waiter.run_batch()  # fans out everything due; the waiter defers its two
    async with odb.transaction() as uow:  # emitted after the fan-out
        await emit(uow, "test.unpublished", {})

    stats = await outbox.stats(db=odb)
    assert (stats.due, stats.scheduled, stats.dead, stats.delivered) == (0, 2, 1, 1)
    assert (stats.unpublished_due, stats.unpublished_scheduled) == (1, 1)
    assert set(stats.by_subscriber) == {"test.doomed-sub", "test.waits-sub"}
    assert stats.by_subscriber["test.doomed-sub"].dead == 1
    assert stats.by_subscriber["test.waits-sub"].scheduled == 2
    assert stats.by_subscriber["test.waits-sub"].oldest_due_age_seconds is None
    assert stats.oldest_due_age_seconds is not None  # the unpublished event is due

    result = await _cli(env, "outbox", "stats")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("due 0  scheduled 2  leased 0  dead 1  delivered 1")
    assert lines[1] == "not yet fanned out: due 1  scheduled 1"
    assert ["test.doomed-sub", "0", "0", "0", "1", "-"] in [line.split() for line in lines]
    assert ["test.waits-sub", "0", "2", "0", "0", "-"] in [line.split() for line in lines]

    as_json = await _cli(env, "outbox", "stats", "--json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["dead"] == 1
    assert data["unpublished_due"] == 1
    assert data["by_subscriber"]["test.waits-sub"] == {
        "due": 0,
        "scheduled": 2,
        "leased": 0,
        "dead": 0,
        "oldest_due_age_seconds": None,
    }


async def test_stats_count_a_leased_delivery_and_its_age(
    odb: Database, cache: Cache, fast: Settings
) -> None:
    async def never(event: Event, ctx: HandlerContext) -> None:
        return None

    async with odb.transaction() as uow:
        await emit(uow, "test.leased", {}, available_at=utcnow() - dt.timedelta(seconds=30))
    await make_worker(odb, cache, fast, each("test.leased", never)).claim()
    counts = (await outbox.stats(db=odb)).by_subscriber["test.leased-sub"]
    assert (counts.due, counts.leased) == (1, 1)
    assert counts.oldest_due_age_seconds is not None
    assert 30 <= counts.oldest_due_age_seconds < 600


async def test_metrics_route_reports_outbox_backlog_age_and_dead(
    odb: Database,
    cache: Cache,
    fast: Settings,
    client: httpx.AsyncClient,
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
    failures = (
        'vaxport_outbox_failures_total{event_type="test.doomed",subscriber="test.doomed-sub"}'
    )
    assert values[failures] >= 1.0
    assert 'subscriber="test.fine-sub"' not in "".join(
        k for k in values if k.startswith("vaxport_outbox_failures_total")
    )


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
