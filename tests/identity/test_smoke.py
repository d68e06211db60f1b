from __future__ import annotations

import httpx

from tests.identity.helpers import api_login, bearer, make_staff
from tests.support.tenants import load_tenant
from vaxport.core.db import Database
from vaxport.settings import Settings


async def test_admin_logs_in_and_lists_staff(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings
) -> None:
    tenant = await load_tenant(clean_db)
    admin = await make_staff(clean_db, settings, tenant, role="national_admin")
    tokens = await api_login(client, admin)
    r = await client.get(f"/api/v1/{tenant.code}/staff", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200, r.text
    assert [s["username"] for s in r.json()["items"]] == [admin.username]
