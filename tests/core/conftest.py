"""Fixtures for the core tests: the outbox test tables and fast outbox settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from tests.conftest import APP_ROLE
from tests.core.outbox_support import clear_test_tables, create_test_tables, test_metadata
from vaxport.core.db import Database
from vaxport.settings import Settings


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
