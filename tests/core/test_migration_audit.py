"""Revision 0005 (audit log) upgrades and downgrades cleanly on a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tests.conftest import PG_URL, _create_pg_database, _drop_pg_database
from vaxport.core import migrate
from vaxport.core.db import Database


@pytest.fixture
async def fresh_db(tmp_path: Path) -> AsyncIterator[Database]:
    url = await _create_pg_database(PG_URL) if PG_URL else f"sqlite+aiosqlite:///{tmp_path}/m.db"
    database = Database(url, pool_size=2, max_overflow=0)
    yield database
    await database.dispose()
    if PG_URL:
        await _drop_pg_database(url)


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def _guards(db: Database) -> int:
    sql = (
        "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'audit_%') "
        "+ (SELECT count(*) FROM pg_proc WHERE proname = 'vaxport_append_only')"
        if db.is_postgres
        else "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
    )
    async with db.engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def test_audit_revision_upgrades_and_downgrades(fresh_db: Database) -> None:
    await migrate.upgrade(fresh_db, "0005")
    assert {"audit_entries", "audit_chain"} <= await _tables(fresh_db)
    assert await _guards(fresh_db) == (3 if fresh_db.is_postgres else 4)  # + the function

    await migrate.downgrade(fresh_db, "0001")
    assert await migrate.current(fresh_db) == "0001"
    assert not {"audit_entries", "audit_chain"} & await _tables(fresh_db)
    assert await _guards(fresh_db) == 0

    await migrate.upgrade(fresh_db, "0005")
    assert await migrate.current(fresh_db) == "0005"
