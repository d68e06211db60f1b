"""The unit of work: one transaction whichever way a use case writes (a batch on the
driver, the ORM session, or both), and a pooled connection handed back clean.

On PostgreSQL the transaction is begun on a pooled asyncpg connection and the ORM
session is made on it only when the use case asks for it; these tests hold the
guarantees that must not depend on which of the two wrote.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from sqlalchemy import Table, func, literal_column, select

from tests.conftest import PG_URL
from tests.core.outbox_support import count
from vaxport.core.db import Database, Rows, fetch_in, write_batch
from vaxport.core.outbox import OutboxEvent, emit, event_row

OUTBOX = cast(Table, OutboxEvent.__table__)
pg_only = pytest.mark.skipif(not PG_URL, reason="pooled server connections (PostgreSQL)")


async def _batch_event(uow: Any, n: int) -> None:
    await write_batch(uow, [Rows(OUTBOX, [event_row(uow, "test.thing", {"n": n})])])


async def test_batch_and_orm_rows_commit_together(clean_db: Database) -> None:
    async with clean_db.transaction(tenant_id=uuid.uuid4()) as uow:
        await _batch_event(uow, 1)
        await emit(uow, "test.thing", {"n": 2})  # through the ORM session
        await _batch_event(uow, 3)  # after the ORM's row, in the same transaction
    assert await count(clean_db, OutboxEvent) == 3


@pytest.mark.parametrize("orm_too", [False, True], ids=["batch only", "batch and ORM"])
async def test_a_failed_use_case_leaves_none_of_its_rows(clean_db: Database, orm_too: bool) -> None:
    async def use_case() -> None:
        async with clean_db.transaction(tenant_id=uuid.uuid4()) as uow:
            await _batch_event(uow, 1)
            if orm_too:
                await emit(uow, "test.thing", {"n": 2})
                await uow.session.flush()
            raise RuntimeError("use case failed")

    with pytest.raises(RuntimeError):
        await use_case()
    assert await count(clean_db, OutboxEvent) == 0


async def test_after_commit_hooks_run_only_once_committed(clean_db: Database) -> None:
    ran: list[str] = []

    async def hook() -> None:
        ran.append("after")

    async with clean_db.transaction(tenant_id=uuid.uuid4()) as uow:
        uow.after_commit(hook)
        await _batch_event(uow, 1)
        assert ran == []
    assert ran == ["after"]

    async def rolled_back() -> None:
        async with clean_db.transaction(tenant_id=uuid.uuid4()) as uow:
            uow.after_commit(hook)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await rolled_back()
    assert ran == ["after"]


@pytest.fixture
async def one_connection(app_database_url: str) -> AsyncIterator[Database]:
    database = Database(app_database_url, pool_size=1, max_overflow=0)
    yield database
    await database.dispose()


_STATE = select(
    literal_column("pg_current_xact_id_if_assigned()::text").label("xid"),
    literal_column("current_setting('vaxport.tenant', true)").label("tenant"),
)


@pg_only
async def test_the_next_user_of_a_connection_inherits_no_transaction_and_no_tenant(
    one_connection: Database, clean_db: Database
) -> None:
    tenant = uuid.uuid4()

    async def failing() -> None:
        async with one_connection.transaction(tenant_id=tenant) as uow:
            await _batch_event(uow, 1)  # a write: the transaction has an id now
            raise RuntimeError("use case failed")

    with pytest.raises(RuntimeError):
        await failing()
    async with one_connection.transaction(tenant_id=tenant) as uow:
        await _batch_event(uow, 2)
    async with one_connection.transaction() as uow:  # the same (only) connection
        [(xid, scope)] = await fetch_in(uow, _STATE)
    assert xid is None  # a transaction of its own, nothing written in it yet
    assert scope in (None, "")  # the last tenant's scope ended with its transaction
    assert await count(clean_db, OutboxEvent) == 1


@pg_only
async def test_a_cancelled_use_case_does_not_poison_the_pool(
    one_connection: Database, clean_db: Database
) -> None:
    sleeping = select(literal_column("pg_sleep(30)::text").label("slept"))

    async def slow() -> None:
        async with one_connection.transaction(tenant_id=uuid.uuid4()) as uow:
            await _batch_event(uow, 1)
            await fetch_in(uow, sleeping)

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(10):  # not stuck behind the sleeping statement
        async with one_connection.transaction(tenant_id=uuid.uuid4()) as uow:
            [(xid, _scope)] = await fetch_in(uow, _STATE)
    assert xid is None
    assert await count(clean_db, OutboxEvent) == 0  # the cancelled one's row is gone


@pg_only
async def test_surplus_connections_are_closed_cleanly(
    app_database_url: str, clean_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A pool holding its share of idle connections closes the ones handed back beyond it
    (which awaits the driver): properly, not left for the garbage collector."""
    database = Database(app_database_url, pool_size=1, max_overflow=3)
    pause = select(func.pg_sleep(0.2).label("slept"))

    async def use_case(n: int) -> None:
        async with database.transaction(tenant_id=uuid.uuid4()) as uow:
            await _batch_event(uow, n)
            await fetch_in(uow, pause)

    try:
        with caplog.at_level(logging.WARNING, logger="sqlalchemy"):
            await asyncio.gather(*(use_case(n) for n in range(4)))
        pool: Any = database.engine.pool
        assert (pool.checkedout(), pool.checkedin()) == (0, 1)  # three closed
        assert [r.getMessage() for r in caplog.records] == []
    finally:
        await database.dispose()
    assert await count(clean_db, OutboxEvent) == 4
