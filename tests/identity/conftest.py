"""Fixtures of the identity tests: a tenant, and a clock the test moves by hand."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from tests.identity.helpers import Staff, api_login, make_staff
from tests.support.tenants import load_tenant
from vaxport.core import clock
from vaxport.core.db import Database
from vaxport.identity.credentials import signing
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


class Clock:
    """The time identity reads (``core.clock.utcnow``), frozen until moved."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Freeze the clock at the start of the current TOTP step (codes stay put)."""
    now = dt.datetime.now(dt.UTC)
    start = now.replace(second=(now.second // 30) * 30, microsecond=0)
    c = Clock(start)
    monkeypatch.setattr(clock, "utcnow", c)
    return c


@pytest.fixture
async def tenant(clean_db: Database) -> TenantInfo:
    """A tenant loaded from the demo configuration (emptied after the test)."""
    return await load_tenant(clean_db)


@pytest.fixture(autouse=True)
def _fresh_signing_keys(db: Database) -> None:
    """Each test empties the tables: this process must not sign with a key it remembers."""
    signing.forget(db)


@pytest.fixture
async def admin(clean_db: Database, settings: Settings, tenant: TenantInfo) -> Staff:
    """A national admin, activated and enrolled."""
    return await make_staff(clean_db, settings, tenant, role="national_admin")


@pytest.fixture
async def admin_token(client: httpx.AsyncClient, admin: Staff) -> str:
    """An access token of ``admin``."""
    return str((await api_login(client, admin))["access_token"])
