"""Database round trips per request, counted for ``vaxport bench`` (bench mode only).

A round trip is one wait for PostgreSQL's answer: one call into asyncpg's protocol
(``prepare``, ``bind_execute``, ``bind_execute_many``, ``query``, cursor ``bind`` and
``execute``, ``close_statement``, ``copy_in``/``copy_out``). Each of them sends its
messages and a single Sync, then waits for ReadyForQuery, so the count does not depend
on which layer issued the statement: the ORM, Core, raw asyncpg, SQLAlchemy's BEGIN and
COMMIT, ``set_config``. ``executemany`` is one round trip (asyncpg writes every Bind and
Execute, then one Sync); a prepare that misses SQLAlchemy's statement cache is one more.

asyncpg's own ``Connection.add_query_logger`` is not enough: it sees ``execute`` and
``executemany`` on the connection, not the prepared statements SQLAlchemy executes
(``PreparedStatement.fetch`` goes to the protocol directly; ``tests/core/test_roundtrips.py``
shows both). So :func:`install` puts a counting stand-in in front of each new
connection's protocol. Nothing here runs unless the app is in bench mode.

Counts are kept per request (a context variable set by the bench middleware in
``core/http/bench_probe.py``) and summed per ``(method, path)``. On demand, the
statements of one request are captured with their parameters rendered as SQL literals
(the bench turns them into a pgbench script).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
import weakref
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(slots=True)
class Trace:
    """One request's round trips (and its statements, when captured)."""

    round_trips: int = 0
    statements: int = 0
    exchanges: list[tuple[str, str, Any, list[Any]]] | None = None  # op, sql, types, rows


_TRACE: ContextVar[Trace | None] = ContextVar("vaxport_roundtrips", default=None)
_MAX_KEYS = 512  # distinct (method, path) pairs kept; the rest are summed under "<other>"


@dataclass
class _Capture:
    method: str
    path: str
    skip: int
    count: int
    seen: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)

    def wants(self, method: str, path: str) -> bool:
        return len(self.results) < self.count and (method, path) == (self.method, self.path)


class Counters:
    """Per-process sums by ``(method, path)`` and the one armed capture."""

    def __init__(self) -> None:
        self.enabled = False  # True once an engine is instrumented
        # (method, path) -> [requests, round trips, statements, requests without one]
        self.by_route: dict[tuple[str, str], list[int]] = {}
        self.capture: _Capture | None = None

    def start(self, method: str, path: str) -> Trace:
        trace = Trace()
        cap = self.capture
        if cap is not None and cap.wants(method, path):
            trace.exchanges = []
        return trace

    def finish(self, method: str, path: str, trace: Trace, status: int) -> None:
        key = (method, path)
        sums = self.by_route.get(key)
        if sums is None:
            if len(self.by_route) >= _MAX_KEYS:
                key = (method, "<other>")
            sums = self.by_route.setdefault(key, [0, 0, 0, 0])
        sums[0] += 1
        sums[1] += trace.round_trips
        sums[2] += trace.statements
        sums[3] += trace.round_trips == 0  # answered without the database (a cache hit)
        cap = self.capture
        if trace.exchanges is None or cap is None or not cap.wants(method, path):
            return
        if not 200 <= status < 300:
            return
        cap.seen += 1
        if cap.seen > cap.skip:
            cap.results.append(render(method, path, status, trace))

    def arm(self, method: str, path: str, skip: int, count: int = 2) -> None:
        """Capture the statements of ``count`` successful ``method path`` requests, after
        letting ``skip`` of them pass (warm caches)."""
        self.capture = _Capture(method, path, skip, count)

    def snapshot(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "routes": [
                {
                    "method": m,
                    "path": p,
                    "requests": r,
                    "round_trips": t,
                    "statements": s,
                    "without_round_trips": q,
                }
                for (m, p), (r, t, s, q) in self.by_route.items()
            ],
        }


COUNTERS = Counters()


def current() -> Trace | None:
    """This request's trace (None outside a counted request)."""
    return _TRACE.get()


def begin_request(trace: Trace) -> Any:
    """Make ``trace`` the current request's; returns the token for :func:`end_request`."""
    return _TRACE.set(trace)


def end_request(token: Any) -> None:
    _TRACE.reset(token)


def _note(op: str, sql: str, state: Any, rows: list[Any]) -> None:
    trace = _TRACE.get()
    if trace is None:
        return
    trace.round_trips += 1
    if op != "prepare":
        trace.statements += max(1, len(rows))
    if trace.exchanges is not None:
        types = None
        if state is not None:
            types = [(t.name, t.schema) for t in state._get_parameters()]
        trace.exchanges.append((op, sql, types, rows))


class CountingProtocol:
    """Stands in front of an asyncpg protocol; every method that waits for the server
    notes one round trip in the current request's trace, everything else passes through.
    """

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol, name)

    async def prepare(self, stmt_name: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        _note("prepare", query, None, [])
        return await self._protocol.prepare(stmt_name, query, *args, **kwargs)

    async def bind_execute(self, state: Any, args: Any, *rest: Any, **kwargs: Any) -> Any:
        _note("execute", state.query, state, [args])
        return await self._protocol.bind_execute(state, args, *rest, **kwargs)

    async def bind_execute_many(self, state: Any, args: Any, *rest: Any, **kwargs: Any) -> Any:
        rows = list(args)  # asyncpg takes any iterable; we need to count (and maybe keep) it
        _note("execute_many", state.query, state, rows)
        return await self._protocol.bind_execute_many(state, rows, *rest, **kwargs)

    async def bind(self, state: Any, args: Any, *rest: Any, **kwargs: Any) -> Any:
        _note("bind", state.query, state, [args])
        return await self._protocol.bind(state, args, *rest, **kwargs)

    async def execute(self, state: Any, *rest: Any, **kwargs: Any) -> Any:
        _note("cursor_execute", state.query, None, [])
        return await self._protocol.execute(state, *rest, **kwargs)

    async def query(self, query: str, *rest: Any, **kwargs: Any) -> Any:
        _note("query", query, None, [])
        return await self._protocol.query(query, *rest, **kwargs)

    async def close_statement(self, state: Any, *rest: Any, **kwargs: Any) -> Any:
        _note("close", "", None, [])
        return await self._protocol.close_statement(state, *rest, **kwargs)

    async def close_portal(self, *args: Any, **kwargs: Any) -> Any:
        _note("close", "", None, [])
        return await self._protocol.close_portal(*args, **kwargs)

    async def copy_in(self, *args: Any, **kwargs: Any) -> Any:
        _note("copy", "", None, [])
        return await self._protocol.copy_in(*args, **kwargs)

    async def copy_out(self, *args: Any, **kwargs: Any) -> Any:
        _note("copy", "", None, [])
        return await self._protocol.copy_out(*args, **kwargs)


def instrument(connection: Any) -> None:
    """Count the round trips of one asyncpg connection (idempotent)."""
    if not isinstance(connection._protocol, CountingProtocol):
        connection._protocol = CountingProtocol(connection._protocol)


_INSTRUMENTED: weakref.WeakSet[Any] = weakref.WeakSet()


def counts(engine: AsyncEngine) -> bool:
    """Whether :func:`install` instruments ``engine``."""
    return engine.sync_engine in _INSTRUMENTED


def install(engine: AsyncEngine) -> None:
    """Count every round trip of ``engine``'s PostgreSQL connections (bench mode only)."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "asyncpg":
        return
    COUNTERS.enabled = True
    _INSTRUMENTED.add(engine.sync_engine)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        instrument(dbapi_conn.driver_connection)


# -- capture: one request's statements with their parameters as SQL literals --------


def render(method: str, path: str, status: int, trace: Trace) -> dict[str, Any]:
    """The captured request as JSON: per exchange its SQL and its rows of parameters,
    each a literal cast to the parameter's type (``type``)."""
    exchanges = []
    for op, sql, types, rows in trace.exchanges or []:
        out_rows = []
        for row in rows:
            params = []
            for i, value in enumerate(row):
                name, schema = types[i] if types and i < len(types) else ("text", "pg_catalog")
                params.append({"literal": literal(value, name, schema), "type": name})
            out_rows.append(params)
        exchanges.append({"op": op, "sql": sql, "rows": out_rows})
    return {
        "method": method,
        "path": path,
        "status": status,
        "round_trips": trace.round_trips,
        "statements": trace.statements,
        "exchanges": exchanges,
    }


def _type_name(name: str, schema: str) -> str:
    """The type as a cast names it (built-in types unqualified)."""
    return name if schema == "pg_catalog" else f'"{schema}"."{name}"'


def literal(value: Any, type_name: str, schema: str = "pg_catalog") -> str:
    """``value`` as a SQL literal cast to its parameter's type.

    Colons are written as ``\\x3a`` in an escape string: pgbench reads ``:name`` as a
    variable even inside quotes.
    """
    if value is None:
        return "NULL"
    cast = _type_name(type_name, schema)
    text = _text(value, array=type_name.startswith("_"))
    if ":" in text or "\\" in text:
        body = text.replace("\\", "\\\\").replace("'", "''").replace(":", "\\x3a")
        return f"E'{body}'::{cast}"
    return "'" + text.replace("'", "''") + f"'::{cast}"


def _text(value: Any, *, array: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, int | float | decimal.Decimal | uuid.UUID | str):
        return str(value)
    if isinstance(value, list | tuple) and array:
        items = ("NULL" if v is None else _array_item(_text(v)) for v in value)
        return "{" + ",".join(items) + "}"
    return json.dumps(value, default=str)


def _array_item(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
