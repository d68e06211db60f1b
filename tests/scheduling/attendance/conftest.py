"""Fixtures of the day at a centre: a vaccinator of the centre, logged in through the API."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.registration.conftest import Person, make_facility, staff_token
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def vaccinator(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> Person:
    """A vaccinator of ``centre``."""
    return await staff_token(client, clean_db, settings, tenant, "vaccinator", facility_id=centre)


@pytest.fixture
async def elsewhere(clean_db: Database, cache: Cache, tenant: TenantInfo) -> uuid.UUID:
    """Another centre, in another region (CEN-01-01)."""
    return await make_facility(clean_db, cache, tenant, code="EL-1", region_code="CEN-01-01")
