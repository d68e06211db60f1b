"""Fixtures of the security walks: one tenant with its administrator, logged in over HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.identity.helpers import api_login, bearer, make_staff
from tests.security.world import World
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.identity.credentials import signing
from vaxport.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The walks call every route, logging in as many people from one address: the
    ``login`` class's per-address limit is lifted here. What class each route is in is
    proven by ``test_login_class_walk``; that the limit bites, by tests/core/http."""
    return settings.model_copy(update={"rate_limit_login_ip": "100000/minute"})


@pytest.fixture(autouse=True)
def _fresh_signing_keys(db: Database) -> None:
    """Each test empties the tables: this process must not sign with a key it remembers."""
    signing.forget(db)


@pytest.fixture
async def world(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache, settings: Settings
) -> World:
    """A tenant, its national administrator and a token of theirs."""
    tenant = await load_tenant(clean_db)
    admin = await make_staff(clean_db, settings, tenant, role="national_admin")
    token = str((await api_login(client, admin))["access_token"])
    return World(client, clean_db, cache, settings, tenant, admin, bearer(token))
