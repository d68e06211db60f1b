"""Fixtures of the immunization tests: the demo country, centres, a vaccinator, a lot."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.immunization.support import add_lot
from tests.registration.conftest import Person, make_facility, staff_token
from tests.scheduling.conftest import REGION
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.identity.credentials import signing
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


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


@pytest.fixture
async def elsewhere(clean_db: Database, cache: Cache, tenant: TenantInfo) -> uuid.UUID:
    """Another centre, in another region."""
    return await make_facility(clean_db, cache, tenant, code="EL-1", region_code="CEN-01-01")


@pytest.fixture
async def vaccinator(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> Person:
    """A vaccinator of ``centre``, logged in through the API."""
    return await staff_token(client, clean_db, settings, tenant, "vaccinator", facility_id=centre)


@pytest.fixture
async def lot(clean_db: Database, tenant: TenantInfo) -> uuid.UUID:
    """Lot ``EX1234`` of covid-mrna, valid for a year."""
    return await add_lot(clean_db, tenant, "covid-mrna", "EX1234")
