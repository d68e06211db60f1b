"""What recording reads in its one statement, and what it leaves to the full reads: a
survivor's history counts the records merged into them, a merged record's id records for
its survivor, a lot number shared by two products finds the dose's, and the people booked
at a centre today are in reach of that centre's staff only (one statement serves every
centre: the centre and the day are its parameters)."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest
from sqlalchemy import update

from tests.immunization.support import add_lot, body, doses, doses_url, person_at, vaccinated_at
from tests.registration.conftest import Person, make_facility, staff_token
from tests.scheduling.booking.support import given, record_given
from tests.scheduling.conftest import REGION
from tests.support.clock import tenant_today
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.registration.models import Beneficiary
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

FIRST = dt.date.today() - dt.timedelta(days=40)


@pytest.mark.parametrize("recorded_for", ["survivor", "merged"])
async def test_a_dose_counts_the_doses_of_records_merged_into_the_person_and_goes_to_the_survivor(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
    recorded_for: str,
) -> None:
    survivor = await person_at(clean_db, tenant, centre)
    merged = await person_at(clean_db, tenant, centre)
    await record_given(clean_db, tenant, centre, merged, product_id="covid-mrna", day=FIRST)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Beneficiary)
            .where(Beneficiary.id == merged)
            .values(status="merged", merged_into_id=survivor)
        )
    named = survivor if recorded_for == "survivor" else merged

    r = await client.post(doses_url(tenant), json=body(named), headers=vaccinator.headers)

    assert r.status_code == 201, r.text
    assert (r.json()["beneficiary_id"], r.json()["dose_number"]) == (str(survivor), 2)
    assert await vaccinated_at(clean_db, tenant, survivor) is not None
    assert await vaccinated_at(clean_db, tenant, merged) is None


async def test_a_lot_number_of_two_products_finds_the_doses_and_names_the_other_when_wrong(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    other = await add_lot(clean_db, tenant, "mmr", "SHARED1")
    mine = await add_lot(clean_db, tenant, "covid-mrna", "SHARED1")
    person = await person_at(clean_db, tenant, centre)

    r = await client.post(
        doses_url(tenant),
        json=body(person, lot_number="shared1", product_id="covid-mrna"),
        headers=vaccinator.headers,
    )

    assert r.status_code == 201, r.text
    assert r.json()["lot_id"] == str(mine)
    refused = await client.post(
        doses_url(tenant),
        json=body(person, lot_id=str(other), lot_number=None),
        headers=vaccinator.headers,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("lot-other-product")
    assert [d.lot_id for d in await doses(clean_db, tenant)] == [mine]


async def test_an_unknown_person_is_404_and_nothing_is_written(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    r = await client.post(doses_url(tenant), json=body(uuid.uuid4()), headers=vaccinator.headers)

    assert r.status_code == 404, r.text
    assert await doses(clean_db, tenant) == []


async def test_people_booked_at_a_centre_today_are_in_reach_of_its_staff_only(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    home = await make_facility(clean_db, cache, tenant, code="HC-3", region_code=REGION)
    other = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=elsewhere
    )
    today = tenant_today(tenant)
    first = await person_at(clean_db, tenant, home)
    second = await person_at(clean_db, tenant, home)
    for person in (first, second):
        await given(
            clean_db, tenant, centre, person, product_id="covid-mrna", day=today, status="booked"
        )

    here = await client.post(doses_url(tenant), json=body(first), headers=vaccinator.headers)
    there = await client.post(
        doses_url(tenant), json=body(second, facility_id=str(elsewhere)), headers=other.headers
    )

    assert here.status_code == 201, here.text
    assert there.status_code == 404, there.text
    assert [d.beneficiary_id for d in await doses(clean_db, tenant)] == [first]
