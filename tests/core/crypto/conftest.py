"""Test-only encrypted models (their own metadata) and a fresh keyring per test.

The registration context's tables do not exist yet, so these tests declare a person
table of their own, created and dropped around each test on the session database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import ForeignKey, MetaData, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import APP_ROLE
from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.crypto import encrypted, get_keyring, set_keyring
from vaxport.core.crypto.fields import _registry
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.crypto.providers import LocalKeyFileProvider
from vaxport.core.db import NAMING_CONVENTION, Database
from vaxport.core.ids import uuid7


class TestBase(DeclarativeBase):
    __test__ = False
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {uuid.UUID: Uuid()}


class Person(TestBase):
    __tablename__ = "crypto_test_people"
    __table_args__ = (UniqueConstraint("tenant_id", "national_id_bidx"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    given_name = encrypted("text")
    family_name = encrypted("text", index=True)
    phone = encrypted("phone", index=True)
    email = encrypted("email", index=True)
    national_id = encrypted("id_number", index=True)
    birth_date = encrypted("date")
    address = encrypted("json")
    notes = encrypted("text", subject="id")


class Note(TestBase):
    """A clinical note about a person, under that person's own key."""

    __tablename__ = "crypto_test_notes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("crypto_test_people.id"))
    body = encrypted("text", subject="person_id")


# Registered only while a test of this package runs: other suites must not see tables
# that exist only here.
_SPECS = {cls: _registry.pop(cls) for cls in (Person, Note)}


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
