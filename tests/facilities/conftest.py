"""Fixtures of the facilities tests: a tenant (a copy of the demo country) and, for the
HTTP tests that are about facilities rather than logins, a stand-in for identity's
permission check that lets an administrator through (``test_identity.py`` uses real
accounts and tokens)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Request

from tests.identity.helpers import actor_for
from tests.support.cli import cli  # noqa: F401 - a fixture of these tests
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    """A fresh tenant with the demo country's regions, languages and vaccines."""
    return await load_tenant(clean_db, cache)


class Admin:
    """Grants every permission to an admin of ``tenant``; records what was asked.

    Set ``region`` to act as a regional admin of that subtree.
    """

    def __init__(self, tenant: TenantInfo) -> None:
        self.tenant = tenant
        self.asked: list[str] = []
        self.region: str | None = None

    async def __call__(self, request: Request, permission: str) -> None:
        self.asked.append(permission)
        role = "region_admin" if self.region else "national_admin"
        actor = actor_for(self.tenant, role, region_code=self.region)
        request.scope["state"]["actor"] = actor
        request.scope["state"]["principal_id"] = str(actor.account_id)


@pytest.fixture
def admin(app: Any, tenant: TenantInfo) -> Admin:
    """Install the stand-in on the app."""
    check = Admin(tenant)
    app.state.permission_check = check
    return check
