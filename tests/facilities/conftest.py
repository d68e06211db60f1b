"""Fixtures of the facilities tests: a tenant (a copy of the demo country) and an app
whose permission check lets writes through, as the identity context will for an admin."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Request

from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    """A fresh tenant with the demo country's regions, languages and vaccines."""
    return await load_tenant(clean_db, cache)


class Admin:
    """A stand-in for identity's permission check: grants everything, records the asks."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.region: str | None = None

    async def __call__(self, request: Request, permission: str) -> None:
        self.asked.append(permission)
        request.state.principal_role = "regional-admin" if self.region else "national-admin"
        request.state.principal_region = self.region


@pytest.fixture
def admin(app: Any) -> Admin:
    """Install the stand-in on the app; set ``admin.region`` to act as a regional admin."""
    check = Admin()
    app.state.permission_check = check
    return check
