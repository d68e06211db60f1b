"""The hot reads' pool (``core.pgpool``): connections kept, bounded, replaced when dead."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Integer, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import JSONB

from tests.conftest import PG_URL
from vaxport.core import pgpool
from vaxport.core.db import Database
from vaxport.core.fastread import fetch_one

pytestmark = pytest.mark.skipif(not PG_URL, reason="a pool of server connections (PostgreSQL)")

BACKEND = select(func.pg_backend_pid(type_=Integer))
SCOPE = uuid.uuid4()  # any tenant: these reads touch no table


@pytest.fixture
async def two(app_database_url: str) -> AsyncIterator[Database]:
    database = Database(app_database_url, pool_size=2, max_overflow=0)
    yield database
    await database.dispose()


async def _backend(database: Database) -> int:
    row = await fetch_one(database, BACKEND, {}, tenant_id=SCOPE)
    assert row is not None
    return int(row[0])


async def _alive(owner_db: Database, pids: set[int]) -> set[int]:
    async with owner_db.read() as s:
        found = await s.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE pid = ANY(:p)"), {"p": list(pids)}
        )
        return set(found)


async def test_concurrent_reads_share_a_bounded_set_of_connections_kept_open(
    two: Database, owner_db: Database
) -> None:
    first = set(await asyncio.gather(*(_backend(two) for _ in range(40))))
    later = set(await asyncio.gather(*(_backend(two) for _ in range(40))))
    assert 1 <= len(first) <= 2  # the engine's pool_size, whatever the demand
    assert later <= first  # the same backends again: nothing opened per request
    assert await _alive(owner_db, first) == first


async def test_a_read_whose_connection_died_while_idle_is_answered_on_another(
    two: Database, owner_db: Database
) -> None:
    pids = set(await asyncio.gather(*(_backend(two) for _ in range(8))))
    async with owner_db.transaction() as uow:
        for pid in pids:
            await uow.session.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    replaced = await _backend(two)  # no error: sent again on a fresh connection
    assert replaced not in pids


async def test_a_failing_statement_is_not_sent_twice_and_leaves_the_pool_usable(
    two: Database,
) -> None:
    boom = select(literal_column("1/0", JSONB))
    with pytest.raises(Exception, match="division by zero"):
        await fetch_one(two, boom, {}, tenant_id=SCOPE)
    assert await _backend(two) > 0


async def test_json_columns_decode_as_through_the_engine(two: Database) -> None:
    query = select(literal_column("""'{"a": [1, "b"]}'::jsonb""", JSONB))
    async with two.read() as s:
        expected = (await s.execute(query)).one()
    assert await fetch_one(two, query, {}, tenant_id=SCOPE) == tuple(expected) == ({"a": [1, "b"]},)


async def test_dispose_closes_the_pools_connections(
    owner_db: Database, app_database_url: str
) -> None:
    database = Database(app_database_url, pool_size=2, max_overflow=0)
    pid = await _backend(database)
    await database.dispose()
    for _ in range(50):  # the backend exits just after the client said goodbye
        if not await _alive(owner_db, {pid}):
            break
        await asyncio.sleep(0.02)
    assert not await _alive(owner_db, {pid})
    await pgpool.close(database)  # closing twice is harmless
