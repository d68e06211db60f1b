"""A vaccinator records a dose: what is written, in one transaction, and each refusal."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from tests.identity.helpers import actor_for
from tests.immunization.support import (
    add_lot,
    audited,
    body,
    doses,
    doses_url,
    events,
    person_at,
    vaccinated_at,
)
from tests.registration.conftest import Person, citizen_token, make_facility
from tests.scheduling.booking.support import record_given
from tests.scheduling.conftest import REGION
from tests.support.clock import tenant_today
from tests.support.tenants import load_tenant
from tests.tenancy.helpers import demo_config
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import Problem
from vaxport.immunization import service
from vaxport.immunization.schemas import DoseIn
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def test_a_recorded_dose_is_written_with_the_person_vaccinated_its_audit_and_event(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)

    r = await client.post(
        doses_url(tenant),
        json=body(person, notes="left arm, no reaction after 15 minutes"),
        headers=vaccinator.headers,
    )

    assert r.status_code == 201, r.text
    out = r.json()
    assert r.headers["location"] == f"{doses_url(tenant)}/{out['id']}"
    assert (out["series"], out["dose_number"], out["lot_number"]) == ("covid-19", 1, "EX1234")
    assert (out["facility_id"], out["vaccinator_id"]) == (str(centre), str(vaccinator.id))
    assert out["notes"] == "left arm, no reaction after 15 minutes"
    [row] = await doses(clean_db, tenant)
    assert (row.lot_id, row.status, row.region_code) == (lot, "recorded", "NOR-01-01")
    assert row.notes == "left arm, no reaction after 15 minutes"  # decrypted on read
    assert await vaccinated_at(clean_db, tenant, person) is not None
    [entry] = await audited(clean_db, tenant, "dose.record")
    assert (entry.object_type, entry.object_id, entry.actor_id) == (
        "dose",
        out["id"],
        vaccinator.id,
    )
    assert "notes" not in str(entry.details)
    [event] = await events(clean_db, tenant, "dose.recorded")
    assert event == {
        "dose_id": out["id"],
        "beneficiary_id": str(person),
        "series": "covid-19",
        "dose_number": 1,
        "product_id": "covid-mrna",
        "day": out["day"],
    }


async def _refused(
    client: httpx.AsyncClient, tenant: TenantInfo, who: Person, payload: dict[str, Any]
) -> tuple[int, str, dict[str, Any]]:
    r = await client.post(doses_url(tenant), json=payload, headers=who.headers)
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    slug = problem["type"].rsplit("/", 1)[-1]
    [error] = problem["errors"]
    assert error["code"] == slug
    assert error["reason"]
    return r.status_code, slug, error


async def test_each_refusal_has_its_type_field_and_reason_and_records_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre, birth_date=dt.date(2000, 5, 1))
    await add_lot(clean_db, tenant, "covid-protein", "PROT-1")
    yesterday = tenant_today(tenant) - dt.timedelta(days=1)
    await add_lot(clean_db, tenant, "covid-mrna", "OLD-1", expires_on=yesterday)
    await add_lot(clean_db, tenant, "covid-mrna", "HOLD-1", on_hold=True)
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"lot_number": None}, 422, "lot-missing", "lot_number"),
        ({"lot_id": str(lot)}, 422, "lot-twice", "lot_id"),
        ({"lot_number": "NOPE-9"}, 422, "unknown-lot", "lot_number"),
        ({"lot_number": "PROT-1"}, 422, "lot-other-product", "lot_number"),
        ({"lot_number": "OLD-1"}, 422, "lot-expired", "lot_number"),
        ({"lot_number": "HOLD-1"}, 409, "lot-on-hold", "lot_number"),
        ({"product_id": "yellow-fever-x"}, 422, "unknown-product", "product_id"),
        ({"administered_at": future}, 422, "administered-in-future", "administered_at"),
        (
            {"administered_at": "1999-01-01T10:00:00+00:00"},
            422,
            "administered-before-birth",
            "administered_at",
        ),
        ({"dose_number": 2}, 422, "dose-number-not-next", "dose_number"),
        ({"facility_id": str(elsewhere)}, 422, "facility-out-of-reach", "facility_id"),
        ({"facility_id": str(uuid.uuid4())}, 422, "facility-out-of-reach", "facility_id"),
        ({"appointment_id": str(uuid.uuid4())}, 422, "unknown-appointment", "appointment_id"),
        ({"booking_code": "not a code!"}, 422, "unknown-appointment", "booking_code"),
    ]
    for over, status, slug, field in cases:
        payload = {k: v for k, v in (body(person) | over).items() if v is not None}
        got = await _refused(client, tenant, vaccinator, payload)
        assert got[:2] == (status, slug), (over, got)
        assert got[2]["field"] == field, (over, got)
    assert await doses(clean_db, tenant) == []
    assert await vaccinated_at(clean_db, tenant, person) is None


async def test_the_same_dose_again_is_409_and_a_second_dose_too_soon_needs_an_override(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    first = dt.date.today() - dt.timedelta(days=5)
    await record_given(clean_db, tenant, centre, person, product_id="covid-mrna", day=first)

    again = await _refused(client, tenant, vaccinator, body(person, dose_number=1))
    assert again[:2] == (409, "dose-already-recorded")
    early = await client.post(doses_url(tenant), json=body(person), headers=vaccinator.headers)
    assert early.status_code == 422
    problem = early.json()
    assert problem["type"].endswith("/too-early")
    assert problem["overridable"] is True
    assert problem["errors"][0]["field"] == "administered_at"
    assert len(await doses(clean_db, tenant)) == 1

    reason = "travelling abroad next week, second dose brought forward by the doctor"
    r = await client.post(
        doses_url(tenant),
        json=body(person, override={"reason": reason}),
        headers=vaccinator.headers,
    )

    assert r.status_code == 201, r.text
    assert (r.json()["dose_number"], r.json()["overridden"]) == (2, True)
    second = (await doses(clean_db, tenant))[-1]
    assert (second.overridden, second.override_reason) == (True, reason)
    [entry] = await audited(clean_db, tenant, "dose.record")
    assert entry.details["overridden"] is True
    assert reason not in str(entry.details)


async def test_a_product_that_may_not_follow_the_last_is_refused_even_with_an_override(
    clean_db: Database, cache: Cache
) -> None:
    vaccines = demo_config()["vaccines"]
    for product in vaccines:
        if product["id"] == "covid-protein":
            product["may_follow"] = []
    strict = await load_tenant(clean_db, cache, changes={"vaccines": vaccines})
    centre = await make_facility(clean_db, cache, strict, code="HC-S", region_code=REGION)
    await add_lot(clean_db, strict, "covid-protein", "PROT-1")
    person = await person_at(clean_db, strict, centre)
    long_ago = dt.date.today() - dt.timedelta(days=60)
    await record_given(clean_db, strict, centre, person, product_id="covid-mrna", day=long_ago)
    dose = DoseIn.model_validate(
        body(person, product_id="covid-protein", lot_number="PROT-1", override={"reason": "x" * 5})
    )

    with pytest.raises(Problem) as refused:
        await service.record_dose(
            db=clean_db,
            tenant=strict,
            actor=actor_for(strict, "vaccinator", facility_id=centre),
            body=dose,
        )

    problem = refused.value.to_dict()
    assert (refused.value.status, problem["type"].rsplit("/", 1)[-1]) == (
        422,
        "wrong-product-sequence",
    )
    assert problem["errors"][0]["field"] == "product_id"
    assert "covid-mrna" in problem["errors"][0]["reason"]
    assert len(await doses(clean_db, strict)) == 1


@pytest.mark.parametrize("who", ["citizen", "out-of-reach"])
async def test_a_person_out_of_reach_is_404_and_a_citizen_may_not_record(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
    settings: Settings,
    who: str,
) -> None:
    person = await person_at(clean_db, tenant, elsewhere)
    if who == "citizen":
        citizen = await citizen_token(clean_db, settings, tenant)
        r = await client.post(doses_url(tenant), json=body(person), headers=citizen.headers)
        assert r.status_code == 403
    else:
        r = await client.post(doses_url(tenant), json=body(person), headers=vaccinator.headers)
        assert r.status_code == 404, r.text
    assert await doses(clean_db, tenant) == []
