"""Fixtures for the core tests: an isolated handler registry and the outbox test tables."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from tests.conftest import APP_ROLE
from tests.core.outbox_support import clear_test_tables, create_test_tables, test_metadata
from vaxport.core import outbox
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.outbox import registry as outbox_registry
from vaxport.settings import Settings


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[outbox.Handler]]:
    """An empty handler registry for this test (other tests' handlers are not called)."""
    # Handler modules register on first import (until the composition root, issue 11):
    # import them all into the real registry first, or a module first imported during
    # this test would register into the throw-away one and be missing for later tests
    # (which happened under pytest-xdist, whose test order differs from a serial run).
    outbox.load_handlers()
    fresh: dict[str, list[outbox.Handler]] = {}
    monkeypatch.setattr(outbox_registry, "_HANDLERS", fresh)
    return fresh


@pytest.fixture(scope="session")
async def test_tables(owner_db: Database, db: Database) -> Database:
    # The app role may not create tables (least privilege), so the owner does and grants.
    await create_test_tables(owner_db)
    if owner_db.is_postgres:
        async with owner_db.engine.begin() as conn:
            for table in test_metadata.sorted_tables:
                await conn.execute(
                    text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{table.name}" TO "{APP_ROLE}"')
                )
            await conn.execute(
                text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{APP_ROLE}"')
            )
    return db


@pytest.fixture
async def odb(clean_db: Database, test_tables: Database) -> AsyncIterator[Database]:
    """The database with the outbox test tables, emptied after the test."""
    yield clean_db
    await clear_test_tables(clean_db)


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Settings with short leases and backoff so retries happen within a test."""
    return settings.model_copy(
        update={
            "outbox_lease_seconds": 2.0,
            "outbox_backoff_base_seconds": 0.001,
            "outbox_backoff_max_seconds": 0.01,
            "outbox_max_attempts": 3,
            "outbox_batch_size": 10,
            "outbox_handler_timeout_seconds": 5.0,
        }
    )


@pytest.fixture
def worker(odb: Database, cache: Cache, fast: Settings) -> outbox.Worker:
    return outbox.Worker(odb, cache, fast, worker_id="test-worker")
