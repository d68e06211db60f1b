"""Hot reads of one row off the ORM: a prebuilt Core statement on the asyncpg connection.

A read through :meth:`Database.read` and the ORM costs four round trips (BEGIN, the
tenant scope, the SELECT, ROLLBACK) and about 2 ms of server CPU for one row: the
session, the greenlet bridge, per-statement execution setup and ORM loading, most of it
for what a hot read by primary key never uses. :func:`fetch_one` keeps the guarantees
and drops the rest:

- the statement is compiled once per process (per statement object) and asyncpg prepares
  it once per connection (its own statement cache);
- ``BEGIN READ ONLY`` and ``set_config('vaxport.tenant', ...)`` go in one message, so
  row-level security scopes the read exactly as ``Database.read(tenant_id=...)`` does;
  the transaction always ends in ROLLBACK: three round trips, one of them the query;
- values pass through the columns' own result processing (UTC datetimes, ciphertext
  bytes); encrypted fields are opened by the caller with ``core.crypto.open_column``.

SQLite (embedded mode) runs the same statement through :meth:`Database.read`. Use it for
reads on the hot path that need no ORM object; anything that writes, or walks
relationships, stays on the unit of work.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.util import greenlet_spawn

from vaxport.core.db import Database, begin_script

Processor = Callable[[Any], Any] | None


async def fetch_one(
    db: Database, query: Select[Any], params: Mapping[str, Any], *, tenant_id: uuid.UUID
) -> tuple[Any, ...] | None:
    """The first row of ``query`` (its selected columns, in order) read in ``tenant_id``'s
    scope, or None. ``params`` fill the query's ``bindparam`` names."""
    if not db.is_postgres:
        async with db.read(tenant_id=tenant_id) as session:
            found = (await session.execute(query, dict(params))).first()
        return tuple(found) if found is not None else None
    sql, names, binds, results = _prepared(query, db.engine.dialect)
    args = [params[n] if (p := binds[i]) is None else p(params[n]) for i, n in enumerate(names)]
    raw = await db.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        await driver.execute(begin_script(tenant_id, read_only=True))
        try:
            record = await driver.fetchrow(sql, *args)
        finally:
            await driver.execute("ROLLBACK")
    except BaseException:
        # Cancelled or failed mid-conversation: the pool must not hand this one out again.
        await greenlet_spawn(raw.invalidate)
        raise
    finally:
        await greenlet_spawn(raw.close)
    if record is None:
        return None
    return tuple(v if p is None else p(v) for v, p in zip(record, results, strict=True))


@functools.lru_cache(maxsize=256)
def _prepared(
    query: Select[Any], dialect: Dialect
) -> tuple[str, tuple[str, ...], tuple[Processor, ...], tuple[Processor, ...]]:
    """The statement's PostgreSQL text, its parameter names in order, their bind
    processors and the selected columns' result processors (computed once)."""
    compiled: Any = query.compile(dialect=dialect)
    names = tuple(compiled.positiontup)
    binds = tuple(compiled._bind_processors.get(n) for n in names)
    results = tuple(c.type._cached_result_processor(dialect, None) for c in query.selected_columns)
    return str(compiled), names, binds, results
