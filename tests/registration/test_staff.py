"""Staff: registering walk-ins at their centre, claims by citizens, scoped search."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, update

from tests.registration.conftest import citizen_token, make_facility, staff_token
from tests.registration.helpers import member, national_id
from tests.support.tenants import load_tenant
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.registration.models import Beneficiary
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def url(tenant: TenantInfo, suffix: str = "") -> str:
    return f"/api/v1/{tenant.code}/beneficiaries{suffix}"


async def test_a_walk_in_is_registered_at_the_centre_and_claimed_by_a_citizen(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    centre = await make_facility(clean_db, cache, tenant, code="HC-1", region_code="NOR-01-01")
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    number = national_id()
    doc = [{"id_type": "national-id", "number": number}]
    r = await client.post(
        url(tenant, "/walk-ins"),
        json=member(documents=doc, region_code="NOR-01-02"),
        headers=vaccinator.headers,
    )
    assert r.status_code == 201, r.text
    walk_in = r.json()
    assert walk_in["facility_id"] == str(centre)
    assert walk_in["created_via"] == "walk_in"
    assert walk_in["claimed"] is False
    code = walk_in["claim_code"]
    assert len(code) == 10
    # The vaccinator finds the person by the slip reference; their read is audited.
    found = await client.get(
        url(tenant, "/search"),
        params={"reference": walk_in["reference"].lower()},
        headers=vaccinator.headers,
    )
    assert [p["id"] for p in found.json()] == [walk_in["id"]]

    citizen = await citizen_token(clean_db, settings, tenant)
    claims = url(tenant, "/claims")
    wrong_code = await client.post(
        claims,
        json={"id_type": "national-id", "number": number, "code": "ABCDEFGHJK"},
        headers=citizen.headers,
    )
    unknown_id = await client.post(
        claims,
        json={"id_type": "national-id", "number": national_id(), "code": code},
        headers=citizen.headers,
    )
    assert wrong_code.status_code == unknown_id.status_code == 404
    assert wrong_code.json()["detail"] == unknown_id.json()["detail"]
    ok = await client.post(
        claims,
        json={"id_type": "national-id", "number": number, "code": code.lower()},
        headers=citizen.headers,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["claimed"] is True
    listed = await client.get(url(tenant), headers=citizen.headers)
    assert [p["id"] for p in listed.json()["items"]] == [walk_in["id"]]
    # The slip cannot be used twice.
    other = await citizen_token(clean_db, settings, tenant)
    again = await client.post(
        claims,
        json={"id_type": "national-id", "number": number, "code": code},
        headers=other.headers,
    )
    assert again.status_code == 404
    async with clean_db.read(tenant_id=tenant.id) as s:
        rows = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.outcome, AuditEntry.actor_role).where(
                    AuditEntry.action.like("beneficiary.%")
                )
            )
        ).all()
    assert ("beneficiary.register", "success", "vaccinator") in rows
    assert ("beneficiary.search", "success", "vaccinator") in rows
    assert ("beneficiary.claim", "success", "citizen") in rows
    assert sum(1 for r in rows if r == ("beneficiary.claim", "failure", "citizen")) == 3


async def test_staff_search_reaches_only_their_jurisdiction(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    here = await make_facility(clean_db, cache, tenant, code="HC-1", region_code="NOR-01-01")
    there = await make_facility(clean_db, cache, tenant, code="HC-2", region_code="NOR-01-01")
    at_here = await staff_token(client, clean_db, settings, tenant, "vaccinator", facility_id=here)
    at_there = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=there
    )
    north = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    south = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="SOU")
    national = await staff_token(client, clean_db, settings, tenant, "national_admin")
    number = national_id()
    made = await client.post(
        url(tenant, "/walk-ins"),
        json=member(
            documents=[{"id_type": "national-id", "number": number}],
            region_code="NOR-02-01",
            phone="+16135550111",
        ),
        headers=at_here.headers,
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    queries = (
        {"id_type": "national-id", "number": number},
        {"phone": "613-555-0111"},
        {"reference": made.json()["reference"]},
    )
    for who, sees in (
        (at_here, True),
        (north, True),
        (national, True),
        (at_there, False),
        (south, False),
    ):
        for q in queries:
            r = await client.get(url(tenant, "/search"), params=q, headers=who.headers)
            assert r.status_code == 200, r.text
            assert [p["id"] for p in r.json()] == ([pid] if sees else []), (q, sees)
        got = await client.get(url(tenant, f"/{pid}"), headers=who.headers)
        assert got.status_code == (200 if sees else 404)
        listed = await client.get(url(tenant), headers=who.headers)
        assert (pid in [p["id"] for p in listed.json()["items"]]) is sees
    # A search names exactly one criterion.
    bad = await client.get(
        url(tenant, "/search"),
        params={"phone": "+16135550111", "reference": "ABCD1234"},
        headers=national.headers,
    )
    assert bad.status_code == 422
    # Staff of another tenant find nothing, even with this tenant's code in the path.
    other = await load_tenant(clean_db, cache)
    outsider = await staff_token(client, clean_db, settings, other, "national_admin")
    for q in queries:
        r = await client.get(url(other, "/search"), params=q, headers=outsider.headers)
        assert r.json() == []
        r = await client.get(url(tenant, "/search"), params=q, headers=outsider.headers)
        assert r.status_code == 404
    assert (await client.get(url(other, f"/{pid}"), headers=outsider.headers)).status_code == 404


async def test_staff_register_only_inside_their_region_and_vaccinated_people_are_kept(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    north = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    outside = await client.post(
        url(tenant), json=member(region_code="SOU-01-01"), headers=north.headers
    )
    assert outside.status_code == 403
    assert outside.json()["errors"] == [
        {
            "field": "region_code",
            "code": "is-outside-the-area-you-work-in-choose-one-in-it",
            "reason": "is outside the area you work in: choose one in it",
            "message": "Region: is outside the area you work in: choose one in it",
        }
    ]
    made = await client.post(
        url(tenant), json=member(region_code="NOR-03-02"), headers=north.headers
    )
    assert made.status_code == 201, made.text
    assert made.json()["created_via"] == "staff"
    assert made.json()["claim_code"]
    pid = made.json()["id"]
    moved = await client.patch(
        url(tenant, f"/{pid}"), json={"region_code": "SOU-01-01"}, headers=north.headers
    )
    assert moved.status_code == 403
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Beneficiary)
            .where(Beneficiary.id == uuid.UUID(pid))
            .values(vaccinated_at=utcnow())
        )
    refused = await client.delete(url(tenant, f"/{pid}"), headers=north.headers)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"].endswith("/retained-record")
    assert problem["retention_years"] == tenant.config.retention.vaccinated_records_years
    assert "30 years" in problem["detail"]
    assert (await client.get(url(tenant, f"/{pid}"), headers=north.headers)).status_code == 200


async def test_staff_reads_are_audited_and_a_merged_record_answers_with_its_survivor(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    first = (await client.post(url(tenant), json=member(), headers=admin.headers)).json()
    second = (
        await client.post(url(tenant), json=member(given_name="Ada B."), headers=admin.headers)
    ).json()
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Beneficiary)
            .where(Beneficiary.id == uuid.UUID(second["id"]))
            .values(status="merged", merged_into_id=uuid.UUID(first["id"]))
        )
    got = await client.get(url(tenant, f"/{second['id']}"), headers=admin.headers)
    assert got.json()["id"] == first["id"]
    listed = await client.get(url(tenant), params={"limit": 1}, headers=admin.headers)
    assert [p["id"] for p in listed.json()["items"]] == [first["id"]]
    assert listed.json()["next_cursor"] is None  # the merged record is not listed
    async with clean_db.read(tenant_id=tenant.id) as s:
        reads = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.object_id, AuditEntry.actor_id).where(
                    AuditEntry.action.in_(["beneficiary.read", "beneficiary.list"])
                )
            )
        ).all()
    assert sorted((a, o) for a, o, _ in reads) == [
        ("beneficiary.list", first["id"]),
        ("beneficiary.read", first["id"]),
    ]
    assert {actor for _, _, actor in reads} == {admin.id}


def test_the_create_answer_links_to_get_patch_and_delete(app) -> None:  # type: ignore[no-untyped-def]
    spec = app.openapi()
    created = spec["paths"]["/api/v1/{tenant}/beneficiaries"]["post"]["responses"]["201"]
    links = created["links"]
    assert {link["operationId"] for link in links.values()} == {
        "get_beneficiary",
        "update_beneficiary",
        "delete_beneficiary",
    }
    assert all(
        link["parameters"] == {"beneficiary_id": "$response.body#/id"} for link in links.values()
    )


async def test_a_centres_vaccinator_moves_walk_ins_only_within_the_centres_region(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    # Issue 12: the check of a move looked at the person's facility (the vaccinator's
    # own), so a walk-in could be sent to any region.
    centre = await make_facility(clean_db, cache, tenant, code="C-NOR", region_code="NOR-01-01")
    staff = await staff_token(client, clean_db, settings, tenant, "vaccinator", facility_id=centre)
    made = await client.post(
        url(tenant, "/walk-ins"), json=member(region_code="NOR-01-02"), headers=staff.headers
    )
    assert made.status_code == 201, made.text  # a walk-in may live anywhere
    pid = made.json()["id"]
    away = await client.patch(
        url(tenant, f"/{pid}"), json={"region_code": "SOU-01-01"}, headers=staff.headers
    )
    assert away.status_code == 403
    assert away.json()["errors"] == [
        {"field": "region_code", "reason": "is outside your jurisdiction"}
    ]
    async with clean_db.read(tenant_id=tenant.id) as s:
        person = await s.get(Beneficiary, uuid.UUID(pid))
        assert person is not None
        assert person.region_code == "NOR-01-02"
    home = await client.patch(
        url(tenant, f"/{pid}"), json={"region_code": "NOR-01-01"}, headers=staff.headers
    )
    assert home.status_code == 200, home.text
    assert home.json()["region_code"] == "NOR-01-01"
