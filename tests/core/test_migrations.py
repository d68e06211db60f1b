"""The schema is built only by migrations: one linear history, reversible, matching the models."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.db import Database


def test_history_is_linear_with_one_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None
    assert all(not isinstance(r.down_revision, tuple) for r in revisions)


async def test_empty_to_head_then_last_one_down_and_up_again(empty_db: Database) -> None:
    assert await migrate.current(empty_db) is None
    await migrate.upgrade(empty_db, metadata=METADATA)
    head = migrate.head()
    assert await migrate.current(empty_db) == head
    script = ScriptDirectory.from_config(migrate.alembic_config())
    previous = script.get_revision(head).down_revision
    await migrate.downgrade(empty_db, "-1")
    assert await migrate.current(empty_db) == previous
    await migrate.upgrade(empty_db, metadata=METADATA)
    assert await migrate.current(empty_db) == head


async def test_migrated_schema_matches_the_models(empty_db: Database) -> None:
    await migrate.upgrade(empty_db, metadata=METADATA)

    def diff(sync_conn: Any) -> list[Any]:
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": False})
        return list(compare_metadata(ctx, METADATA))

    async with empty_db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []
