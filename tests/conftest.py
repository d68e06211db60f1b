"""Shared fixtures: a real database (SQLite, or PostgreSQL when configured), a real cache.

``VAXPORT_TEST_DATABASE_URL`` (postgresql+asyncpg://...) runs the whole suite on
PostgreSQL in a freshly created database dropped afterwards; unset, a SQLite file.
``VAXPORT_TEST_REDIS_URL`` does the same for the cache (keys under a unique prefix).

Under pytest-xdist each worker is a session of its own: its own database (PostgreSQL: a
copy of the run's migrated template, see :func:`_template_database`; SQLite: a file in
the worker's temporary directory) and its own cache prefixes.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import uuid
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.support.parts import METADATA, PARTS
from vaxport import wiring
from vaxport.core import migrate
from vaxport.core.cache import Cache, MemoryBackend, RedisBackend
from vaxport.core.db import Database
from vaxport.identity.login import passwords
from vaxport.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Overridable so checkouts elsewhere (e.g. git worktrees) still find the shared data.
SHARED_TESTDATA = Path(
    os.environ.get("VAXPORT_SHARED_TESTDATA") or ROOT.parent / "shared" / "testdata"
)

PG_URL = os.environ.get("VAXPORT_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("VAXPORT_TEST_REDIS_URL", "")
# The PostgreSQL leg runs the app as this role (NOSUPERUSER NOBYPASSRLS, owns nothing),
# created by the migrations if missing; roles are cluster-wide, so runs share it.
APP_ROLE = os.environ.get("VAXPORT_TEST_APP_ROLE", "vaxport_test_app")

requires_postgres = pytest.mark.skipif(
    not PG_URL, reason="VAXPORT_TEST_DATABASE_URL is not set (PostgreSQL leg only)"
)
requires_redis = pytest.mark.skipif(
    not REDIS_URL, reason="VAXPORT_TEST_REDIS_URL is not set (Redis leg only)"
)


def pytest_configure(config: pytest.Config) -> None:
    # One identifier per run, shared by its xdist workers (xdist hands --testrunuid on):
    # it names the run's template database.
    if not hasattr(config, "workerinput") and getattr(config.option, "testrunuid", "") is None:
        config.option.testrunuid = uuid.uuid4().hex


def _run_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return str(workerinput["testrunuid"])
    run_id = getattr(config.option, "testrunuid", None)
    if run_id is None:  # pytest-xdist not installed
        run_id = config.option.testrunuid = uuid.uuid4().hex
    return str(run_id)


def _template_name(config: pytest.Config) -> str:
    return f"vaxport_tpl_{_run_id(config)[:16]}"


async def _server(url: str) -> Any:
    """A connection to the maintenance database of ``url``'s server."""
    import asyncpg

    u = make_url(url)
    return await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, database="postgres", password=u.password
    )


async def _create_pg_database(url: str, *, template: str | None = None) -> str:
    """Create a uniquely named database on the server of ``url`` (a copy of ``template``
    when given); return its URL."""
    base = make_url(url)
    name = f"vaxport_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = await _server(url)
    try:
        copy = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    return base.set(database=name).render_as_string(hide_password=False)


async def _template_database(url: str, name: str) -> str:
    """The run's template database ``name``, migrated and secured: made by whichever
    worker asks first (the others wait on an advisory lock), copied by every worker.

    Copying takes a fraction of a second where migrating takes seconds per worker; each
    copy is still upgraded to head in ``owner_db`` (a no-op that re-applies the grants,
    which a copy does not inherit for the database itself). Dropped when the run ends.
    """
    conn = await _server(url)
    lock = zlib.crc32(name.encode())
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", lock)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
                template_url = make_url(url).set(database=name)
                database = Database(
                    template_url.render_as_string(hide_password=False), pool_size=1, max_overflow=0
                )
                try:
                    await migrate.upgrade(database, metadata=METADATA, app_role=APP_ROLE)
                except BaseException:
                    await database.dispose()
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    raise
                await database.dispose()
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock)
    finally:
        await conn.close()
    return name


async def _sqlite_template(directory: Path, name: str) -> Path:
    """The run's migrated SQLite file ``name`` in ``directory`` (shared by the run's
    workers): made by whichever worker asks first, under a file lock, then only copied.

    Copying a file takes milliseconds where running the migrations takes seconds per
    worker. The file lives in pytest's temporary directory of the run, removed with it.
    """
    template = directory / name
    with (directory / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not template.exists():
                partial = directory / f"{name}.partial"
                partial.unlink(missing_ok=True)
                database = Database(f"sqlite+aiosqlite:///{partial}", pool_size=1, max_overflow=0)
                try:
                    await migrate.upgrade(database, metadata=METADATA)
                finally:
                    await database.dispose()
                partial.replace(template)  # whole, or not at all
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return template


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # The run's end is the controller's (or the only process's) session end.
    if PG_URL and not hasattr(session.config, "workerinput"):
        name = _template_name(session.config)
        asyncio.run(_drop_pg_database(make_url(PG_URL).set(database=name).render_as_string()))


async def _drop_pg_database(url: str) -> None:
    conn = await _server(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The URL of this test session's database: a copy of the run's migrated template
    (PostgreSQL: a database; SQLite: a file)."""
    if PG_URL:
        template = await _template_database(PG_URL, _template_name(request.config))
        url = await _create_pg_database(PG_URL, template=template)
        yield url
        await _drop_pg_database(url)
    else:
        # Under xdist every worker's base directory sits in the run's one directory.
        base = tmp_path_factory.getbasetemp()
        shared = base.parent if hasattr(request.config, "workerinput") else base
        template = await _sqlite_template(
            shared, f"vaxport-template-{_run_id(request.config)[:16]}.db"
        )
        path = tmp_path_factory.mktemp("db") / "vaxport.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
async def owner_db(database_url: str) -> AsyncIterator[Database]:
    """The session's database as its owner, migrated to head by the real migrations.

    On PostgreSQL the upgrade (a no-op on the template's copy) also creates the app role,
    its grants and RLS, exactly as ``vaxport db upgrade`` does; a copy of the SQLite
    template has nothing to re-apply. Use it only for what the app may not do (cleanup,
    tampering with evidence in tests); on SQLite it is the same object as ``db``.
    """
    database = Database(database_url, pool_size=5, max_overflow=5)
    if PG_URL:
        await migrate.upgrade(database, metadata=METADATA, app_role=APP_ROLE)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def app_database_url(database_url: str) -> str:
    """The URL the app uses: on PostgreSQL the least-privileged app role."""
    if not PG_URL:
        return database_url
    return make_url(database_url).set(username=APP_ROLE).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def db(owner_db: Database, app_database_url: str) -> AsyncIterator[Database]:
    """The session's database as the app sees it (PostgreSQL: the app role, under RLS)."""
    if not PG_URL:
        yield owner_db
        return
    database = Database(app_database_url, pool_size=20, max_overflow=20)
    yield database
    await database.dispose()


async def truncate_all(database: Database) -> None:
    """Empty every table (keeps the schema); needs the owner (append-only guards).

    On PostgreSQL a superuser (the test URL's) deletes the rows; an owner that is not one
    truncates the tables, the slow way."""
    tables = [t.name for t in reversed(METADATA.sorted_tables)]
    async with database.engine.begin() as conn:
        if database.is_postgres and await _superuser(conn):
            # A test leaves a few rows: deleting them takes milliseconds where TRUNCATE
            # gives each of the ~220 tables and indexes a new file (0.65 s a test, a
            # third of the PostgreSQL leg). As a replica would, the session fires no
            # user trigger (append-only guards) and no foreign-key check meanwhile.
            # The schema has no sequence to restart.
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            raw = await conn.get_raw_connection()
            deletes = "".join(f'DELETE FROM "{t}";' for t in tables)
            await raw.driver_connection.execute(deletes)  # type: ignore[union-attr]
        elif database.is_postgres:
            quoted = ", ".join(f'"{t}"' for t in tables)
            guarded = [
                r[0]
                for r in await conn.execute(
                    text(
                        "SELECT DISTINCT c.relname FROM pg_trigger t "
                        "JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE NOT t.tgisinternal AND t.tgtype & 32 <> 0"  # TRUNCATE triggers
                    )
                )
            ]
            for t in guarded:
                await conn.execute(text(f'ALTER TABLE "{t}" DISABLE TRIGGER USER'))
            await conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
            for t in guarded:
                await conn.execute(text(f'ALTER TABLE "{t}" ENABLE TRIGGER USER'))
        else:
            # SQLite cannot disable triggers: lift the append-only guards for the cleanup.
            triggers = (
                await conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type='trigger'"))
            ).all()
            for name, _sql in triggers:
                await conn.execute(text(f'DROP TRIGGER "{name}"'))
            for t in tables:
                await conn.execute(text(f'DELETE FROM "{t}"'))
            for _name, sql in triggers:
                await conn.execute(text(sql))


async def _superuser(conn: Any) -> bool:
    """Whether the connection may switch triggers off (``session_replication_role``)."""
    return (await conn.execute(text("SELECT current_setting('is_superuser')"))).scalar() == "on"


@pytest.fixture
async def clean_db(db: Database, owner_db: Database) -> AsyncIterator[Database]:
    """The database, emptied (by its owner) after the test."""
    yield db
    await truncate_all(owner_db)


@pytest.fixture
async def cache() -> AsyncIterator[Cache]:
    """A real cache: Redis under a unique prefix when configured, else in-process."""
    prefix = f"vaxport-test-{uuid.uuid4().hex[:8]}"
    if REDIS_URL:
        backend = RedisBackend(REDIS_URL)
        c = Cache(backend, prefix=prefix)
        yield c
        async for key in backend.client.scan_iter(match=f"{prefix}:*"):
            await backend.client.delete(key)
        await c.close()
    else:
        c = Cache(MemoryBackend(), prefix=prefix)
        yield c
        await c.close()


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One local KEK file for the whole session (data keys in the shared DB stay readable)."""
    return tmp_path_factory.mktemp("keys") / "keys.json"


@pytest.fixture(scope="session", autouse=True)
def _wired() -> None:
    """Service-level tests run on the contexts as the processes wire them (no app needed).

    A test that wants other parts builds its app with them (``create_app(parts=...)``) or
    installs them, and installs ``PARTS`` again when it is done.
    """
    wiring.install(PARTS)


@pytest.fixture(scope="session", autouse=True)
def _session_keyring(key_file: Path) -> Any:
    """Encrypted fields use the session key file, never ./var of the checkout.

    The file is made here, before any test: made lazily, by whichever keyring or
    subprocess needed it first, tests saw it missing in one order and not in another."""
    from vaxport.core.crypto import configure_keyring
    from vaxport.core.crypto.providers import init_key_file

    if not key_file.exists():
        init_key_file(key_file)
    return configure_keyring(Settings(env="test", key_file=key_file))


@pytest.fixture(autouse=True)
def _keyring_restored(_session_keyring: Any) -> None:
    """Each test starts on the session keyring, whatever the one before installed.

    An app built on settings with another key file replaces the process's keyring; a
    later test then wrapped a tenant's keys under a KEK its worker subprocess (reading the
    session key file) did not hold, and the worker could never send (PostgreSQL leg).
    """
    from vaxport.core.crypto import get_keyring, set_keyring

    if get_keyring() is not _session_keyring:
        set_keyring(_session_keyring)


# argon2id with the same algorithm and pass count at a tiny memory cost: the production
# cost (46 MiB, ~65 ms a hash) spent ~1,400 times a leg was ~90 s of CPU. A hash names
# its parameters, so verifying, the same work for unknown users and re-hashing on a
# change of parameters behave the same; tests of the production cost ask for it.
_TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, type=Type.ID)


@pytest.fixture(autouse=True)
def _password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staff passwords hash cheaply unless the test is marked ``production_password_hash``
    (autouse, so it is in place before any fixture makes an account)."""
    if request.node.get_closest_marker("production_password_hash") is None:
        monkeypatch.setattr(passwords, "HASHER", _TEST_HASHER)


@pytest.fixture
def settings(tmp_path: Path, app_database_url: str, key_file: Path) -> Settings:
    """Settings for an app under test (development-like, data in a temp dir).

    Rate-limit windows get a prefix of the test's own: with Redis, tests (and parallel
    workers, and other runs on the same server) would otherwise count each other's
    requests against one limit.
    """
    return Settings(
        env="test",
        data_dir=tmp_path,
        database_url=app_database_url,
        redis_url=REDIS_URL,
        rate_limit_prefix=f"vaxport-test-rl-{uuid.uuid4().hex[:8]}",
        log_json=True,
        countries_dir=ROOT / "countries",
        key_file=key_file,
    )


@pytest.fixture
async def app(settings: Settings, clean_db: Database, cache: Cache):  # type: ignore[no-untyped-def]
    """The ASGI app wired to the test database and cache."""
    from vaxport.app import create_app

    return create_app(settings, parts=PARTS, database=clean_db, cache=cache)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """An HTTP client talking to the app in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
def shared_testdata() -> Path:
    """``../shared/testdata`` (standards' schemas, value sets and examples)."""
    if not SHARED_TESTDATA.is_dir():
        pytest.skip("../shared/testdata is not present beside the checkout")
    return SHARED_TESTDATA


@pytest.fixture
async def empty_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A database of its own, not migrated (the session one is already at head)."""
    url = await _create_pg_database(PG_URL) if PG_URL else f"sqlite+aiosqlite:///{tmp_path}/m.db"
    database = Database(url, pool_size=2, max_overflow=0)
    yield database
    await database.dispose()
    if PG_URL:
        await _drop_pg_database(url)
