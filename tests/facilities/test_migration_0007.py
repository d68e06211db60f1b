"""Revision 0007 (facilities) upgrades and downgrades cleanly, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.db import Database

TABLES = {"facilities", "facility_vaccines"}


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_upgrade_creates_the_tables_and_downgrade_drops_them(empty_db: Database) -> None:
    await migrate.upgrade(empty_db, "0007", metadata=METADATA)
    assert await _tables(empty_db) >= TABLES
    async with empty_db.engine.connect() as conn:
        indexes = await conn.run_sync(
            lambda c: {i["name"] for i in sa.inspect(c).get_indexes("facilities")}
        )
    assert {"ix_facilities_tenant_id_uz", "ix_facilities_tenant_id_region_code"} <= indexes
    await migrate.downgrade(empty_db, "0006")
    assert not TABLES & await _tables(empty_db)
    await migrate.upgrade(empty_db, "head", metadata=METADATA)
    assert await _tables(empty_db) >= TABLES


@pytest.mark.skipif(not PG_URL, reason="row-level security exists only on PostgreSQL")
async def test_both_tables_are_under_row_level_security(empty_db: Database) -> None:
    await migrate.upgrade(empty_db, metadata=METADATA)
    async with empty_db.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relname IN ('facilities', 'facility_vaccines')"
                )
            )
        ).all()
    assert sorted(rows) == [("facilities", True, True), ("facility_vaccines", True, True)]
