"""Test-only encrypted models of the crypto tests, with their own metadata.

Apart from the fixtures (``conftest.py``) so that a subprocess of these tests (the killed
re-encryption job of ``test_rotation.py``) imports them without the whole test suite.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, MetaData, String, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vaxport.core.crypto import encrypted
from vaxport.core.crypto.fields import _registry
from vaxport.core.db import NAMING_CONVENTION
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
