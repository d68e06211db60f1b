"""Admins list who received a lot: only people in their reach, every page read audited."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from tests.immunization.conftest import REGION
from tests.immunization.helpers import make_dose, make_lot
from tests.registration.conftest import make_facility, staff_token
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def test_a_region_admin_lists_the_recipients_in_their_region_and_the_read_is_audited(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    national = await staff_token(client, clean_db, settings, tenant, "national_admin")
    lot = await make_lot(client, tenant, national.headers)
    lot_id = uuid.UUID(lot["id"])
    central = await make_facility(clean_db, cache, tenant, code="CC-1", region_code="CEN-01-01")
    north = [
        await make_dose(
            clean_db,
            tenant,
            beneficiary_id=uuid.uuid4(),
            lot_id=lot_id,
            region_code=REGION,
            facility_id=centre,
        )
        for _ in range(3)
    ]
    await make_dose(
        clean_db,
        tenant,
        beneficiary_id=uuid.uuid4(),
        lot_id=lot_id,
        region_code="CEN-01-01",
        facility_id=central,
    )
    admin = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    url = f"/api/v1/{tenant.code}/lots/{lot['id']}/recipients"
    first = await client.get(url, params={"limit": 2}, headers=admin.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [i["dose_id"] for i in page["items"]] == [str(d) for d in north[:2]]
    rest = await client.get(
        url, params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin.headers
    )
    assert [i["dose_id"] for i in rest.json()["items"]] == [str(north[2])]
    assert rest.json()["next_cursor"] is None
    everyone = await client.get(url, headers=national.headers)
    assert len(everyone.json()["items"]) == 4

    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    assert (await client.get(url, headers=vaccinator.headers)).status_code == 403
    missing = f"/api/v1/{tenant.code}/lots/{uuid.uuid4()}/recipients"
    assert (await client.get(missing, headers=admin.headers)).status_code == 404
    bad = await client.get(url, params={"cursor": "nope"}, headers=admin.headers)
    assert bad.status_code == 422
    async with clean_db.read(tenant_id=tenant.id) as session:
        reads = list(
            await session.scalars(
                select(AuditEntry.actor_id).where(
                    AuditEntry.action == "lot.recipients.read", AuditEntry.object_id == lot["id"]
                )
            )
        )
    assert sorted(map(str, reads)) == sorted(map(str, [admin.id, admin.id, national.id]))
