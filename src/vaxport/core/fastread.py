"""Hot reads of one row off the ORM: a prebuilt Core statement on the asyncpg connection.

A read through :meth:`Database.read` and the ORM costs four round trips (BEGIN, the
tenant scope, the SELECT, ROLLBACK) and about 2 ms of server CPU for one row: the
session, the greenlet bridge, per-statement execution setup and ORM loading, most of it
for what a hot read by primary key never uses. :func:`fetch_one` keeps the guarantees
and drops the rest, in ONE round trip:

- the query goes through ``vaxport_scoped_rows(tenant, query, args)`` (migration 0016),
  which sets ``vaxport.tenant`` locally, then runs the query, so row-level security
  scopes it exactly as ``Database.read(tenant_id=...)`` does. A ``set_config`` in the
  query itself would not do: it and the policies' ``current_setting`` run in no
  specified order within one statement. It runs as one autocommit statement, so the
  local setting ends with it and nothing lingers on the pooled connection; the function
  is STABLE, so PostgreSQL refuses any write in it (as ``BEGIN READ ONLY`` did);
- the outer statement is compiled once per process (per statement object) and asyncpg
  prepares it once per connection (its own statement cache); the inner query is planned
  per call (dynamic SQL: planned after the scope is set);
- the connection comes from the database's hot pool (``core.pgpool``: asyncpg's pool,
  kept open, no greenlet hop, nothing sent on release), not SQLAlchemy's; a read whose
  connection turns out dead is sent once more on another;
- parameters travel as text (``args``, cast back to their column types in the query):
  UUIDs, strings, numbers, booleans, dates and times, or None;
- values pass through the columns' own result processing (UTC datetimes, ciphertext
  bytes); encrypted fields are opened by the caller with ``core.crypto.open_column``.

SQLite (embedded mode) runs the same statement through :meth:`Database.read`. Use it for
reads on the hot path that need no ORM object; anything that writes, or walks
relationships, stays on the unit of work.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect

from vaxport.core import pgpool
from vaxport.core.db import Database

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
    if not isinstance(tenant_id, uuid.UUID):
        raise TypeError("tenant_id must be a UUID")
    args = [
        _as_text(params[n] if (p := binds[i]) is None else p(params[n]))
        for i, n in enumerate(names)
    ]
    try:
        async with pgpool.connection(db) as conn:
            record = await conn.fetchrow(sql, tenant_id, args)
    except Exception as exc:
        if not pgpool.connection_lost(exc):
            raise
        # Dead since its last use (a restart, an idle cut): a read is safe to send again.
        async with pgpool.connection(db) as conn:
            record = await conn.fetchrow(sql, tenant_id, args)
    if record is None:
        return None
    return tuple(v if p is None else p(v) for v, p in zip(record, results, strict=True))


_TEXT_FORM = (int, float, decimal.Decimal, uuid.UUID, dt.date, dt.time)
_PLACEHOLDER = re.compile(r"(?<![\w$])\$(\d+)\b")


def _as_text(value: Any) -> str | None:
    """A parameter in the text form PostgreSQL reads back with a cast to its type."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _TEXT_FORM):  # datetimes are dates; their str() is ISO 8601
        return str(value)
    raise TypeError(f"fetch_one cannot pass a {type(value).__name__} parameter")


def _literal(sql: str) -> str:
    return "'" + sql.replace("'", "''") + "'"


@functools.lru_cache(maxsize=256)
def _prepared(
    query: Select[Any], dialect: Dialect
) -> tuple[str, tuple[str, ...], tuple[Processor, ...], tuple[Processor, ...]]:
    """The scoped statement's PostgreSQL text, the query's parameter names in order, their
    bind processors and the selected columns' result processors (computed once).

    The statement is ``SELECT * FROM vaxport_scoped_rows($1, '<query>', $2) AS r(...)``:
    the query's own ``$n`` become ``($1)[n]`` cast to the parameter's type (``$1`` is the
    text array inside the function), and the column list names the selected columns'
    types, which the function's ``SETOF record`` needs.
    """
    compiled: Any = query.compile(dialect=dialect)
    names = tuple(compiled.positiontup)
    binds = tuple(compiled._bind_processors.get(n) for n in names)
    results = tuple(c.type._cached_result_processor(dialect, None) for c in query.selected_columns)
    types = [compiled.binds[n].type.compile(dialect=dialect) for n in names]
    inner = _PLACEHOLDER.sub(
        lambda m: f"(($1)[{m.group(1)}])::{types[int(m.group(1)) - 1]}", str(compiled)
    )
    columns = ", ".join(
        f"c{i} {c.type.compile(dialect=dialect)}" for i, c in enumerate(query.selected_columns)
    )
    # The query is our compiled statement (values travel in $2), quoted as a literal.
    scoped = f"vaxport_scoped_rows($1::uuid, {_literal(inner)}, $2::text[])"
    sql = f"SELECT * FROM {scoped} AS r({columns})"  # noqa: S608
    return sql, names, binds, results
