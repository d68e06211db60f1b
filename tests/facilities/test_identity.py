"""Facilities behind real identity: accounts that logged in, their roles and regions."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from tests.facilities.helpers import audit_actions, body
from tests.identity.helpers import Staff, api_login, bearer, make_staff
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.core.errors import ValidationFailed
from vaxport.identity.credentials import signing
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture(autouse=True)
def _fresh_signing_keys(db: Database) -> None:
    # Tables are emptied after each test: never sign with a key this process remembers.
    signing.forget(db)


async def _token(client: httpx.AsyncClient, person: Staff) -> dict[str, str]:
    return bearer(str((await api_login(client, person))["access_token"]))


async def test_only_signed_in_admins_write(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    url = f"/api/v1/{tenant.code}/facilities"
    assert (await client.post(url, json=body())).status_code == 401
    national = await make_staff(clean_db, settings, tenant, role="national_admin")
    created = await client.post(url, json=body(), headers=await _token(client, national))
    assert created.status_code == 201, created.text
    facility_id = created.json()["id"]
    # The audit names the account that acted, and its role.
    async with clean_db.read(tenant_id=tenant.id) as session:
        row = (
            await session.execute(
                select(AuditEntry.actor_id, AuditEntry.actor_role).where(
                    AuditEntry.object_id == facility_id
                )
            )
        ).one()
    assert tuple(row) == (national.id, "national_admin")
    # A vaccinator placed at that facility may read centres but not change them.
    vaccinator = await make_staff(
        clean_db, settings, tenant, role="vaccinator", facility_id=uuid.UUID(facility_id)
    )
    assert vaccinator.region_code == "NOR-01-01"  # placed in the facility's region
    refused = await client.patch(
        f"{url}/{facility_id}", json={"stations": 1}, headers=await _token(client, vaccinator)
    )
    assert refused.status_code == 403
    assert await audit_actions(clean_db, tenant.id) == [("facility.create", facility_id)]


async def test_a_region_admin_reaches_only_their_region(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    base = f"/api/v1/{tenant.code}"
    national = await make_staff(clean_db, settings, tenant, role="national_admin")
    north = (
        await client.post(
            f"{base}/facilities", json=body(code="N-1"), headers=await _token(client, national)
        )
    ).json()
    south_admin = await make_staff(
        clean_db, settings, tenant, role="region_admin", region_code="SOU"
    )
    auth = await _token(client, south_admin)
    r = await client.post(f"{base}/facilities", json=body(code="N-2"), headers=auth)
    assert r.status_code == 403
    outside = {"field": "region_code", "reason": "is outside your region (SOU)"}
    assert [{k: e[k] for k in outside} for e in r.json()["errors"]] == [outside]
    r = await client.post(
        f"{base}/facilities", json=body(code="S-1", region_code="SOU-02-01"), headers=auth
    )
    assert r.status_code == 201
    # The northern centre does not exist for them: not to change, not to read.
    north_url = f"{base}/facilities/{north['id']}"
    assert (await client.patch(north_url, json={"stations": 1}, headers=auth)).status_code == 404
    admin_url = f"{base}/admin/facilities/{north['id']}"
    assert (await client.get(admin_url, headers=auth)).status_code == 404
    listed = await client.get(f"{base}/admin/facilities", headers=auth)
    assert [f["code"] for f in listed.json()["items"]] == ["S-1"]
    # ...while the public directory shows everyone everything active.
    public = await client.get(f"{base}/facilities")
    assert [f["code"] for f in public.json()["items"]] == ["N-1", "S-1"]


async def test_another_tenants_admin_finds_nothing(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    from tests.support.tenants import load_tenant

    other = await load_tenant(clean_db)
    outsider = await make_staff(clean_db, settings, other, role="national_admin")
    r = await client.post(
        f"/api/v1/{tenant.code}/facilities", json=body(), headers=await _token(client, outsider)
    )
    assert r.status_code == 404


async def test_staff_cannot_be_placed_at_a_facility_that_does_not_exist(
    clean_db: Database, settings: Settings, tenant: TenantInfo, app: object
) -> None:
    # `app` installs the facilities' resolver that identity asks.
    with pytest.raises(ValidationFailed) as caught:
        await make_staff(clean_db, settings, tenant, role="vaccinator", facility_id=uuid.uuid4())
    assert caught.value.errors == [{"field": "facility_id", "reason": "unknown facility"}]
