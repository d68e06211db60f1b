"""Pooled PostgreSQL connections: checked only after a pause, replaced when dead."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from tests.conftest import PG_URL
from vaxport.core import db as core_db
from vaxport.core.db import Database

pytestmark = pytest.mark.skipif(not PG_URL, reason="a pool of server connections (PostgreSQL)")


@pytest.fixture
async def pool(app_database_url: str) -> AsyncIterator[Database]:
    database = Database(app_database_url, pool_size=1, max_overflow=0)
    yield database
    await database.dispose()


async def _backend(database: Database) -> int:
    async with database.read() as s:
        return int(await s.scalar(text("SELECT pg_backend_pid()")) or 0)


async def test_a_connection_killed_while_idle_is_replaced_before_use(
    pool: Database, owner_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await _backend(pool)
    async with owner_db.transaction() as uow:
        await uow.session.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
    monkeypatch.setattr(core_db, "IDLE_PING_SECONDS", 0.0)  # "idle long enough"
    second = await _backend(pool)  # no error: the check found it dead, a new one serves
    assert second != first


async def test_a_connection_used_moments_ago_is_not_checked(
    pool: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    dialect = pool.engine.sync_engine.dialect
    real = dialect.do_ping

    def counting(conn: object) -> bool:
        pings.append(conn)
        return real(conn)

    monkeypatch.setattr(dialect, "do_ping", counting)
    await _backend(pool)
    await _backend(pool)
    assert pings == []  # new, then reused at once: no round trips spent on checks
    monkeypatch.setattr(core_db, "IDLE_PING_SECONDS", 0.0)
    await _backend(pool)
    assert len(pings) == 1
