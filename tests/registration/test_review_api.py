"""The review API over HTTP with real tokens: citizens ask, approvers decide, staff merge."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.identity.helpers import api_login, bearer, make_staff
from tests.registration.review_support import (
    add_citizen,
    add_flag,
    add_person,
    citizen_token,
    events,
)
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    return await load_tenant(clean_db, cache)


async def _staff(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    role: str,
    region: str | None = None,
) -> dict[str, str]:
    person = await make_staff(db, settings, tenant, role=role, region_code=region)
    return bearer((await api_login(client, person))["access_token"])


async def test_a_citizen_asks_and_an_approver_decides_over_http(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    owner = await add_citizen(clean_db, tenant)
    person = await add_person(clean_db, tenant, account_id=owner)
    me = bearer(await citizen_token(clean_db, settings, tenant, owner))
    base = f"/api/v1/{tenant.code}"

    r = await client.post(
        f"{base}/beneficiaries/{person}/corrections",
        json={"field": "family_name", "value": "Byron", "reason": "maiden name", "extra": 1},
        headers=me,
    )
    assert r.status_code == 422
    r = await client.post(
        f"{base}/beneficiaries/{person}/corrections",
        json={"field": "family_name", "value": "Byron", "reason": "maiden name"},
        headers=me,
    )
    assert r.status_code == 201, r.text
    asked = r.json()
    assert r.headers["location"].endswith(f"/corrections/{asked['id']}")

    stranger = bearer(
        await citizen_token(clean_db, settings, tenant, await add_citizen(clean_db, tenant))
    )
    r = await client.get(f"{base}/beneficiaries/{person}/corrections", headers=stranger)
    assert r.status_code == 404
    r = await client.get(f"{base}/corrections", headers=me)
    assert r.status_code == 403  # citizens do not approve

    north = await _staff(client, clean_db, settings, tenant, "region_admin", "NOR")
    r = await client.post(f"{base}/corrections/{asked['id']}/approve", headers=north)
    assert r.status_code == 404  # another region's request does not exist for them
    vaccinator = await _staff(client, clean_db, settings, tenant, "vaccinator", "CEN")
    r = await client.post(f"{base}/corrections/{asked['id']}/approve", headers=vaccinator)
    assert r.status_code == 403

    central = await _staff(client, clean_db, settings, tenant, "region_admin", "CEN")
    r = await client.get(f"{base}/corrections", headers=central)
    assert [i["id"] for i in r.json()["items"]] == [asked["id"]]
    r = await client.get(f"{base}/corrections/{asked['id']}", headers=central)
    assert r.json()["present"] == {"value": "Lovelace"}
    r = await client.post(
        f"{base}/corrections/{asked['id']}/approve", json={"note": "checked"}, headers=central
    )
    assert r.status_code == 200, r.text
    assert r.json()["previous"] == {"value": "Lovelace"}
    r = await client.post(f"{base}/corrections/{asked['id']}/reject", headers=central)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")

    r = await client.get(f"{base}/beneficiaries/{person}/corrections", headers=me)
    assert [(i["status"], i["decision_note"]) for i in r.json()["items"]] == [
        ("approved", "checked")
    ]
    assert [t for t, _ in await events(clean_db, tenant, "beneficiary.")] == [
        "beneficiary.corrected"
    ]


async def test_a_citizen_withdraws_over_http(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    owner = await add_citizen(clean_db, tenant)
    person = await add_person(clean_db, tenant, account_id=owner)
    me = bearer(await citizen_token(clean_db, settings, tenant, owner))
    base = f"/api/v1/{tenant.code}"
    r = await client.post(
        f"{base}/beneficiaries/{person}/corrections",
        json={"field": "birth_date", "value": "1985-12-11", "reason": "wrong day"},
        headers=me,
    )
    correction = r.json()["id"]
    r = await client.post(f"{base}/corrections/{correction}/withdraw", headers=me)
    assert r.json()["status"] == "withdrawn"
    r = await client.post(f"{base}/corrections/{uuid.uuid4()}/withdraw", headers=me)
    assert r.status_code == 404


async def test_staff_review_merge_and_undo_duplicates_over_http(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    older = await add_person(clean_db, tenant)
    newer = await add_person(clean_db, tenant)
    flag = await add_flag(clean_db, tenant, newer, older, region="CEN-01-01")
    base = f"/api/v1/{tenant.code}"
    admin = await _staff(client, clean_db, settings, tenant, "national_admin")

    r = await client.get(f"{base}/duplicates", headers=admin)
    assert [f["id"] for f in r.json()["items"]] == [str(flag)]
    r = await client.get(f"{base}/duplicates?status=bogus", headers=admin)
    assert r.status_code == 422
    r = await client.get(f"{base}/duplicates/{flag}", headers=admin)
    assert {r.json()["first"]["id"], r.json()["second"]["id"]} == {str(older), str(newer)}
    r = await client.post(
        f"{base}/duplicates/{flag}/merge", json={"survivor_id": str(older)}, headers=admin
    )
    assert r.status_code == 200, r.text
    merge = r.json()
    assert merge["merged_id"] == str(newer)
    r = await client.post(f"{base}/merges/{merge['id']}/undo", headers=admin)
    assert r.json()["undone_at"] is not None
    r = await client.post(f"{base}/duplicates/{flag}/dismiss", headers=admin)
    assert r.json()["status"] == "dismissed"
    r = await client.post(
        f"{base}/beneficiaries/{newer}/merge", json={"survivor_id": str(newer)}, headers=admin
    )
    assert r.status_code == 409

    owner = await add_citizen(clean_db, tenant)
    me = bearer(await citizen_token(clean_db, settings, tenant, owner))
    r = await client.get(f"{base}/duplicates", headers=me)
    assert r.status_code == 403
