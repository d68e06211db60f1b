"""FHIR R4 at /fhir/{tenant}: what is served, to whom, audited, and errors as OperationOutcome."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select, update

from tests.immunization.fhir_support import FHIR_JSON, add_dose, add_lot, fhir, register
from tests.registration.conftest import Person, citizen_token, make_facility, staff_token
from tests.support.tenants import load_tenant
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.identity.credentials import signing
from vaxport.registration.models import Beneficiary
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

CVX = "http://hl7.org/fhir/sid/cvx"
SNOMED = "http://snomed.info/sct"


@pytest.fixture(autouse=True)
def _fresh_signing_keys(db: Database) -> None:
    # Tables are emptied after each test: never sign with a key this process remembers.
    signing.forget(db)


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    """A fresh copy of the demo country."""
    return await load_tenant(clean_db, cache)


@pytest.fixture
async def admin(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> Person:
    return await staff_token(client, clean_db, settings, tenant, "national_admin")


async def _audited(db: Database, tenant: TenantInfo, action: str) -> list[AuditEntry]:
    async with db.read(tenant_id=tenant.id) as session:
        rows = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.tenant_id == tenant.id, AuditEntry.action == action)
                .order_by(AuditEntry.occurred_at, AuditEntry.txn_seq)
            )
        )
        session.expunge_all()  # the read's rollback must not expire what we return
        return rows


async def _fhir_audit_count(db: Database, tenant: TenantInfo) -> int:
    async with db.read(tenant_id=tenant.id) as session:
        found = await session.scalar(
            select(func.count()).where(
                AuditEntry.tenant_id == tenant.id, AuditEntry.action.like("fhir.%")
            )
        )
        return int(found or 0)


def _outcome(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An error answer: ``status``, FHIR JSON, a valid OperationOutcome with ``code``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body: dict[str, Any] = r.json()
    OperationOutcome.model_validate(body)
    assert body["resourceType"] == "OperationOutcome"
    assert {i["code"] for i in body["issue"]} == {code}, body
    return body


def _codes(concept: dict[str, Any]) -> dict[str, str]:
    return {c["system"]: c["code"] for c in concept["coding"]}


async def test_metadata_is_public_and_lists_exactly_what_is_served(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    r = await client.get(fhir(tenant, "/metadata"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    assert body["kind"] == "instance"
    [rest] = body["rest"]
    served = {res["type"]: res for res in rest["resource"]}
    assert set(served) == {"Patient", "Immunization"}
    assert [i["code"] for i in served["Patient"]["interaction"]] == ["read"]
    assert [o["name"] for o in served["Patient"]["operation"]] == ["everything"]
    assert [i["code"] for i in served["Immunization"]["interaction"]] == ["read", "search-type"]
    assert [p["name"] for p in served["Immunization"]["searchParam"]] == ["patient"]
    unknown = await client.get("/fhir/nosuchtenant/metadata")
    _outcome(unknown, 404, "not-found")


async def test_staff_read_a_patient_with_reference_and_no_id_numbers_audited(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, admin: Person
) -> None:
    number = "7382164593"
    person = await register(
        client,
        tenant,
        admin.headers,
        documents=[{"id_type": "national-id", "number": number}],
        phone="+1 613 555 0142",
    )
    api = f"/api/v1/{tenant.code}/beneficiaries/{person}"
    reference = (await client.get(api, headers=admin.headers)).json()["reference"]

    r = await client.get(fhir(tenant, f"/Patient/{person}"), headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    patient = r.json()
    assert patient["resourceType"] == "Patient"
    assert patient["id"] == str(person)
    assert patient["name"][0]["given"] == ["Ada"]
    assert patient["name"][0]["family"] == "Lovelace"
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1985-12-10"
    [identifier] = patient["identifier"]
    assert identifier["value"] == reference
    assert identifier["system"].endswith(f"/fhir/{tenant.code}/sid/beneficiary-reference")
    # Staff who read a person's record see their phone, as registration shows it to them.
    assert patient["telecom"] == [{"system": "phone", "value": "+16135550142"}]
    assert number not in r.text

    [entry] = await _audited(clean_db, tenant, "fhir.patient.read")
    assert entry.object_type == "beneficiary"
    assert entry.object_id == str(person)
    assert entry.actor_id == admin.id
    assert entry.request_id == r.headers["x-request-id"]


async def test_immunizations_of_a_patient_recorded_and_voided_with_their_codes(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    admin: Person,
) -> None:
    person = await register(client, tenant, admin.headers)
    centre = await make_facility(clean_db, cache, tenant, code="HC-9", region_code="CEN-01-01")
    lot = await add_lot(clean_db, tenant)
    first = await add_dose(clean_db, tenant, person, lot_id=lot, facility_id=centre)
    voided = await add_dose(
        clean_db, tenant, person, dose_number=2, status="voided", site="right-thigh", route="SC"
    )
    measles = await add_dose(
        clean_db, tenant, person, product_id="mmr", series="measles", site=None, route=None
    )
    someone_else = await register(client, tenant, admin.headers)
    await add_dose(clean_db, tenant, someone_else)

    for patient in (str(person), f"Patient/{person}"):
        r = await client.get(
            fhir(tenant, "/Immunization"), params={"patient": patient}, headers=admin.headers
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == FHIR_JSON
        bundle = r.json()
        assert bundle["resourceType"] == "Bundle"
        assert bundle["type"] == "searchset"
        assert bundle["total"] == 3
        by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
        assert set(by_id) == {str(first), str(voided), str(measles)}
        assert all(e["search"]["mode"] == "match" for e in bundle["entry"])
        for e in bundle["entry"]:
            assert e["fullUrl"].endswith(f"/Immunization/{e['resource']['id']}")

    given = by_id[str(first)]
    assert given["status"] == "completed"
    assert given["patient"] == {"reference": f"Patient/{person}"}
    vaccine = _codes(given["vaccineCode"])
    assert vaccine[CVX] == "208"
    assert vaccine[SNOMED] == "1119349007"
    [own] = [code for system, code in vaccine.items() if system.endswith("/vaccine-product")]
    assert own == "covid-mrna"
    assert given["lotNumber"] == "AB1234"
    assert given["expirationDate"] == "2027-06-30"
    assert given["occurrenceDateTime"] == "2026-03-02T09:30:00Z"
    assert given["manufacturer"] == {"display": "Demoland Biologics"}
    assert _codes(given["site"])["http://terminology.hl7.org/CodeSystem/v3-ActSite"] == "LA"
    route = _codes(given["route"])
    assert route["http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"] == "IM"
    [performer] = given["performer"]
    assert performer["actor"]["display"]  # the centre's name
    [protocol] = given["protocolApplied"]
    assert protocol["doseNumberPositiveInt"] == 1
    assert _codes(protocol["targetDisease"][0])[SNOMED] == "840539006"

    gone = by_id[str(voided)]
    assert gone["status"] == "entered-in-error"
    assert gone["protocolApplied"][0]["doseNumberPositiveInt"] == 2
    assert _codes(gone["site"])["http://terminology.hl7.org/CodeSystem/v3-ActSite"] == "RT"
    route = _codes(gone["route"])
    assert route["http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"] == "SQ"
    assert "lotNumber" not in gone
    assert "performer" not in gone

    mmr = by_id[str(measles)]
    assert _codes(mmr["vaccineCode"])[CVX] == "03"
    assert SNOMED not in _codes(mmr["vaccineCode"])  # the product has no DCC codes
    assert "site" not in mmr
    assert "route" not in mmr
    assert "arm sore" not in r.text  # notes stay inside

    entries = await _audited(clean_db, tenant, "fhir.immunization.search")
    assert [e.object_id for e in entries] == [str(person)] * 2
    assert entries[0].details == {"count": 3}


async def test_one_immunization_and_everything_about_a_patient(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, admin: Person
) -> None:
    person = await register(client, tenant, admin.headers)
    dose = await add_dose(clean_db, tenant, person)

    one = await client.get(fhir(tenant, f"/Immunization/{dose}"), headers=admin.headers)
    assert one.status_code == 200, one.text
    assert one.json()["resourceType"] == "Immunization"
    assert one.json()["id"] == str(dose)
    [read] = await _audited(clean_db, tenant, "fhir.immunization.read")
    assert read.object_id == str(person)
    assert read.details == {"dose": str(dose)}

    everything = await client.get(
        fhir(tenant, f"/Patient/{person}/$everything"), headers=admin.headers
    )
    assert everything.status_code == 200, everything.text
    bundle = everything.json()
    assert bundle["type"] == "searchset"
    kinds = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]]
    assert kinds == [("Patient", "match"), ("Immunization", "include")]
    assert bundle["entry"][1]["resource"] == one.json()
    [whole] = await _audited(clean_db, tenant, "fhir.patient.everything")
    assert whole.object_id == str(person)


async def test_a_merged_persons_doses_answer_under_the_survivor(
    client: httpx.AsyncClient,
    clean_db: Database,
    owner_db: Database,
    tenant: TenantInfo,
    admin: Person,
) -> None:
    survivor = await register(client, tenant, admin.headers)
    merged = await register(client, tenant, admin.headers)
    before = await add_dose(clean_db, tenant, merged)
    after = await add_dose(clean_db, tenant, survivor, dose_number=2)
    async with owner_db.transaction() as uow:
        await uow.session.execute(
            update(Beneficiary)
            .where(Beneficiary.id == merged)
            .values(status="merged", merged_into_id=survivor)
        )

    r = await client.get(
        fhir(tenant, "/Immunization"), params={"patient": str(merged)}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    entries = [e["resource"] for e in r.json()["entry"]]
    assert [e["id"] for e in entries] == [str(before), str(after)]
    assert {e["patient"]["reference"] for e in entries} == {f"Patient/{survivor}"}
    patient = await client.get(fhir(tenant, f"/Patient/{merged}"), headers=admin.headers)
    assert patient.json()["id"] == str(survivor)


async def test_another_tenants_patient_and_people_out_of_reach_are_404(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    admin: Person,
) -> None:
    person = await register(client, tenant, admin.headers, region_code="CEN-01-01")
    dose = await add_dose(clean_db, tenant, person)
    other = await load_tenant(clean_db, cache)
    other_admin = await staff_token(client, clean_db, settings, other, "national_admin")
    north = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    centre = await make_facility(clean_db, cache, tenant, code="HC-N", region_code="NOR-01-01")
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    paths = (
        f"/Patient/{person}",
        f"/Patient/{person}/$everything",
        f"/Immunization?patient={person}",
        f"/Immunization/{dose}",
    )
    for path in paths:
        # Another tenant's staff, on their own tenant's path and on this one's.
        for where in (other, tenant):
            r = await client.get(fhir(where, path), headers=other_admin.headers)
            _outcome(r, 404, "not-found")
        # Staff of this tenant whose reach does not cover the person.
        for outside in (north, vaccinator):
            r = await client.get(fhir(tenant, path), headers=outside.headers)
            _outcome(r, 404, "not-found")
    # The same answer as for an id nobody has.
    unknown = await client.get(fhir(tenant, f"/Patient/{uuid.uuid4()}"), headers=north.headers)
    out_of_reach = await client.get(fhir(tenant, f"/Patient/{person}"), headers=north.headers)
    assert unknown.json() == out_of_reach.json()
    assert await _fhir_audit_count(clean_db, tenant) == 0


async def test_a_citizen_reads_their_own_members_and_nobody_else(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin: Person,
) -> None:
    citizen = await citizen_token(clean_db, settings, tenant)
    own = await register(client, tenant, citizen.headers)
    dose = await add_dose(clean_db, tenant, own)
    stranger = await register(client, tenant, admin.headers)
    strangers_dose = await add_dose(clean_db, tenant, stranger)

    for path in (f"/Patient/{own}", f"/Patient/{own}/$everything", f"/Immunization/{dose}"):
        r = await client.get(fhir(tenant, path), headers=citizen.headers)
        assert r.status_code == 200, (path, r.text)
    search = await client.get(
        fhir(tenant, "/Immunization"), params={"patient": str(own)}, headers=citizen.headers
    )
    assert [e["resource"]["id"] for e in search.json()["entry"]] == [str(dose)]

    for path in (
        f"/Patient/{stranger}",
        f"/Patient/{stranger}/$everything",
        f"/Immunization?patient={stranger}",
        f"/Immunization/{strangers_dose}",
    ):
        _outcome(await client.get(fhir(tenant, path), headers=citizen.headers), 404, "not-found")
    # As registration: a citizen reading their own family is not a staff access to audit.
    assert await _fhir_audit_count(clean_db, tenant) == 0


async def test_no_token_is_401_and_a_role_without_doses_read_is_403(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin: Person,
) -> None:
    person = await register(client, tenant, admin.headers)
    anonymous = await client.get(fhir(tenant, f"/Patient/{person}"))
    _outcome(anonymous, 401, "login")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    bad_token = await client.get(
        fhir(tenant, f"/Patient/{person}"), headers={"Authorization": "Bearer nonsense"}
    )
    _outcome(bad_token, 401, "login")
    # Support staff find people (beneficiaries:read) but do not read dose records.
    support = await staff_token(client, clean_db, settings, tenant, "support")
    refused = await client.get(fhir(tenant, f"/Patient/{person}"), headers=support.headers)
    _outcome(refused, 403, "forbidden")
    assert await _fhir_audit_count(clean_db, tenant) == 0


async def test_bad_parameters_answer_an_operation_outcome_and_read_nothing(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, admin: Person
) -> None:
    person = await register(client, tenant, admin.headers)
    h = admin.headers
    search = fhir(tenant, "/Immunization")
    cases: list[tuple[str, dict[str, Any] | list[tuple[str, str]], int, str]] = [
        (search, {}, 400, "invalid"),
        (search, {"patient": "not-an-id"}, 400, "invalid"),
        (search, {"patient": "Observation/123"}, 400, "invalid"),
        (search, {"patient": str(person), "vaccine-code": "208"}, 400, "not-supported"),
        (search, [("patient", str(person)), ("patient", str(uuid.uuid4()))], 400, "invalid"),
        (search, {"patient": str(person), "_format": "xml"}, 406, "not-supported"),
        (fhir(tenant, f"/Patient/{person}"), {"_elements": "name"}, 400, "not-supported"),
        (fhir(tenant, "/metadata"), {"mode": "terminology"}, 400, "not-supported"),
        (fhir(tenant, "/Patient/not-a-uuid"), {}, 404, "not-found"),
        (fhir(tenant, "/Immunization/12"), {}, 404, "not-found"),
        (fhir(tenant, "/Observation"), {}, 404, "not-found"),
    ]
    for url, params, status, code in cases:
        r = await client.get(url, params=params, headers=h)
        body = _outcome(r, status, code)
        assert body["issue"][0]["diagnostics"], (url, params)
    named = _outcome(await client.get(search, params={"patient": "x"}, headers=h), 400, "invalid")
    assert named["issue"][0]["expression"] == ["patient"]
    # Unsafe methods: not supported, as an OperationOutcome too.
    posted = await client.post(fhir(tenant, f"/Patient/{person}"), json={}, headers=h)
    _outcome(posted, 405, "not-supported")
    # What is accepted: the JSON formats by name.
    for fmt in ("json", "application/fhir+json"):
        ok = await client.get(
            fhir(tenant, f"/Patient/{person}"), params={"_format": fmt}, headers=h
        )
        assert ok.status_code == 200, ok.text
    assert len(await _audited(clean_db, tenant, "fhir.patient.read")) == 2
