"""Who sees whom: a centre's staff reach the people booked there on the day (issue 14, part 6)."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from sqlalchemy import select

from tests.registration.conftest import make_facility, staff_token
from tests.scheduling.booking.support import add_people, given
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.registration.models import Beneficiary
from vaxport.scheduling.reach import local_today
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def _reference(db: Database, tenant: TenantInfo, person: uuid.UUID) -> str:
    async with db.read(tenant_id=tenant.id) as s:
        ref = await s.scalar(select(Beneficiary.reference).where(Beneficiary.id == person))
    assert ref is not None
    return ref


async def test_a_vaccinator_reaches_the_people_booked_at_their_centre_today_and_no_one_else(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    other_centre = await make_facility(
        clean_db, cache, tenant, code="HC-2", region_code="NOR-01-01"
    )
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    today = local_today(tenant)
    # Registered elsewhere (a citizen's family member in another region).
    today_here, tomorrow_here, today_there = await add_people(
        clean_db, tenant, 3, account_id=uuid.uuid4(), region_code="SOU-01-01"
    )
    people = f"/api/v1/{tenant.code}/beneficiaries"
    before = await client.get(f"{people}/{today_here}", headers=vaccinator.headers)
    assert before.status_code == 404

    await given(clean_db, tenant, centre, today_here, product_id="covid-mrna", day=today,
                status="booked")  # fmt: skip
    await given(clean_db, tenant, centre, tomorrow_here, product_id="covid-mrna",
                day=today + dt.timedelta(days=1), status="booked")  # fmt: skip
    await given(clean_db, tenant, other_centre, today_there, product_id="covid-mrna", day=today,
                status="booked")  # fmt: skip

    seen = await client.get(f"{people}/{today_here}", headers=vaccinator.headers)
    assert seen.status_code == 200, seen.text
    for unseen in (tomorrow_here, today_there):
        r = await client.get(f"{people}/{unseen}", headers=vaccinator.headers)
        assert r.status_code == 404
    listed = await client.get(people, headers=vaccinator.headers)
    assert [p["id"] for p in listed.json()["items"]] == [str(today_here)]
    reference = await _reference(clean_db, tenant, today_here)
    found = await client.get(
        f"{people}/search", params={"reference": reference}, headers=vaccinator.headers
    )
    assert [p["id"] for p in found.json()] == [str(today_here)]
    hidden = await client.get(
        f"{people}/search",
        params={"reference": await _reference(clean_db, tenant, tomorrow_here)},
        headers=vaccinator.headers,
    )
    assert hidden.json() == []
    async with clean_db.read(tenant_id=tenant.id) as s:
        actions = (
            await s.execute(
                select(AuditEntry.action).where(
                    AuditEntry.actor_id == vaccinator.id,
                    AuditEntry.object_id == str(today_here),
                )
            )
        ).scalars()
        audited = set(actions)
    assert {"beneficiary.read", "beneficiary.list", "beneficiary.search"} <= audited
    # Their appointments too, and nothing more: no change to the record itself.
    visits = await client.get(
        f"/api/v1/{tenant.code}/appointments",
        params={"beneficiary_id": str(today_here)},
        headers=vaccinator.headers,
    )
    assert visits.status_code == 200
    assert len(visits.json()["items"]) == 1
    patch = await client.patch(
        f"{people}/{today_here}", json={"preferred_locale": "fr"}, headers=vaccinator.headers
    )
    assert patch.status_code == 404


async def test_a_cancelled_appointment_today_opens_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff_token(
        client, clean_db, settings, tenant, "facility_manager", facility_id=centre
    )
    [person] = await add_people(clean_db, tenant, 1, account_id=uuid.uuid4())
    await given(clean_db, tenant, centre, person, product_id="covid-mrna",
                day=local_today(tenant), status="cancelled")  # fmt: skip
    r = await client.get(f"/api/v1/{tenant.code}/beneficiaries/{person}", headers=manager.headers)
    assert r.status_code == 404
