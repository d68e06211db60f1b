"""The test-only encrypted tables (``models.py``) and a fresh keyring per test.

The registration context's tables do not exist yet, so these tests declare a person
table of their own, created and dropped around each test on the session database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import APP_ROLE
from tests.core.crypto.models import _SPECS, TestBase
from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.crypto import get_keyring, set_keyring
from vaxport.core.crypto.fields import _registry
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.crypto.providers import LocalKeyFileProvider
from vaxport.core.db import Database
from vaxport.core.ids import uuid7


@pytest.fixture
def keyring(tmp_path: Path) -> Iterator[Keyring]:
    """A keyring over a fresh local key file (cache on, as in production)."""
    previous = get_keyring()
    kr = Keyring(LocalKeyFileProvider(tmp_path / "keys.json", create_if_missing=True))
    set_keyring(kr)
    yield kr
    set_keyring(previous)


@pytest.fixture
async def people(db: Database, owner_db: Database, keyring: Keyring) -> AsyncIterator[Database]:
    """The database as the app sees it, with the test tables created by the owner.

    On PostgreSQL the tables get the app role's grants and row-level security exactly
    as `vaxport db upgrade` gives them to real tables.
    """
    # Only the test models: the rotation jobs walk the registry in order, and real
    # contexts' models (accounts...) must not use up a test's batch budget.
    others = dict(_registry)
    _registry.clear()
    _registry.update(_SPECS)
    async with owner_db.engine.begin() as conn:
        await conn.run_sync(TestBase.metadata.create_all)
    if owner_db.is_postgres:
        await migrate.secure(owner_db, metadata=METADATA, app_role=APP_ROLE)
    try:
        yield db
    finally:
        for cls in _SPECS:
            _registry.pop(cls, None)
        _registry.update(others)
        async with owner_db.engine.begin() as conn:
            await conn.run_sync(TestBase.metadata.drop_all)
            await conn.execute(text("DELETE FROM subject_keys"))
            await conn.execute(text("DELETE FROM data_keys"))


@pytest.fixture
def tenant() -> uuid.UUID:
    return uuid7()
