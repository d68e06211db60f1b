"""The search's two cache tiers: what a repeated search costs, and how stale it can be.

Counted for real: the statements the database runs (SQLAlchemy's cursor events) and the
calls the cache makes to its shared store (Redis on the Redis leg, the in-process LRU
otherwise), through a counting pass-through in front of the real backend. "Another
process" is another :class:`Cache` (its own near tier and clock) over the same store,
and another app (its own kept answers).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import event

from tests.core.http.ratelimit_support import closed_port
from tests.core.test_cache_near import Ticks
from tests.scheduling.search.conftest import Centres, day
from tests.scheduling.seed import Seeded, open_session
from tests.support.parts import PARTS
from vaxport.app import create_app
from vaxport.core.cache import NEAR_SECONDS, Backend, Cache, RedisBackend
from vaxport.core.db import Database
from vaxport.core.http import answers as kept_answers
from vaxport.scheduling import answers
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.scheduling.availability import slots_changed
from vaxport.scheduling.search import search_slots
from vaxport.scheduling.search_schemas import SlotQuery
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

# The bounds docs/scheduling.md states, from the constants that make them.
AFTER_A_CHANGE = NEAR_SECONDS + kept_answers.SECONDS
WHATEVER_HAPPENS = answers.SHARED_SECONDS + answers.NEAR_SECONDS + kept_answers.SECONDS


class CountingBackend:
    """The real backend, with every call to it counted."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.calls = 0

    async def get(self, key: str) -> bytes | None:
        self.calls += 1
        return await self.backend.get(key)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self.calls += 1
        await self.backend.set(key, value, ttl)

    async def delete(self, *keys: str) -> None:
        self.calls += 1
        await self.backend.delete(*keys)

    async def ping(self) -> bool:
        return await self.backend.ping()

    async def close(self) -> None:
        """The test's cache fixture closes the real backend."""


def process(cache: Cache, ticks: Ticks | None = None) -> tuple[Cache, CountingBackend]:
    """Another process's cache over the same shared store, its calls counted."""
    counting = CountingBackend(cache.backend)
    if ticks is None:
        return Cache(counting, prefix=cache.prefix), counting
    return Cache(counting, prefix=cache.prefix, monotonic=ticks), counting


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run while the block runs."""
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
async def session(clean_db: Database, tenant: TenantInfo, centres: Centres) -> Seeded:
    """Tomorrow at Hillcrest: two slots of two seats."""
    return await open_session(
        clean_db, tenant.id, centres.hill, region_code="NOR-01-01", day=day(tenant, 1), slots=2,
        seats=2,
    )  # fmt: skip


async def _fill(db: Database, cache: Cache, tenant: TenantInfo, slot_id: uuid.UUID) -> None:
    """Book every seat of a slot as the booking flow does: seat, then ``slots_changed``."""
    while True:
        async with db.transaction(tenant_id=tenant.id) as uow:
            seat = Seat(uuid.uuid4(), None, "covid-19", 1, None)
            booked = await book_in(uow, tenant.id, slot_id, seat)
            if booked is not None:

                async def changed() -> None:
                    await slots_changed(cache, tenant.id)

                uow.after_commit(changed)
        if booked is None:
            return


async def _offered(db: Database, cache: Cache, tenant: TenantInfo) -> list[str]:
    answer = await search_slots(db=db, cache=cache, tenant=tenant, query=SlotQuery(region="NOR"))
    return [i["id"] for i in orjson.loads(answer.body)["items"]]


async def test_the_second_identical_search_touches_neither_the_store_nor_the_database(
    clean_db: Database, cache: Cache, tenant: TenantInfo, session: Seeded
) -> None:
    mine, store = process(cache)
    with statements(clean_db) as first:
        before = store.calls
        offered = await _offered(clean_db, mine, tenant)
    assert offered == [str(s) for s in session.slot_ids]
    assert first
    assert store.calls > before
    with statements(clean_db) as second:
        before = store.calls
        assert await _offered(clean_db, mine, tenant) == offered
    assert second == []
    assert store.calls == before


async def test_another_process_serves_the_shared_answer_without_a_database_query(
    clean_db: Database, cache: Cache, tenant: TenantInfo, session: Seeded
) -> None:
    first, _ = process(cache)
    offered = await _offered(clean_db, first, tenant)
    other, store = process(cache)
    with statements(clean_db) as seen:
        assert await _offered(clean_db, other, tenant) == offered
    assert seen == []
    assert store.calls >= 2  # the token and the answer, from the shared store


@asynccontextmanager
async def _client(
    settings: Settings, db: Database, cache: Cache
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, parts=PARTS, database=db, cache=cache)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_over_http_the_second_search_costs_no_query_and_no_store_call(
    settings: Settings, clean_db: Database, cache: Cache, tenant: TenantInfo, session: Seeded
) -> None:
    mine, store = process(cache)
    url = f"/api/v1/{tenant.code}/slots?region=NOR&limit=5"
    async with _client(settings, clean_db, mine) as client:
        assert (await client.get(url)).status_code == 200
        with statements(clean_db) as seen:
            before = store.calls
            again = await client.get(url)
        assert again.status_code == 200
        assert seen == []
        assert store.calls == before


async def test_a_filled_slot_leaves_the_writers_search_at_once(
    settings: Settings, clean_db: Database, cache: Cache, tenant: TenantInfo, session: Seeded
) -> None:
    url = f"/api/v1/{tenant.code}/slots?region=NOR"
    async with _client(settings, clean_db, cache) as client:
        assert len((await client.get(url)).json()["items"]) == 2
        await _fill(clean_db, cache, tenant, session.slot_ids[0])
        items = (await client.get(url)).json()["items"]
    assert [i["id"] for i in items] == [str(session.slot_ids[1])]


async def test_another_process_sees_a_filled_slot_within_the_token_near_period(
    clean_db: Database, cache: Cache, tenant: TenantInfo, session: Seeded
) -> None:
    ticks = Ticks()
    other, _ = process(cache, ticks)
    everything = [str(s) for s in session.slot_ids]
    assert await _offered(clean_db, other, tenant) == everything
    await _fill(clean_db, cache, tenant, session.slot_ids[0])  # in the writer's process
    ticks.now += NEAR_SECONDS * 0.9
    assert await _offered(clean_db, other, tenant) == everything  # still in its near tier
    ticks.now += NEAR_SECONDS * 0.1
    assert await _offered(clean_db, other, tenant) == everything[1:]


async def test_over_http_another_process_sees_a_filled_slot_within_the_documented_bound(
    settings: Settings, clean_db: Database, cache: Cache, tenant: TenantInfo, session: Seeded
) -> None:
    assert AFTER_A_CHANGE <= 1.5
    assert WHATEVER_HAPPENS + answers.MAX_AGE <= 5
    other, _ = process(cache)
    url = f"/api/v1/{tenant.code}/slots?region=NOR"
    async with _client(settings, clean_db, other) as client:
        assert len((await client.get(url)).json()["items"]) == 2
        await _fill(clean_db, cache, tenant, session.slot_ids[0])
        filled = time.monotonic()
        while True:
            items = (await client.get(url)).json()["items"]
            waited = time.monotonic() - filled
            if len(items) == 1:
                break
            assert waited <= AFTER_A_CHANGE, f"still stale after {waited:.2f}s"
            await asyncio.sleep(0.05)


async def test_without_any_invalidation_a_shared_answer_is_never_served_past_its_life(
    clean_db: Database, cache: Cache, tenant: TenantInfo, session: Seeded
) -> None:
    builds = 0

    async def build() -> bytes:
        nonlocal builds
        builds += 1
        return str(builds).encode()

    async def get(c: Cache) -> bytes:
        found = await answers.cached_answer(
            cache=c, tenant_id=tenant.id, key={"k": 1}, build=build, token="t"
        )
        return found.body

    first, _ = process(cache)
    assert await get(first) == b"1"
    other, _ = process(cache)
    assert await get(other) == b"1"  # shared
    await asyncio.sleep(answers.SHARED_SECONDS + 0.05)
    third, _ = process(cache)
    assert await get(third) == b"2"  # lapsed, even though nothing invalidated it


async def test_a_cache_outage_degrades_to_answering_from_the_database(
    clean_db: Database, tenant: TenantInfo, session: Seeded
) -> None:
    down = Cache(RedisBackend(f"redis://127.0.0.1:{closed_port()}/0"))
    try:
        with statements(clean_db) as seen:
            assert len(await _offered(clean_db, down, tenant)) == 2
        assert seen
    finally:
        await down.close()
