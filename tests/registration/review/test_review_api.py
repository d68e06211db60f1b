"""The review API over HTTP with real tokens: citizens ask, approvers decide, staff merge."""

from __future__ import annotations

import uuid

import httpx

from tests.registration.conftest import citizen_token, staff_token
from tests.registration.review.review_support import add_flag, add_person, events
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def test_a_citizen_asks_and_an_approver_decides_over_http(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    citizen = await citizen_token(clean_db, settings, tenant)
    person = await add_person(clean_db, tenant, account_id=citizen.id)
    me = citizen.headers
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

    stranger = (await citizen_token(clean_db, settings, tenant)).headers
    r = await client.get(f"{base}/beneficiaries/{person}/corrections", headers=stranger)
    assert r.status_code == 404
    r = await client.get(f"{base}/corrections", headers=me)
    assert r.status_code == 403  # citizens do not approve

    north = (
        await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    ).headers
    r = await client.post(f"{base}/corrections/{asked['id']}/approve", headers=north)
    assert r.status_code == 404  # another region's request does not exist for them
    vaccinator = (
        await staff_token(client, clean_db, settings, tenant, "vaccinator", region_code="CEN")
    ).headers
    r = await client.post(f"{base}/corrections/{asked['id']}/approve", headers=vaccinator)
    assert r.status_code == 403

    central = (
        await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="CEN")
    ).headers
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
    citizen = await citizen_token(clean_db, settings, tenant)
    person = await add_person(clean_db, tenant, account_id=citizen.id)
    me = citizen.headers
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
    admin = (await staff_token(client, clean_db, settings, tenant, "national_admin")).headers

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

    me = (await citizen_token(clean_db, settings, tenant)).headers
    r = await client.get(f"{base}/duplicates", headers=me)
    assert r.status_code == 403
