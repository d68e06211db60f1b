"""Revision 0002 upgrades (backfilling tenant summaries) and downgrades cleanly."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.db import Database


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_upgrade_backfills_tenant_summaries_and_downgrade_removes_them(
    empty_db: Database,
) -> None:
    await migrate.upgrade(empty_db, "0001", metadata=METADATA)
    tenant_id = uuid.uuid4()
    config = {
        "name": {"en": "Demoland", "fr": "Démolande"},
        "default_locale": "en",
        "locales": ["en", "fr"],
    }
    tenants = sa.table(
        "tenants",
        sa.column("id", sa.Uuid()),
        sa.column("code", sa.String()),
        sa.column("name", sa.String()),
        sa.column("config", sa.JSON()),
        sa.column("config_version", sa.Integer()),
        sa.column("config_hash", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    async with empty_db.engine.begin() as conn:
        await conn.execute(
            tenants.insert().values(
                id=tenant_id,
                code="demo",
                name="Demoland",
                config=config,
                config_version=1,
                config_hash="0" * 64,
                created_at=sa.func.now(),
                updated_at=sa.func.now(),
            )
        )

    await migrate.upgrade(empty_db, "0002", metadata=METADATA)
    assert "regions" in await _tables(empty_db)
    async with empty_db.engine.connect() as conn:
        row = (
            await conn.execute(sa.text("SELECT names, default_locale, locales FROM tenants"))
        ).one()
    names, default, locales = row
    if isinstance(names, str):  # SQLite hands back JSON text through a raw query
        import json

        names, locales = json.loads(names), json.loads(locales)
    assert (names, default, locales) == (config["name"], "en", ["en", "fr"])

    await migrate.downgrade(empty_db, "0001")
    assert "regions" not in await _tables(empty_db)
    async with empty_db.engine.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in sa.inspect(c).get_columns("tenants")}
        )
    assert not {"names", "default_locale", "locales"} & columns
    await migrate.upgrade(empty_db, "head", metadata=METADATA)
    assert await migrate.current(empty_db) == migrate.head()
