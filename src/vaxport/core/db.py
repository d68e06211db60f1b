"""Database engine, declarative base and the unit of work.

The unit of work is the only place that commits (``.commit()`` appears only here). A use
case opens one with :meth:`Database.transaction`; it commits when the block ends without
an exception and rolls back otherwise, then runs the after-commit hooks (side effects
happen only once the data is durable). Read-only use cases use :meth:`Database.read`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import JSON, DateTime, MetaData, Select, Table, Uuid, event, insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util.concurrency import greenlet_spawn

if TYPE_CHECKING:
    from vaxport.core.crypto.keyring import KeySession
    from vaxport.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no time zones; without this, values read back would be naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONDoc = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base for every table of every context."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), uuid.UUID: Uuid()}


AfterCommit = Callable[[], Awaitable[None]]
T = TypeVar("T")
_SCOPE = "SELECT set_config('vaxport.tenant', $1, true)"


class UnitOfWork:
    """One transaction of one use case: its connection, the ORM session on it, and hooks
    to run after commit.

    On PostgreSQL the transaction is begun on a pooled asyncpg connection (``BEGIN`` and the
    tenant scope in one message) and the ORM session is made on that same connection the
    first time the use case asks for it (:attr:`session`): a use case that reads with
    :func:`fetch_in`, seals with :meth:`run_sync` and writes with :func:`write_batch`
    never pays for the ORM's session, its connection and commit machinery or the
    greenlet bridge around them (~0.3 ms of CPU a transaction). Elsewhere (SQLite) the
    session holds the transaction from the start.
    """

    __slots__ = (
        "_after_commit",
        "_conn",
        "_driver",
        "_engine",
        "_keys",
        "_pooled",
        "_session",
        "_sync",
        "dialect",
        "tenant_id",
    )

    def __init__(
        self,
        tenant_id: uuid.UUID | None,
        *,
        session: AsyncSession | None = None,
        engine: AsyncEngine | None = None,
        pooled: Any = None,
    ) -> None:
        self.tenant_id = tenant_id
        self._after_commit: list[AfterCommit] = []
        self._session = session
        self._engine = engine
        self._pooled = pooled  # the pool's connection (PostgreSQL), begun
        self._driver: Any = pooled.driver_connection if pooled is not None else None
        self._conn: Connection | None = None  # SQLAlchemy's connection on it, when needed
        self._sync: Session | None = None
        self._keys: TxKeys | None = None  # the keyring's view of it, while no ORM session
        bind: Any = engine if engine is not None else session.get_bind() if session else None
        self.dialect: Dialect = bind.dialect

    @property
    def session(self) -> AsyncSession:
        """The ORM session of this transaction (made on its connection on first use)."""
        if self._session is None:
            sync = self._sync_session()
            self._session = AsyncSession(sync_session_class=cast(Any, lambda **_kw: sync))
        return self._session

    async def run_sync(self, fn: Callable[[KeySession], T]) -> T:
        """``fn(keys)`` with what the crypto keyring needs of this transaction, inside the
        greenlet that lets it run statements (the keyring's key lookups on a cache miss).

        ``keys`` is the ORM session when the use case has one (always on SQLite), else a
        :class:`TxKeys`: the keys this transaction created kept on it, a connection made
        only when a key is not cached. Sealing a registration's rows with warm caches so
        makes no ``Session`` nor ``Connection`` (3-4% of its CPU when it did)."""
        if self._session is not None:
            return await self._session.run_sync(fn)
        if self._keys is None:
            self._keys = TxKeys(self)
        return await greenlet_spawn(fn, self._keys)

    async def driver(self) -> Any:
        """The transaction's asyncpg connection (PostgreSQL), the ORM's pending rows flushed."""
        session = self._session
        if session is not None and (session.new or session.dirty or session.deleted):
            await session.flush()  # the ORM's pending rows first: ours may point at them
        if self._driver is None:
            raise RuntimeError("the driver's connection is PostgreSQL's unit of work's only")
        return self._driver

    async def enter_tenant(self, tenant_id: uuid.UUID) -> None:
        """Scope the rest of this transaction to ``tenant_id``.

        For use cases that learn their tenant inside the transaction (creating a tenant,
        a worker handling one tenant's event); PostgreSQL RLS then admits its rows.
        """
        self.tenant_id = tenant_id
        if self._driver is not None:
            await self._driver.execute(_SCOPE, str(tenant_id))
        else:
            await set_tenant_scope(self.session, tenant_id)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A savepoint: what runs inside is undone alone when it raises (the ORM's rows made
        inside forgotten too), the transaction going on.

        The ORM sends its ``SAVEPOINT`` only when it next uses the connection; the raw
        statements (``write_batch``, ``fetch_in``) share that connection without it, so the
        savepoint is sent here, before anything inside runs.
        """
        session = self.session
        async with session.begin_nested():
            await session.connection()
            yield

    def after_commit(self, hook: AfterCommit) -> None:
        """Run ``hook`` once the transaction is durable (never if it rolls back)."""
        self._after_commit.append(hook)

    @property
    def bind(self) -> Engine | Connection:
        """What the crypto caches key on (its engine's database); never connects."""
        if self._engine is not None:
            return self._engine.sync_engine
        assert self._session is not None
        return self._session.get_bind()

    def _sync_connection(self) -> Connection:
        if self._conn is None:
            assert self._engine is not None
            self._conn = Connection(self._engine.sync_engine, connection=self._pooled)
        return self._conn

    def _sync_session(self) -> Session:
        if self._sync is None:
            # What the keyring kept so far goes on with the session (the same dictionary
            # of this transaction's new keys, the same list of sealed objects); from now on
            # run_sync hands out the session.
            info = self._keys.info if self._keys is not None else None
            self._sync = Session(bind=self._sync_connection(), expire_on_commit=False, info=info)
        return self._sync

    async def _commit(self) -> None:
        sync = self._sync
        if sync is not None and (sync.new or sync.dirty or sync.deleted):
            await greenlet_spawn(sync.commit)  # flushes (sealing new rows), then COMMIT
        if self._pooled.dbapi_connection._transaction is None:
            return
        try:
            await self._driver.execute("COMMIT")
        except _asyncpg_integrity() as exc:
            raise IntegrityError(str(exc), None, exc) from None
        finally:
            self._pooled.dbapi_connection._transaction = None

    async def _rollback(self) -> None:
        """Roll back; a connection in an unknown state is closed, never pooled again."""
        adapted = self._pooled.dbapi_connection
        try:
            if self._sync is not None:
                # The ORM's state too (new rows get their plaintext back to seal again).
                await greenlet_spawn(self._sync.rollback)
            elif self._keys is not None:
                self._keys.rolled_back()
            if adapted._transaction is not None:
                try:
                    await self._driver.execute("ROLLBACK")
                finally:
                    adapted._transaction = None
        except BaseException:
            await self._discard()
            raise

    async def _release(self) -> None:
        """Give the connection back to the pool (its transaction has ended).

        In the greenlet: a pool already holding enough idle connections closes this one,
        which awaits the driver."""
        if self._pooled.dbapi_connection is None:
            return  # discarded
        self._pooled.dbapi_connection._transaction = None
        try:
            await greenlet_spawn(self._close)
        except Exception:
            await self._discard()
            raise

    def _close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        if self._conn is not None:
            self._conn.close()
        else:
            self._pooled.close()

    async def _discard(self) -> None:
        """Close the connection for good (the pool opens another in its place)."""
        if self._pooled.dbapi_connection is not None:
            await greenlet_spawn(self._pooled.invalidate)


class TxKeys:
    """What the crypto keyring needs of a PostgreSQL unit of work that has no ORM session
    (:class:`vaxport.core.crypto.keyring.KeySession`): a dictionary living as long as the
    transaction (the keys it created, the objects it sealed), the engine the key caches
    are namespaced by, and the transaction's connection, made only when asked for (a key
    not cached: the keyring then reads or creates it in this transaction)."""

    __slots__ = ("_uow", "info")

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self.info: dict[Any, Any] = {}

    def get_bind(self) -> Engine:
        assert self._uow._engine is not None
        return self._uow._engine.sync_engine

    def connection(self) -> Connection:
        return self._uow._sync_connection()

    def rolled_back(self) -> None:
        """The transaction rolled back: forget its keys and unseal its sealed objects, as
        the ORM session's rollback does (a retry seals them again, under keys that exist)."""
        from vaxport.core.crypto.orm import forget_transaction

        forget_transaction(self.info)


class Database:
    """The engine and the two ways into it: a writing and a reading unit of work."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        echo: bool = False,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow)
            # asyncpg keeps prepared statements of up to 15 KiB of text by default: a
            # batch's statement (write_batch: 50 doses, their events and audit entries)
            # is larger, and was prepared again at every use, a round trip and a parse.
            kwargs["connect_args"] = {"max_cacheable_statement_size": 256 * 1024}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _ping_when_idle(self.engine)
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader = async_sessionmaker(
            self.engine.execution_options(vaxport_readonly=True), expire_on_commit=False
        )

    async def dispose(self) -> None:
        """Close every pooled connection (the hot reads' pool too: ``core.pgpool``)."""
        from vaxport.core import pgpool

        await pgpool.close(self)
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self, *, tenant_id: uuid.UUID | None = None) -> AsyncIterator[UnitOfWork]:
        """A writing unit of work: commits on success, rolls back on any exception."""
        if not self.is_postgres:
            async with self._writer() as session:
                uow = UnitOfWork(tenant_id, session=session)
                await self._scope(session, tenant_id)
                try:
                    yield uow
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        else:
            uow = UnitOfWork(tenant_id, engine=self.engine, pooled=await self._begun(tenant_id))
            try:
                yield uow
                await uow._commit()
            except BaseException:
                await uow._rollback()
                raise
            finally:
                await uow._release()
        for hook in uow._after_commit:
            await hook()

    async def _begun(self, tenant_id: uuid.UUID | None) -> Any:
        """A pooled connection with its transaction begun (and scoped to ``tenant_id``):
        one message, one round trip. The dialect's adapter sees the transaction as begun,
        so an ORM session made on it later runs in it and commits it."""
        pooled: Any = await greenlet_spawn(self.engine.sync_engine.pool.connect)
        try:
            await pooled.driver_connection.execute(begin_script(tenant_id))
        except BaseException:
            # The connection's state is unknown: the pool must not hand it out again.
            await greenlet_spawn(pooled.invalidate)  # and back to the pool, to reconnect
            raise
        pooled.dbapi_connection._transaction = _BegunTransaction(pooled.driver_connection)
        return pooled

    @asynccontextmanager
    async def read(self, *, tenant_id: uuid.UUID | None = None) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work: always rolled back."""
        async with self._reader() as session:
            await self._scope(session, tenant_id)
            try:
                yield session
            finally:
                await session.rollback()

    async def _scope(self, session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
        if tenant_id is None:
            return
        if self.is_postgres:
            # BEGIN and the tenant scope in one round trip instead of two.
            await _begin_on_driver(session, tenant_id)
        else:
            await set_tenant_scope(session, tenant_id)


async def serialize_on(session: AsyncSession, scope: str, key: bytes) -> None:
    """Queue this transaction behind any other holding (``scope``, ``key``) until it ends.

    PostgreSQL: a transaction-scoped advisory lock on a 64-bit hash of the pair (for
    rows another context owns, or that do not exist yet). SQLite: writers already queue
    at BEGIN IMMEDIATE, so nothing is needed.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(scope.encode() + b"\x00" + key).digest()
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:k)"),
        {"k": int.from_bytes(digest[:8], "big", signed=True)},
    )


async def set_tenant_scope(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Set the transaction-local tenant that PostgreSQL row-level security filters on.

    The second wall behind the application's own scoping; ``set_config(..., true)`` has
    SET LOCAL semantics, so it ends with the transaction and never leaks across the pool.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT set_config('vaxport.tenant', :t, true)"), {"t": str(tenant_id)}
        )


class _BegunTransaction:
    """A transaction begun on the asyncpg connection itself, as the dialect sees it.

    SQLAlchemy's asyncpg adapter sends ``BEGIN`` on its own before the first statement
    (a round trip) and commits or rolls back through the object in its ``_transaction``
    slot; this object takes that slot after :func:`_begin_on_driver` sent ``BEGIN`` with
    the tenant scope in one simple-protocol message.
    """

    __slots__ = ("_driver",)

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    async def commit(self) -> None:
        await self._driver.execute("COMMIT")

    async def rollback(self) -> None:
        await self._driver.execute("ROLLBACK")


async def _driver_of(session: AsyncSession) -> tuple[Any, Any]:
    """(the dialect's adapted connection, the asyncpg connection) of ``session``."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.dbapi_connection, raw.driver_connection


def begin_script(tenant_id: uuid.UUID | None) -> str:
    """``BEGIN`` and the tenant scope as one simple-query message (one round trip).

    The tenant id must be a :class:`uuid.UUID`: its text form is safe to send as a literal.
    """
    if tenant_id is None:
        return "BEGIN"
    if not isinstance(tenant_id, uuid.UUID):
        raise TypeError("tenant_id must be a UUID")
    return f"BEGIN; SELECT set_config('vaxport.tenant', '{tenant_id}', true)"


async def _begin_on_driver(session: AsyncSession, tenant_id: uuid.UUID | None) -> Any:
    """Begin ``session``'s PostgreSQL transaction (scoped to ``tenant_id``) unless begun; the
    asyncpg connection.

    One message, one round trip: ``BEGIN; SELECT set_config('vaxport.tenant', ..., true)``.
    The tenant id is a :class:`uuid.UUID`, whose text form is safe to send as a literal.
    """
    adapted, driver = await _driver_of(session)
    if adapted._transaction is not None:
        if tenant_id is not None:
            await set_tenant_scope(session, tenant_id)
        return driver
    try:
        await driver.execute(begin_script(tenant_id))
    except BaseException:
        # The connection's state is unknown: the pool must not hand it out again.
        await (await session.connection()).invalidate()
        raise
    adapted._transaction = _BegunTransaction(driver)
    return driver


# A pooled connection unused for longer than this is checked before it is handed out.
IDLE_PING_SECONDS = 10.0
_IDLE_SINCE = "vaxport.idle_since"


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only when it sat idle for a while.

    SQLAlchemy's ``pool_pre_ping`` checks every checkout, and on asyncpg a check is
    three round trips (BEGIN, ``;``, ROLLBACK): a third of a registration's. Connections
    die when the server restarts or a proxy drops idle ones, i.e. after a pause, which is
    when this checks them. A connection reused within the pause that turns out dead
    fails its statement as a disconnect, and SQLAlchemy then discards the whole pool.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return  # just connected, or in use moments ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool closes this connection and checks out (or opens) another.
            raise DisconnectionError("pooled connection is gone") from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE for writers.

    pysqlite's own BEGIN handling defers the write lock; two writers that both read first
    then deadlock with SQLITE_BUSY. Taking the lock at BEGIN makes them queue instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("vaxport_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def database_from_settings(settings: Settings | None = None) -> Database:
    """Build a :class:`Database` from ``settings`` (the process settings by default)."""
    from vaxport.settings import get_settings

    s = settings or get_settings()
    if s.is_sqlite:
        s.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(
        s.effective_database_url,
        pool_size=s.database_pool_size,
        max_overflow=s.database_max_overflow,
        echo=s.database_echo,
    )
    if s.bench_mode:  # the bench counts round trips per request; never in production
        from vaxport.core.roundtrips import install

        install(db.engine)
    return db


async def delete_in_batches(db: Database, model: Any, *criteria: Any, batch: int = 1000) -> int:
    """Delete ``model`` rows matching ``criteria`` in short transactions; the count.

    Housekeeping on large tables: each batch commits on its own so locks stay brief and
    a purge never holds one transaction over millions of rows.
    """
    from sqlalchemy import delete, select

    ids = select(model.id).where(*criteria).limit(batch).scalar_subquery()
    stmt = delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
    total = 0
    while True:
        async with db.transaction() as uow:
            result: Any = await uow.session.execute(stmt)
        total += int(result.rowcount)
        if result.rowcount < batch:
            return total


def affected(result: Any) -> int:
    """Rows an UPDATE/DELETE changed (compare-and-set outcomes)."""
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class Rows:
    """Rows to insert into ``table`` as part of a :func:`write_batch`.

    ``unless_found``: left out when the batch's query finds anything (the caller then
    writes them itself, knowing what was found). ``if_found``: left out unless it finds
    something (the query is a conditional UPDATE ... RETURNING that the rows depend on:
    the caller learns from the empty answer that nothing was written). ``gate``: the
    batch's other rows are inserted only once these are, so a unique violation of these
    (a claim already held) is the batch's error whatever else would collide too (at most
    one per batch).
    """

    table: Table
    rows: Sequence[Mapping[str, Any]]
    unless_found: bool = False
    if_found: bool = False
    gate: bool = False


# What a batch may run beside its inserts: a SELECT, or an UPDATE ... RETURNING.
BatchQuery = Select[Any] | ReturningUpdate[Any]


async def write_batch(
    uow: UnitOfWork,
    writes: Sequence[Rows],
    *,
    query: BatchQuery | None = None,
    params: Mapping[str, Any] | None = None,
    guards: Sequence[ReturningUpdate[Any]] = (),
) -> list[Any]:
    """Run ``query`` and insert ``writes`` (in order) in ``uow``'s transaction; the query's rows.

    The query sees the database as it was before the batch. On PostgreSQL everything is
    one statement (the inserts as data-modifying CTEs beside the query) sent on the
    asyncpg connection: one round trip, no ORM, no per-statement SQLAlchemy execution
    cost. Elsewhere (SQLite) the same statements run one after the other on the session's
    connection. Values go through the columns' own bind processing (ciphertext and blind
    index checks, UTC timestamps) on both; a value may be a SQL expression (the same for
    every row of its table). A constraint violation raises ``IntegrityError`` on both.

    ``guards``: conditional UPDATE ... RETURNING statements run beside the query (their
    parameters in ``params`` too, named apart); rows written ``if_found`` then also need
    every guard to have found a row, and each row answered ends with one boolean per
    guard (whether it did): a caller that sees one missed rolls back or takes another way.
    """
    writes = [w for w in writes if w.rows]
    if guards and query is None:
        raise ValueError("guards stand beside a query")
    if uow.dialect.name == "postgresql":
        return await _write_batch_pg(uow, writes, query, dict(params or {}), tuple(guards))
    session = uow.session
    if session.new or session.dirty or session.deleted:
        await session.flush()  # the ORM's pending rows first: ours may point at them
    conn = await session.connection()
    found: list[Any] = (
        list((await conn.execute(query, dict(params or {}))).all()) if query is not None else []
    )
    hits = [bool((await conn.execute(g, dict(params or {}))).all()) for g in guards]
    if guards:
        found = [(*row, *hits) for row in found]
    for w in sorted(writes, key=lambda w: not w.gate):  # in order: the gate first
        if (w.unless_found and found) or (w.if_found and not (found and all(hits))):
            continue
        exprs = {k: v for k, v in w.rows[0].items() if isinstance(v, ClauseElement)}
        rows = [{k: v for k, v in r.items() if k not in exprs} for r in w.rows]
        await conn.execute(insert(w.table).values(exprs) if exprs else insert(w.table), rows)
    return found


async def fetch_in(
    uow: UnitOfWork, query: Select[Any], params: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """The rows of a prebuilt ``query`` (its selected columns, in order) in ``uow``'s
    transaction; ``params`` fill its ``bindparam`` names.

    The read a use case makes before its :func:`write_batch`, off the ORM: on PostgreSQL
    the query is compiled once per process (per statement object: build it once, pass
    values as parameters) and sent on the transaction's asyncpg connection (one round
    trip, no per-statement SQLAlchemy execution cost); values pass through the columns'
    result processing (UTC datetimes, ciphertext bytes). Elsewhere (SQLite) it runs on
    the session's connection.
    """
    dialect = uow.dialect
    if dialect.name != "postgresql":
        session = uow.session
        if session.new or session.dirty or session.deleted:
            await session.flush()  # the ORM's pending rows first, as ``driver()`` does
        conn = await session.connection()
        return [tuple(r) for r in (await conn.execute(query, dict(params or {}))).all()]
    driver = await uow.driver()
    sql, names, values = _compiled_query(query, dialect)
    given = {**values, **(params or {})}
    records = await driver.fetch(sql, *[given[n] for n in names])
    procs = _result_processors(query, dialect)
    return [tuple(v if p is None else p(v) for v, p in zip(r, procs, strict=True)) for r in records]


@functools.lru_cache(maxsize=256)
def _result_processors(query: Select[Any], dialect: Dialect) -> tuple[Any, ...]:
    return tuple(c.type._cached_result_processor(dialect, None) for c in query.selected_columns)


# PostgreSQL takes at most 32767 parameters per statement.
_MAX_PARAMS = 32_000


async def _write_batch_pg(
    uow: UnitOfWork,
    writes: list[Rows],
    query: BatchQuery | None,
    params: dict[str, Any],
    guards: tuple[ReturningUpdate[Any], ...] = (),
) -> list[Any]:
    dialect = uow.dialect
    driver = await uow.driver()
    q_names: tuple[str, ...] = ()
    args: list[Any] = []
    if query is not None:
        _q_sql, q_names, q_values = _compiled_query(query, dialect)
        q_values = {**q_values, **params}
        args = [q_values[n] for n in q_names]
        for guard in guards:
            _g_sql, g_names, g_values = _compiled_query(guard, dialect)
            g_values = {**g_values, **params}
            args += [g_values[n] for n in g_names]
    if sum(w.gate for w in writes) > 1:
        raise ValueError("a batch has at most one gate")
    parts: list[tuple[Rows, tuple[str, ...], tuple[str, ...]]] = []
    for w in sorted(writes, key=lambda w: not w.gate):
        first = w.rows[0]
        exprs = tuple(c for c in first if isinstance(first[c], ClauseElement))
        plain = tuple(c for c in first if c not in exprs)
        parts.append((w, plain, exprs))
    total = len(args) + sum(len(w.rows) * len(plain) for w, plain, _ in parts)
    try:
        if total > _MAX_PARAMS and guards:
            raise ValueError("a guarded batch fits in one statement")
        if total > _MAX_PARAMS:  # a very large batch: one statement per table
            found = (
                await driver.fetch(_compiled_query(query, dialect)[0], *args)
                if query is not None
                else []
            )
            for w, plain, exprs in parts:
                if not ((w.unless_found and found) or (w.if_found and not found)):
                    shape = _Shape(w.table, plain, _inline(w.rows[0], exprs), 1)
                    sql = _batch_sql(None, (shape,), dialect)
                    rows = [_bind(w.table, plain, [r], dialect) for r in w.rows]
                    await driver.executemany(sql, rows)
            return list(found)
        gated = any(w.gate for w in writes)
        shapes = tuple(
            _Shape(
                w.table,
                plain,
                _inline(w.rows[0], exprs),
                len(w.rows),
                unless_found=w.unless_found,
                if_found=w.if_found,
                gate=w.gate,
                after_gate=gated and not w.gate,
            )
            for w, plain, exprs in parts
        )
        for w, plain, _exprs in parts:
            args += _bind(w.table, plain, w.rows, dialect)
        rows = await driver.fetch(_batch_sql(query, shapes, dialect, guards), *args)
        return list(rows) if query is not None else []
    except _asyncpg_integrity() as exc:
        raise IntegrityError(str(exc), None, exc) from None


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the text of one table's INSERT depends on (its values are parameters)."""

    table: Table
    plain: tuple[str, ...]
    inline: tuple[tuple[str, str], ...]  # (column, SQL) of the SQL-expression values
    n_rows: int
    unless_found: bool = False
    if_found: bool = False
    gate: bool = False  # RETURNING 1, for the others' guard
    after_gate: bool = False  # inserted once the gate's rows are (``w0``)


def _asyncpg_integrity() -> type[Exception]:
    import asyncpg  # type: ignore[import-untyped]

    error: type[Exception] = asyncpg.IntegrityConstraintViolationError
    return error


@functools.lru_cache(maxsize=256)
def _compiled_query(
    query: BatchQuery, dialect: Dialect
) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """The query's PostgreSQL text, the order of its named parameters and the values of
    those the query holds itself (built once)."""
    # IN over a list of values held by the query: its values rendered as parameters too.
    compiled: Any = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    return str(compiled), tuple(compiled.positiontup), dict(compiled.params)


# id(expression) -> (expression, its SQL): expressions are module-level constants.
_INLINE: dict[int, tuple[ClauseElement, str]] = {}


def _inline(first: Mapping[str, Any], exprs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for c in exprs:
        expr = first[c]
        hit = _INLINE.get(id(expr))
        if hit is None or hit[0] is not expr:
            if len(_INLINE) > 256:
                _INLINE.clear()
            sql = str(expr.compile(dialect=_PG, compile_kwargs={"literal_binds": True}))
            hit = _INLINE[id(expr)] = (expr, sql)
        out.append((c, hit[1]))
    return tuple(out)


_PG: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]


@functools.lru_cache(maxsize=256)
def _batch_sql(
    query: BatchQuery | None,
    shapes: tuple[_Shape, ...],
    dialect: Dialect,
    guards: tuple[ReturningUpdate[Any], ...] = (),
) -> str:
    """One statement: the query as CTE ``found``, the guards as ``g0``... and each INSERT as
    a CTE beside them.

    Identifiers come from the tables' metadata and every value is a ``$n`` parameter
    (cast to its column's type), so no data ever becomes SQL text.
    """
    ctes: list[str] = []
    offset = 0
    if query is not None:
        q_sql, q_names, _ = _compiled_query(query, dialect)
        ctes.append(f"found AS ({q_sql})")
        offset = len(q_names)
    for i, guard in enumerate(guards):
        g_sql, g_names, _ = _compiled_query(guard, dialect)
        ctes.append(f"g{i} AS ({_renumbered(g_sql, offset)})")
        offset += len(g_names)
    hit = [f"EXISTS (SELECT 1 FROM g{i})" for i in range(len(guards))]  # noqa: S608 - our names
    for i, shape in enumerate(shapes):
        sql, offset = _insert_sql(shape, offset, dialect, tuple(hit) if shape.if_found else ())
        ctes.append(f"w{i} AS ({sql})")
    if query is None and len(shapes) == 1:
        return ctes[0][len("w0 AS (") : -1]
    tail = "SELECT 1"
    if query is not None:
        tail = f"SELECT {', '.join(['found.*', *hit])} FROM found"  # noqa: S608 - our names
    return f"WITH {', '.join(ctes)} {tail}" if ctes else tail


def _renumbered(sql: str, offset: int) -> str:
    """``sql``'s ``$n`` parameters moved past the ``offset`` ones before it (compiled SQL:
    every value is a parameter, none is a literal that could hold a ``$``)."""
    return re.sub(r"\$(\d+)", lambda m: f"${int(m.group(1)) + offset}", sql)


@functools.lru_cache(maxsize=512)
def _column_sql(table: Table, column: str, dialect: Dialect) -> tuple[str, str]:
    col = table.c[column]
    return dialect.identifier_preparer.quote(col.name), col.type.compile(dialect=dialect)


def _insert_sql(
    shape: _Shape, offset: int, dialect: Dialect, also: tuple[str, ...] = ()
) -> tuple[str, int]:
    """``INSERT INTO table (...) VALUES ($n::type, ...), ...`` (or the guarded form) and the
    last parameter number it uses."""
    table = shape.table
    names = [_column_sql(table, c, dialect) for c in shape.plain]
    inline = [sql for _c, sql in shape.inline]
    cols = ", ".join(
        [n for n, _ in names] + [_column_sql(table, c, dialect)[0] for c, _ in shape.inline]
    )
    values = []
    n = offset
    for _ in range(shape.n_rows):
        cells = []
        for _name, type_ in names:
            n += 1
            cells.append(f"${n}::{type_}")
        values.append(", ".join(cells + inline))
    target = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({cols})"
    guards = []
    if shape.unless_found:
        guards.append("NOT EXISTS (SELECT 1 FROM found)")
    if shape.if_found:
        guards.append("EXISTS (SELECT 1 FROM found)")
        guards += also
    if shape.after_gate:
        # An uncorrelated EXISTS is a one-time filter: the gate's INSERT runs (and meets
        # any holder of its unique key) before this one produces a row.
        guards.append("EXISTS (SELECT 1 FROM w0)")
    returning = " RETURNING 1" if shape.gate else ""
    if guards:
        selects = " UNION ALL ".join(f"SELECT {v}" for v in values)
        guard = " AND ".join(guards)
        return f"{target} SELECT * FROM ({selects}) AS v WHERE {guard}", n  # noqa: S608
    rows = ", ".join(f"({v})" for v in values)
    return f"{target} VALUES {rows}{returning}", n


def _bind(
    table: Table, plain: Sequence[str], rows: Sequence[Mapping[str, Any]], dialect: Dialect
) -> list[Any]:
    """The rows' values in order, through each column's bind processing."""
    procs = [_processor(table, c, dialect) for c in plain]
    out: list[Any] = []
    for row in rows:
        for c, proc in zip(plain, procs, strict=True):
            value = row[c]
            out.append(proc(value) if proc is not None and value is not None else value)
    return out


@functools.lru_cache(maxsize=512)
def _processor(table: Table, column: str, dialect: Dialect) -> Any:
    return table.c[column].type._cached_bind_processor(dialect)
