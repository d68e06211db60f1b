"""Database engine, declarative base and the unit of work.

The unit of work is the only place that commits (``.commit()`` appears only here). A use
case opens one with :meth:`Database.transaction`; it commits when the block ends without
an exception and rolls back otherwise, then runs the after-commit hooks (side effects
happen only once the data is durable). Read-only use cases use :meth:`Database.read`.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, MetaData, Uuid, event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
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


class UnitOfWork:
    """One transaction of one use case: a session plus hooks to run after commit."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self._after_commit: list[AfterCommit] = []

    async def enter_tenant(self, tenant_id: uuid.UUID) -> None:
        """Scope the rest of this transaction to ``tenant_id``.

        For use cases that learn their tenant inside the transaction (creating a tenant,
        a worker handling one tenant's event); PostgreSQL RLS then admits its rows.
        """
        self.tenant_id = tenant_id
        await set_tenant_scope(self.session, tenant_id)

    def after_commit(self, hook: AfterCommit) -> None:
        """Run ``hook`` once the transaction is durable (never if it rolls back)."""
        self._after_commit.append(hook)


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
        """Close every pooled connection."""
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self, *, tenant_id: uuid.UUID | None = None) -> AsyncIterator[UnitOfWork]:
        """A writing unit of work: commits on success, rolls back on any exception."""
        async with self._writer() as session:
            uow = UnitOfWork(session, tenant_id)
            await self._scope(session, tenant_id)
            try:
                yield uow
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        for hook in uow._after_commit:
            await hook()

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
        if tenant_id is not None:
            await set_tenant_scope(session, tenant_id)


async def set_tenant_scope(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Set the transaction-local tenant that PostgreSQL row-level security filters on.

    The second wall behind the application's own scoping; ``set_config(..., true)`` has
    SET LOCAL semantics, so it ends with the transaction and never leaks across the pool.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT set_config('vaxport.tenant', :t, true)"), {"t": str(tenant_id)}
        )


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
