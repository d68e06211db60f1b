"""Lots through the API: who may register and change them, what is refused, what is kept."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from tests.immunization.helpers import lot_body, make_lot
from tests.registration.conftest import citizen_token, staff_token
from tests.support.tenants import load_tenant
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.core.outbox.models import OutboxEvent
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def test_a_region_admin_registers_a_lot_normalised_with_the_products_manufacturer(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    made = await make_lot(client, tenant, admin.headers, lot_number="  fh-8020 ")
    assert made["lot_number"] == "FH-8020"
    assert made["manufacturer"] == tenant.config.products["covid-mrna"].manufacturer
    assert made["version"] == 1
    assert made["on_hold"] is False
    got = await client.get(f"/api/v1/{tenant.code}/lots/{made['id']}", headers=admin.headers)
    assert got.json() == made


async def test_a_vaccinator_reads_lots_but_cannot_register_one(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    made = await make_lot(client, tenant, admin.headers)
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    refused = await client.post(
        f"/api/v1/{tenant.code}/lots", json=lot_body(), headers=vaccinator.headers
    )
    assert refused.status_code == 403
    listed = await client.get(f"/api/v1/{tenant.code}/lots", headers=vaccinator.headers)
    assert [lot["id"] for lot in listed.json()["items"]] == [made["id"]]


async def test_citizens_neither_read_nor_register_lots(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    citizen = await citizen_token(clean_db, settings, tenant)
    base = f"/api/v1/{tenant.code}/lots"
    assert (await client.get(base, headers=citizen.headers)).status_code == 403
    assert (await client.post(base, json=lot_body(), headers=citizen.headers)).status_code == 403


async def test_a_second_lot_number_for_the_product_is_a_409_and_changes_nothing(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    await make_lot(client, tenant, admin.headers, lot_number="EW0150")
    again = await client.post(
        f"/api/v1/{tenant.code}/lots",
        json=lot_body(lot_number=" ew0150"),
        headers=admin.headers,
    )
    assert again.status_code == 409
    problem = again.json()
    assert problem["type"].endswith("/lot-exists")
    assert problem["errors"][0]["field"] == "lot_number"
    other_product = await client.post(
        f"/api/v1/{tenant.code}/lots",
        json=lot_body(lot_number="EW0150", product_id="mmr"),
        headers=admin.headers,
    )
    assert other_product.status_code == 201
    listed = await client.get(f"/api/v1/{tenant.code}/lots", headers=admin.headers)
    assert len(listed.json()["items"]) == 2


async def test_bad_fields_are_named(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    answer = await client.post(
        f"/api/v1/{tenant.code}/lots",
        json=lot_body(product_id="nope", lot_number="a b", expires_on="1999-01-01"),
        headers=admin.headers,
    )
    assert answer.status_code == 422
    assert {e["field"] for e in answer.json()["errors"]} == {
        "product_id",
        "lot_number",
        "expires_on",
    }
    unknown = await client.post(
        f"/api/v1/{tenant.code}/lots", json=lot_body(colour="red"), headers=admin.headers
    )
    assert unknown.status_code == 422
    listed = await client.get(f"/api/v1/{tenant.code}/lots", headers=admin.headers)
    assert listed.json()["items"] == []


async def test_hold_and_release_are_audited_and_published_with_a_version_check(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    lot = await make_lot(client, tenant, admin.headers)
    url = f"/api/v1/{tenant.code}/lots/{lot['id']}"
    no_reason = await client.patch(url, json={"version": 1, "on_hold": True}, headers=admin.headers)
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"
    held = await client.patch(
        url,
        json={"version": 1, "on_hold": True, "reason": "Cold chain breach"},
        headers=admin.headers,
    )
    assert held.status_code == 200, held.text
    assert held.json()["on_hold"] is True
    assert held.json()["hold_reason"] == "Cold chain breach"
    stale = await client.patch(
        url, json={"version": 1, "on_hold": False, "reason": "Checked"}, headers=admin.headers
    )
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["code"] == "stale-version"
    released = await client.patch(
        url, json={"version": 2, "on_hold": False, "reason": "Checked"}, headers=admin.headers
    )
    assert released.json()["on_hold"] is False
    assert released.json()["version"] == 3
    on_hold = await client.get(
        f"/api/v1/{tenant.code}/lots", params={"on_hold": "true"}, headers=admin.headers
    )
    assert on_hold.json()["items"] == []
    async with clean_db.read(tenant_id=tenant.id) as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == lot["id"])
                .order_by(AuditEntry.occurred_at, AuditEntry.id)
            )
        )
        kinds = list(
            await session.scalars(
                select(OutboxEvent.event_type).where(OutboxEvent.event_type.like("lot.%"))
            )
        )
    assert actions == ["lot.create", "lot.hold", "lot.release"]
    assert sorted(kinds) == ["lot.held", "lot.released"]


async def test_expiry_and_vial_size_are_corrected_and_listed_by_expiry(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    lot = await make_lot(client, tenant, admin.headers, expires_on="2030-06-30")
    url = f"/api/v1/{tenant.code}/lots/{lot['id']}"
    fixed = await client.patch(
        url,
        json={"version": 1, "expires_on": "2027-01-31", "doses_per_vial": 10},
        headers=admin.headers,
    )
    assert fixed.json()["expires_on"] == "2027-01-31"
    assert fixed.json()["doses_per_vial"] == 10
    soon = await client.get(
        f"/api/v1/{tenant.code}/lots",
        params={"expiring_before": "2027-02-01", "product_id": "covid-mrna"},
        headers=admin.headers,
    )
    assert [x["id"] for x in soon.json()["items"]] == [lot["id"]]


async def test_another_tenants_lot_is_not_found(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    lot = await make_lot(client, tenant, admin.headers)
    other = await load_tenant(clean_db)
    stranger = await staff_token(client, clean_db, settings, other, "national_admin")
    answer = await client.get(f"/api/v1/{other.code}/lots/{lot['id']}", headers=stranger.headers)
    assert answer.status_code == 404
    patched = await client.patch(
        f"/api/v1/{other.code}/lots/{lot['id']}",
        json={"version": 1, "on_hold": True, "reason": "mine now"},
        headers=stranger.headers,
    )
    assert patched.status_code == 404
