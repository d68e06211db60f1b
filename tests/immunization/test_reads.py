"""Who sees which doses: staff in reach (audited), citizens for their family, nobody else;
the next due date of each series; the subject-access export."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx

from tests.immunization.support import audited, body, doses_url, history_url, person_at
from tests.registration.conftest import Person, citizen_token, staff_token
from tests.scheduling.booking.support import add_people, record_given
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.registration import service as registration
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def test_staff_read_a_persons_doses_with_the_next_due_dates_and_the_read_is_audited(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    recorded = await client.post(
        doses_url(tenant), json=body(person, notes="fine"), headers=vaccinator.headers
    )
    assert recorded.status_code == 201, recorded.text
    day = dt.date.fromisoformat(recorded.json()["day"])

    r = await client.get(history_url(tenant, person), headers=vaccinator.headers)
    one = await client.get(
        f"{doses_url(tenant)}/{recorded.json()['id']}", headers=vaccinator.headers
    )

    assert r.status_code == 200, r.text
    out = r.json()
    assert [(d["dose_number"], d["notes"]) for d in out["doses"]] == [(1, "fine")]
    series = {s["series"]: s for s in out["series"]}
    covid = series["covid-19"]
    assert (covid["doses_given"], covid["next_dose_number"], covid["complete"]) == (1, 2, False)
    assert covid["next_earliest"] == (day + dt.timedelta(days=21)).isoformat()
    # The latest of the products that may give dose 2 (mRNA's 42 days, protein's longer).
    assert covid["next_latest"] >= (day + dt.timedelta(days=42)).isoformat()
    assert series["measles"]["doses_given"] == 0
    assert one.status_code == 200
    assert one.json() == out["doses"][0]
    reads = await audited(clean_db, tenant, "dose.read")
    assert {(e.object_type, e.object_id, e.actor_id) for e in reads} == {
        ("beneficiary", str(person), vaccinator.id)
    }
    assert len(reads) == 2


async def test_a_citizen_reads_their_members_doses_without_staff_notes_and_no_one_elses(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    other = await citizen_token(clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me.id)
    first = dt.date.today() - dt.timedelta(days=30)
    dose_id = await record_given(
        clean_db, tenant, centre, member, product_id="covid-mrna", day=first
    )

    mine = await client.get(history_url(tenant, member), headers=me.headers)
    theirs = await client.get(history_url(tenant, member), headers=other.headers)
    one = await client.get(f"{doses_url(tenant)}/{dose_id}", headers=other.headers)

    assert mine.status_code == 200, mine.text
    [dose] = mine.json()["doses"]
    assert (dose["id"], dose["notes"], dose["override_reason"]) == (str(dose_id), None, None)
    covid = next(s for s in mine.json()["series"] if s["series"] == "covid-19")
    assert covid["next_earliest"] == (first + dt.timedelta(days=21)).isoformat()
    assert (theirs.status_code, one.status_code) == (404, 404)
    assert await audited(clean_db, tenant, "dose.read") == []  # citizens' own reads


async def test_staff_out_of_reach_and_another_tenant_get_404(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    dose_id = await record_given(
        clean_db, tenant, centre, person, product_id="covid-mrna", day=dt.date.today()
    )
    there = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=elsewhere
    )
    other_tenant = await load_tenant(clean_db, cache)
    abroad = await staff_token(client, clean_db, settings, other_tenant, "national_admin")

    answers = [
        await client.get(history_url(tenant, person), headers=there.headers),
        await client.get(f"{doses_url(tenant)}/{dose_id}", headers=there.headers),
        await client.get(history_url(other_tenant, person), headers=abroad.headers),
        await client.get(f"{doses_url(other_tenant)}/{dose_id}", headers=abroad.headers),
        await client.get(f"{doses_url(tenant)}/{uuid.uuid4()}", headers=there.headers),
    ]

    assert [r.status_code for r in answers] == [404] * 5, [r.text for r in answers]


async def test_the_subject_access_export_includes_the_persons_doses(
    clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    person = await person_at(clean_db, tenant, centre)
    dose_id = await record_given(
        clean_db, tenant, centre, person, product_id="covid-mrna", day=dt.date.today()
    )

    data = await registration.export_person(db=clean_db, tenant=tenant, beneficiary_id=person)

    assert [(d["id"], d["dose_number"], d["series"]) for d in data["doses"]] == [
        (str(dose_id), 1, "covid-19")
    ]
