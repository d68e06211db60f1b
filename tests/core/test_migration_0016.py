"""Migration 0016 adds the scoped-read function on PostgreSQL, and takes it away going down.

(On SQLite it does nothing; ``test_migrations.py`` takes it down and up on both backends.)
"""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import requires_postgres
from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.db import Database

_FOUND = "SELECT count(*) FROM pg_proc WHERE proname = 'vaxport_scoped_rows'"


async def _functions(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text(_FOUND))).scalar_one())


@requires_postgres
async def test_0016_creates_the_scoped_read_function_and_drops_it_going_down(
    empty_db: Database,
) -> None:
    await migrate.upgrade(empty_db, "0016_scoped_read_function", metadata=METADATA)
    assert await _functions(empty_db) == 1
    await migrate.downgrade(empty_db, "0015_lookalike_index")
    assert await _functions(empty_db) == 0
    await migrate.upgrade(empty_db, "head", metadata=METADATA)
    assert await _functions(empty_db) == 1
