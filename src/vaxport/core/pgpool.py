"""Plain asyncpg connections for hot statements, beside SQLAlchemy's pool (PostgreSQL).

A hot read (``core.fastread``) is one autocommit statement: it needs a connection, not
a session. Taking one from SQLAlchemy's pool costs a greenlet hop both ways (checkout
events, the ``_ConnectionFairy``), and under load that pool's overflow connections are
opened and closed again request after request (``pool_size`` 10 + ``max_overflow`` 10
against 64 clients): a new PostgreSQL backend, the TLS probe and the startup exchange
each time, about a sixth of a hot read's CPU in the bench's profile. This pool is
asyncpg's own (``asyncpg.Pool``: a LIFO queue of connections, kept open):

- at most as many connections as the engine's ``pool_size``, opened on first use and
  kept until idle for ``max_inactive_connection_lifetime``; a caller beyond that waits
  for one (``POOL_TIMEOUT`` at most), nothing is opened and closed per request;
- the same connect arguments (from the URL, as SQLAlchemy's dialect reads them) and the
  same JSON codecs as the engine's connections (the dialect's own set-up), so a column
  read here decodes as it would through the engine;
- on release nothing is sent: asyncpg's default reset (``RESET ALL``, ``UNLISTEN``...)
  is a round trip, and the statements run here leave nothing behind (no transaction,
  settings local to their statement); a connection left in a transaction is rolled back;
- in bench mode its connections count their round trips like the engine's;
- bound to the event loop that made it: a call from another loop (tests) gets a pool of
  its own; :func:`close` (from ``Database.dispose``) closes it.

A statement that fails because the connection died (PostgreSQL restarted, a proxy
dropped it while idle) is the caller's to retry: :func:`connection_lost` says which.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]

from vaxport.core import roundtrips

if TYPE_CHECKING:
    from vaxport.core.db import Database

POOL_TIMEOUT = 30.0  # seconds a caller waits for a connection (SQLAlchemy's default)
IDLE_LIFETIME = 300.0  # seconds an unused connection stays open

_POOLS: weakref.WeakKeyDictionary[Database, tuple[asyncio.AbstractEventLoop, asyncpg.Pool]] = (
    weakref.WeakKeyDictionary()
)
_OPENING: weakref.WeakKeyDictionary[Database, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


@asynccontextmanager
async def connection(db: Database) -> AsyncIterator[Any]:
    """A connection of ``db``'s hot pool for one autocommit statement (PostgreSQL only)."""
    pool = await _pool(db)
    # Bounded by a timer, not ``acquire(timeout=)``: asyncpg then runs the wait through
    # ``wait_for``, a task of its own per acquisition (a tenth of a hot read's CPU).
    async with asyncio.timeout(POOL_TIMEOUT):
        conn = await pool.acquire()
    try:
        yield conn
    except BaseException as exc:
        if connection_lost(exc):
            # One dead connection usually means all of them (a restart, a failover): the
            # pool closes each on its release and opens fresh ones for the next callers.
            await pool.expire_connections()
        raise
    finally:
        await pool.release(conn)


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection died under the statement (safe to retry a read)."""
    return isinstance(
        exc,
        asyncpg.ConnectionDoesNotExistError
        | asyncpg.AdminShutdownError
        | asyncpg.CannotConnectNowError
        # The server's goodbye read while the connection was idle leaves the protocol
        # in a state the next statement trips over.
        | asyncpg.InternalClientError
        | ConnectionError,
    ) or (isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc))


async def close(db: Database) -> None:
    """Close ``db``'s hot pool, if it has one (its connections end at once)."""
    entry = _POOLS.pop(db, None)
    if entry is None:
        return
    loop, pool = entry
    if loop is asyncio.get_running_loop():
        await pool.close()
    else:
        pool.terminate()  # its loop is gone or elsewhere: no conversation to finish


async def _pool(db: Database) -> asyncpg.Pool:
    loop = asyncio.get_running_loop()
    entry = _POOLS.get(db)
    if entry is not None and entry[0] is loop:
        return entry[1]
    opening = _OPENING.get(db)
    if opening is None or opening[0] is not loop:
        opening = _OPENING[db] = (loop, asyncio.Lock())
    async with opening[1]:  # concurrent first calls make one pool
        entry = _POOLS.get(db)
        if entry is not None and entry[0] is loop:
            return entry[1]
        if entry is not None:
            entry[1].terminate()  # made on a loop that is no longer this one
        pool = await _create(db)
        _POOLS[db] = (loop, pool)
        return pool


async def _create(db: Database) -> asyncpg.Pool:
    engine = db.engine
    dialect: Any = engine.dialect
    _args, options = dialect.create_connect_args(engine.url)
    # The adapter's own options (statement cache naming) are not asyncpg.connect's.
    options.pop("prepared_statement_name_func", None)
    cache_size = options.pop("prepared_statement_cache_size", None)
    if cache_size is not None:
        options["statement_cache_size"] = cache_size
    counted = roundtrips.counts(engine)

    async def init(conn: asyncpg.Connection) -> None:
        adapted = _Adapted(conn)  # the dialect's codec set-up reads ``._connection``
        await dialect.setup_asyncpg_json_codec(adapted)
        await dialect.setup_asyncpg_jsonb_codec(adapted)
        if counted:
            roundtrips.instrument(conn)

    size = max(1, engine.pool.size())  # type: ignore[attr-defined]
    pool: asyncpg.Pool = await asyncpg.create_pool(
        min_size=0,
        max_size=size,
        max_inactive_connection_lifetime=IDLE_LIFETIME,
        init=init,
        reset=_reset,
        **options,
    )
    return pool


async def _reset(conn: asyncpg.Connection) -> None:
    if conn.is_in_transaction():  # not left by one statement; never hand it on in one
        await conn.execute("ROLLBACK")


class _Adapted:
    __slots__ = ("_connection",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._connection = conn
