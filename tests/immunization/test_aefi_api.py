"""Adverse event reports: by staff and by citizens, refused when wrong, kept in scope."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from tests.immunization.conftest import REGION
from tests.immunization.helpers import SERIOUS, aefi_body, make_dose, make_lot, register
from tests.registration.conftest import citizen_token, make_facility, staff_token
from tests.scheduling.booking.support import add_people
from tests.support.tenants import load_tenant
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.outbox.models import OutboxEvent
from vaxport.immunization.aefi.models import AefiReport
from vaxport.registration import service as registration
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def _dosed(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A person of REGION given a dose at ``centre`` from a new lot: (person, dose, lot)."""
    admin = await staff_token(client, db, settings, tenant, "region_admin", region_code="NOR")
    lot = await make_lot(client, tenant, admin.headers)
    person = await register(client, tenant, admin.headers, region_code=REGION)
    lot_id = uuid.UUID(lot["id"])
    dose = await make_dose(
        db, tenant, beneficiary_id=person, lot_id=lot_id, region_code=REGION, facility_id=centre
    )
    return person, dose, lot_id


async def test_a_vaccinator_reports_an_event_after_a_dose_at_their_centre(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    person, dose, lot = await _dosed(client, clean_db, settings, tenant, centre)
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    made = await client.post(
        f"/api/v1/{tenant.code}/aefi", json=aefi_body(dose), headers=vaccinator.headers
    )
    assert made.status_code == 201, made.text
    report = made.json()
    assert report["beneficiary_id"] == str(person)
    assert report["lot_id"] == str(lot)
    assert report["region_code"] == REGION
    assert report["symptoms"] == ["10037660", "10019211"]
    assert report["reporter_kind"] == "staff"
    assert (report["status"], report["serious"], report["version"]) == ("reported", False, 1)
    async with clean_db.read(tenant_id=tenant.id) as session:
        table = AefiReport.__table__
        stored = await session.scalar(
            select(table.c.symptoms_enc).where(table.c.id == uuid.UUID(report["id"]))
        )
        assert stored is not None
        assert b"10037660" not in stored  # health data at rest
        events = list(await session.scalars(select(OutboxEvent.event_type)))
    assert "aefi.serious" not in events
    listed = await client.get(
        f"/api/v1/{tenant.code}/aefi", params={"lot_id": str(lot)}, headers=vaccinator.headers
    )
    [summary] = listed.json()["items"]
    assert "symptoms" not in summary
    assert "narrative" not in summary


async def test_an_unknown_symptom_is_a_422_naming_its_place_and_nothing_is_kept(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    _, dose, _ = await _dosed(client, clean_db, settings, tenant, centre)
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    url = f"/api/v1/{tenant.code}/aefi"
    answer = await client.post(
        url, json=aefi_body(dose, symptoms=["10037660", "99999999"]), headers=vaccinator.headers
    )
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["symptoms[1]"]
    no_criteria = await client.post(
        url, json=aefi_body(dose, serious=True), headers=vaccinator.headers
    )
    assert no_criteria.status_code == 422
    assert no_criteria.json()["errors"][0]["field"] == "criteria"
    no_dose = await client.post(url, json=aefi_body(None), headers=vaccinator.headers)
    assert no_dose.status_code == 422
    assert no_dose.json()["errors"][0]["field"] == "dose_id"
    listed = await client.get(url, headers=vaccinator.headers)
    assert listed.json()["items"] == []


async def test_out_of_reach_and_another_tenants_doses_are_not_found(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    person, dose, _ = await _dosed(client, clean_db, settings, tenant, centre)
    elsewhere = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", region_code="CEN"
    )
    url = f"/api/v1/{tenant.code}/aefi"
    far = await client.post(url, json=aefi_body(dose), headers=elsewhere.headers)
    assert far.status_code == 404
    other = await load_tenant(clean_db)
    stranger = await staff_token(client, clean_db, settings, other, "vaccinator", region_code="NOR")
    foreign = await client.post(
        f"/api/v1/{other.code}/aefi", json=aefi_body(dose), headers=stranger.headers
    )
    assert foreign.status_code == 404
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    made = await client.post(url, json=aefi_body(dose), headers=vaccinator.headers)
    report = made.json()["id"]
    assert (await client.get(f"{url}/{report}", headers=elsewhere.headers)).status_code == 404
    assert (await client.get(url, headers=elsewhere.headers)).json()["items"] == []
    assert person  # reached through the dose's place, not the person's registration


async def test_a_citizen_reports_for_their_member_and_staff_triage_it(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    lot = await make_lot(client, tenant, admin.headers)
    citizen = await citizen_token(clean_db, settings, tenant)
    child = await register(client, tenant, citizen.headers, region_code=REGION)
    dose = await make_dose(
        clean_db,
        tenant,
        beneficiary_id=child,
        lot_id=uuid.UUID(lot["id"]),
        region_code=REGION,
        facility_id=centre,
    )
    member_url = f"/api/v1/{tenant.code}/beneficiaries/{child}/aefi"
    made = await client.post(member_url, json=aefi_body(dose), headers=citizen.headers)
    assert made.status_code == 201, made.text
    report = made.json()
    assert (report["reporter_kind"], report["lot_id"]) == ("citizen", lot["id"])
    mine = await client.get(member_url, headers=citizen.headers)
    assert [r["id"] for r in mine.json()] == [report["id"]]

    someone_else = await citizen_token(clean_db, settings, tenant)
    refused = await client.post(member_url, json=aefi_body(dose), headers=someone_else.headers)
    assert refused.status_code == 404
    assert (await client.get(member_url, headers=someone_else.headers)).status_code == 404
    staff_list = await client.get(f"/api/v1/{tenant.code}/aefi", headers=citizen.headers)
    assert staff_list.status_code == 403
    other_child = await register(client, tenant, someone_else.headers, region_code=REGION)
    not_theirs = await client.post(
        f"/api/v1/{tenant.code}/beneficiaries/{other_child}/aefi",
        json=aefi_body(dose),
        headers=someone_else.headers,
    )
    assert not_theirs.status_code == 422
    assert not_theirs.json()["errors"][0]["field"] == "dose_id"

    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    triage_url = f"/api/v1/{tenant.code}/aefi/{report['id']}/triage"
    triaged = await client.post(
        triage_url,
        json={"version": 1, **SERIOUS, "outcome": "recovered", "note": "Admitted overnight"},
        headers=vaccinator.headers,
    )
    assert triaged.status_code == 200, triaged.text
    assert triaged.json()["status"] == "triaged"
    assert triaged.json()["serious"] is True
    assert triaged.json()["triage_note"] == "Admitted overnight"
    stale = await client.post(
        triage_url, json={"version": 1, "close": True}, headers=vaccinator.headers
    )
    assert stale.status_code == 409
    closed = await client.post(
        triage_url, json={"version": 2, "close": True}, headers=vaccinator.headers
    )
    assert closed.json()["status"] == "closed"
    async with clean_db.read(tenant_id=tenant.id) as session:
        events = list(
            await session.scalars(
                select(OutboxEvent.event_type).where(OutboxEvent.event_type == "aefi.serious")
            )
        )
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == report["id"])
                .order_by(AuditEntry.occurred_at, AuditEntry.id)
            )
        )
    assert events == ["aefi.serious"]  # made serious once, by the triage
    assert actions == ["aefi.report", "aefi.triage", "aefi.close"]


async def test_a_full_read_by_staff_is_audited_and_the_export_holds_the_reports(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    person, dose, _ = await _dosed(client, clean_db, settings, tenant, centre)
    manager = await staff_token(
        client, clean_db, settings, tenant, "facility_manager", facility_id=centre
    )
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    made = await client.post(
        f"/api/v1/{tenant.code}/aefi", json=aefi_body(dose), headers=vaccinator.headers
    )
    report = made.json()["id"]
    read = await client.get(f"/api/v1/{tenant.code}/aefi/{report}", headers=manager.headers)
    assert read.json()["narrative"] == "Fever 38.5 the evening after the dose"
    async with clean_db.read(tenant_id=tenant.id) as session:
        reads = await session.scalars(
            select(AuditEntry.actor_id).where(
                AuditEntry.action == "aefi.read", AuditEntry.object_id == report
            )
        )
        assert list(reads) == [manager.id]
    exported = await registration.export_person(db=clean_db, tenant=tenant, beneficiary_id=person)
    [kept] = exported["aefi_reports"]
    assert kept["id"] == report
    assert kept["symptoms"] == ["10037660", "10019211"]


async def test_a_retried_report_with_its_idempotency_key_answers_the_first_and_reports_once(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    _, dose, _ = await _dosed(client, clean_db, settings, tenant, centre)
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    url = f"/api/v1/{tenant.code}/aefi"
    headers = {**vaccinator.headers, "Idempotency-Key": "aefi-once-31c4"}
    report = aefi_body(dose)

    first = await client.post(url, json=report, headers=headers)
    again = await client.post(url, json=report, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.headers["location"] == first.headers["location"] == f"{url}/{first.json()['id']}"
    assert [
        r["id"] for r in (await client.get(url, headers=vaccinator.headers)).json()["items"]
    ] == [first.json()["id"]]
    other = await client.post(url, json=aefi_body(dose, outcome="recovered"), headers=headers)
    assert other.status_code == 422  # the key belongs to the first request
    assert other.json()["errors"][0]["field"] == "header.Idempotency-Key"


async def test_staff_reach_a_dose_given_elsewhere_through_its_person(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
) -> None:
    [person] = await add_people(clean_db, tenant, 1, facility_id=elsewhere)
    dose = await make_dose(
        clean_db, tenant, beneficiary_id=person, lot_id=None, region_code=REGION, facility_id=centre
    )
    theirs = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=elsewhere
    )
    url = f"/api/v1/{tenant.code}/aefi"

    made = await client.post(url, json=aefi_body(dose), headers=theirs.headers)

    assert made.status_code == 201, made.text
    assert (made.json()["beneficiary_id"], made.json()["facility_id"]) == (str(person), str(centre))
    async with clean_db.read(tenant_id=tenant.id) as session:
        stored = await session.get(AefiReport, uuid.UUID(made.json()["id"]))
        assert stored is not None
        assert stored.narrative == "Fever 38.5 the evening after the dose"  # the person's key
    third = await make_facility(clean_db, cache, tenant, code="TH-1", region_code=REGION)
    stranger = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=third
    )
    assert (
        await client.post(url, json=aefi_body(dose), headers=stranger.headers)
    ).status_code == 404
