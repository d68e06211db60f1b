"""Fixtures of the scheduling tests: the demo country and a centre in Hillcrest Town."""

from __future__ import annotations

import uuid

import pytest

from tests.registration.conftest import make_facility
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.identity.credentials import signing
from vaxport.tenancy.schemas import TenantInfo

REGION = "NOR-01-01"


@pytest.fixture(autouse=True)
def _fresh_signing_keys(db: Database) -> None:
    # Tables are emptied after each test: never sign with a key this process remembers.
    signing.forget(db)


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    """A fresh copy of the demo country."""
    return await load_tenant(clean_db, cache)


@pytest.fixture
async def centre(clean_db: Database, cache: Cache, tenant: TenantInfo) -> uuid.UUID:
    """A vaccination centre of the tenant in :data:`REGION`."""
    return await make_facility(clean_db, cache, tenant, code="HC-1", region_code=REGION)
