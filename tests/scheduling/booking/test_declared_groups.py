"""Priority groups end to end: what a person declares at registration decides which seats
they may take (a session for some groups, a vaccine gated by the tenant's groups)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update

from tests.registration.conftest import Person, citizen_token, make_facility, staff_token
from tests.registration.helpers import member
from tests.scheduling.booking.support import DAY
from tests.scheduling.conftest import REGION
from tests.scheduling.seed import open_session
from tests.support.tenants import load_tenant
from tests.tenancy.helpers import demo_config
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.scheduling.models import Session
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PROBLEM = "application/problem+json"


async def _register(client: httpx.AsyncClient, tenant: TenantInfo, who: Person) -> str:
    r = await client.post(
        f"/api/v1/{tenant.code}/beneficiaries", json=member(region_code=REGION), headers=who.headers
    )
    assert r.status_code == 201, r.text
    assert (r.json()["risk_groups"], r.json()["occupations"]) == ([], [])
    return str(r.json()["id"])


async def _slot(
    db: Database, tenant: TenantInfo, centre: uuid.UUID, groups: list[str] | None = None
) -> str:
    seeded = await open_session(db, tenant.id, centre, region_code=REGION, day=DAY)
    if groups:
        async with db.transaction(tenant_id=tenant.id) as uow:
            await uow.session.execute(
                update(Session)
                .where(Session.id == seeded.session_id)
                .values(eligibility={"groups": groups})
            )
    return str(seeded.slot_ids[0])


async def _book(
    client: httpx.AsyncClient, tenant: TenantInfo, who: Person, person: str, slot_id: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/{tenant.code}/appointments",
        json={"beneficiary_id": person, "slot_id": slot_id},
        headers=who.headers,
    )


async def test_a_health_workers_session_takes_a_person_once_they_declare_the_occupation(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    person = await _register(client, tenant, me)
    slot_id = await _slot(clean_db, tenant, centre, groups=["health-workers"])

    refused = await _book(client, tenant, me, person, slot_id)
    assert (refused.status_code, refused.headers["content-type"]) == (422, PROBLEM)
    assert refused.json()["type"].endswith("not-in-session-group")

    changed = await client.patch(
        f"/api/v1/{tenant.code}/beneficiaries/{person}",
        json={"occupations": ["health-worker"]},
        headers=me.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["occupations"] == ["health-worker"]
    booked = await _book(client, tenant, me, person, slot_id)
    assert booked.status_code == 201, booked.text


async def test_a_vaccine_gated_to_risk_groups_is_booked_once_staff_record_one(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache, settings: Settings
) -> None:
    eligibility = demo_config()["eligibility"]
    eligibility["groups"] = [
        g for g in eligibility["groups"] if g["code"] in ("health-workers", "at-risk")
    ]
    tenant = await load_tenant(clean_db, cache, changes={"eligibility": eligibility})
    centre = await make_facility(clean_db, cache, tenant, code="HC-1", region_code=REGION)
    staff = await staff_token(client, clean_db, settings, tenant, "national_admin")
    person = await _register(client, tenant, staff)
    slot_id = await _slot(clean_db, tenant, centre)

    refused = await _book(client, tenant, staff, person, slot_id)
    assert (refused.status_code, refused.headers["content-type"]) == (422, PROBLEM)
    assert refused.json()["type"].endswith("not-in-eligible-group")

    changed = await client.patch(
        f"/api/v1/{tenant.code}/beneficiaries/{person}",
        json={"risk_groups": ["chronic-illness"]},
        headers=staff.headers,
    )
    assert changed.status_code == 200, changed.text
    booked = await _book(client, tenant, staff, person, slot_id)
    assert booked.status_code == 201, booked.text
