"""Migration 0003 (outbox events, idempotency keys) upgrades and downgrades cleanly."""

from __future__ import annotations

from sqlalchemy import inspect

from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.db import Database


async def _tables_and_indexes(db: Database) -> tuple[set[str], set[str]]:
    def read(conn):  # type: ignore[no-untyped-def]
        insp = inspect(conn)
        tables = set(insp.get_table_names())
        indexes = {
            ix["name"]
            for t in tables & {"outbox_events", "idempotency_keys"}
            for ix in insp.get_indexes(t)
        }
        return tables, indexes

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def test_0003_upgrade_then_downgrade(empty_db: Database) -> None:
    await migrate.upgrade(empty_db, "0003", metadata=METADATA)
    tables, indexes = await _tables_and_indexes(empty_db)
    assert {"outbox_events", "idempotency_keys"} <= tables
    assert {
        "ix_outbox_events_due",
        "ix_outbox_events_delivered",
        "ix_outbox_events_dead",
        "ix_idempotency_keys_expires_at",
    } <= indexes

    await migrate.downgrade(empty_db, "-1")
    tables, _ = await _tables_and_indexes(empty_db)
    assert not tables & {"outbox_events", "idempotency_keys"}
    assert "tenants" in tables  # the revision below is untouched

    await migrate.upgrade(empty_db, "head", metadata=METADATA)
    tables, _ = await _tables_and_indexes(empty_db)
    assert {"outbox_events", "idempotency_keys"} <= tables
