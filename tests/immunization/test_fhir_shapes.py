"""Every resource /fhir serves round-trips through its FHIR model; our codes map as documented."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.immunization.fhir_support import add_dose, add_lot, fhir, register
from tests.registration.conftest import staff_token
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.identity.credentials import signing
from vaxport.immunization.fhir import codes, shapes
from vaxport.immunization.models import ROUTES, SITES
from vaxport.registration.service import PersonRecord
from vaxport.settings import Settings
from vaxport.tenancy.config import DccCodes, RegistrationSettings
from vaxport.tenancy.schemas import TenantInfo

SYSTEMS = codes.Systems("https://vax.example.org/fhir/demo")


@pytest.fixture(autouse=True)
def _fresh_signing_keys(db: Database) -> None:
    signing.forget(db)


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    return await load_tenant(clean_db, cache)


def _round_trips(body: dict[str, Any]) -> None:
    model = shapes.MODELS[body["resourceType"]]
    assert model.model_validate(body).model_dump(mode="json") == body


async def test_every_shape_served_round_trips_through_its_model(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    person = await register(client, tenant, admin.headers)
    lot = await add_lot(clean_db, tenant)
    dose = await add_dose(clean_db, tenant, person, lot_id=lot)
    await add_dose(clean_db, tenant, person, dose_number=2, status="voided", site="nose")
    served = [
        await client.get(fhir(tenant, "/metadata")),
        await client.get(fhir(tenant, f"/Patient/{person}"), headers=admin.headers),
        await client.get(fhir(tenant, f"/Immunization/{dose}"), headers=admin.headers),
        await client.get(
            fhir(tenant, "/Immunization"), params={"patient": str(person)}, headers=admin.headers
        ),
        await client.get(fhir(tenant, f"/Patient/{person}/$everything"), headers=admin.headers),
        await client.get(fhir(tenant, "/Immunization"), headers=admin.headers),  # an outcome
    ]
    kinds = set()
    for r in served:
        body = r.json()
        _round_trips(body)
        kinds.add(body["resourceType"])
        for entry in body.get("entry", []):
            _round_trips(entry["resource"])
    assert kinds == set(shapes.MODELS)
    everything = Bundle.model_validate(served[4].json())
    assert everything.entry is not None
    assert len(everything.entry) == 3


def _person(**changes: Any) -> PersonRecord:
    person = PersonRecord(
        id=uuid.uuid4(),
        record_ids=(),
        reference="K7Q2M9XA",
        given_name="Ada",
        family_name=None,
        sex="unknown",
        birth_date=dt.date(1985, 12, 10),
        birth_year=1985,
        phone=None,
        email=None,
        updated_at=dt.datetime(2026, 1, 5, 8, 0),
    )
    return dataclasses.replace(person, **changes)


async def test_a_tenant_recording_birth_years_sends_the_year_only(tenant: TenantInfo) -> None:
    by_year = dataclasses.replace(
        tenant,
        config=tenant.config.model_copy(
            update={"registration": RegistrationSettings(birth="year")}
        ),
    )
    patient = shapes.patient(by_year, SYSTEMS, _person(birth_date=None))
    assert patient["birthDate"] == "1985"
    assert patient["name"] == [{"use": "official", "text": "Ada", "given": ["Ada"]}]
    assert "telecom" not in patient  # none given: a reader without contacts gets none
    exact = shapes.patient(tenant, SYSTEMS, _person(email="ada@example.org"))
    assert exact["birthDate"] == "1985-12-10"
    assert exact["telecom"] == [{"system": "email", "value": "ada@example.org"}]


def _dose(product_id: str, **changes: Any) -> shapes.DoseView:
    when = dt.datetime(2026, 3, 2, 9, 30)
    view = shapes.DoseView(
        id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        product_id=product_id,
        series="covid-19",
        dose_number=1,
        administered_at=when,
        site=None,
        route=None,
        status="recorded",
        version=1,
        created_at=when,
        updated_at=when,
        lot_number=None,
        lot_expires_on=None,
        lot_manufacturer=None,
        facility_name=None,
    )
    return dataclasses.replace(view, **changes)


async def test_snomed_ct_only_for_snomed_codes_and_a_retired_product_keeps_its_own_code(
    tenant: TenantInfo,
) -> None:
    # A product whose DCC prophylaxis is an ATC code (the value set holds both kinds).
    atc = tenant.config.products["covid-mrna"].model_copy(
        update={
            "cvx": None,
            "dcc": DccCodes(
                medicinal_product="EU/1/20/1528",
                marketing_authorisation_holder="ORG-100030215",
                prophylaxis="J07BX03",
                disease_agent="840539006",
            ),
        }
    )
    config = tenant.config.model_copy(update={"vaccines": [atc]})
    config.__dict__.pop("products", None)  # the cached catalogue of the copied config
    atc_tenant = dataclasses.replace(tenant, config=config)
    made = shapes.immunization(atc_tenant, SYSTEMS, _dose("covid-mrna"))
    systems = [c["system"] for c in made["vaccineCode"]["coding"]]
    assert systems == [SYSTEMS.product]
    disease = made["protocolApplied"][0]["targetDisease"][0]["coding"]
    assert [c["system"] for c in disease] == [codes.SNOMED, SYSTEMS.disease]

    retired = shapes.immunization(tenant, SYSTEMS, _dose("gone-vax", series="polio"))
    assert retired["vaccineCode"] == {
        "coding": [{"system": SYSTEMS.product, "code": "gone-vax", "display": "gone-vax"}],
        "text": "gone-vax",
    }
    assert retired["protocolApplied"][0]["targetDisease"][0]["text"] == "polio"
    assert retired["occurrenceDateTime"] == "2026-03-02T09:30:00Z"  # stored UTC, sent as UTC


def test_every_site_and_route_we_record_has_a_coding() -> None:
    for site in SITES:
        concept = codes.site(SYSTEMS, site)
        assert concept["text"]
        systems = [c["system"] for c in concept["coding"]]
        assert systems[-1] == SYSTEMS.site
        assert (codes.ACT_SITE in systems) == (site in codes.SITES)
    for route in ROUTES:
        concept = codes.route(SYSTEMS, route)
        assert concept["coding"][0]["system"] == codes.ROUTE_OF_ADMINISTRATION
    assert set(codes.ROUTES) == set(ROUTES)
    assert set(codes.SITE_TEXT) == set(SITES)


def test_an_outcome_names_each_field() -> None:
    outcome = shapes.operation_outcome("invalid", "patient: is required", ["patient", "_count"])
    assert [i["expression"] for i in outcome["issue"]] == [["patient"], ["_count"]]
    _round_trips(outcome)
