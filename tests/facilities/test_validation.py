"""Bad facility input: each mistake gets its own clear error with a field path, and
nothing is stored (no row, no vaccine index, no event, no audit entry)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.facilities.conftest import Admin
from tests.facilities.helpers import body, counts
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import ValidationFailed
from vaxport.facilities import service
from vaxport.facilities.schemas import FacilityCreate
from vaxport.tenancy.schemas import TenantInfo

NOTHING = {"facilities": 0, "vaccines": 0, "events": 0, "audit": 0}


def _hours(*intervals: tuple[str, str]) -> dict[str, Any]:
    return {"weekly": {"tue": [{"opens": o, "closes": c} for o, c in intervals]}}


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"region_code": "NOR-99"}, "region_code", "unknown region"),
        ({"location": {"lat": 90.5, "lon": 10}}, "location.lat", "less_than_equal"),
        ({"location": {"lat": 10, "lon": -180.01}}, "location.lon", "greater_than_equal"),
        ({"location": {"lat": 10}}, "location.lon", "missing"),
        ({"vaccines": ["mmr", "yellow-fever"]}, "vaccines.1", "unknown vaccine product"),
        ({"vaccines": ["mmr", "mmr"]}, "vaccines", "mmr is listed more than once"),
        (
            {"opening_hours": _hours(("08:00", "12:00"), ("11:30", "14:00"))},
            "opening_hours.weekly.tue",
            "11:30-14:00 overlaps 08:00-12:00",
        ),
        (
            {"opening_hours": _hours(("17:00", "09:00"))},
            "opening_hours.weekly.tue.0.closes",
            "closes at 09:00, not after it opens (17:00)",
        ),
        (
            {"opening_hours": _hours(("09:00", "09:00"))},
            "opening_hours.weekly.tue.0.closes",
            "not after it opens",
        ),
        (
            {"opening_hours": _hours(("9h", "12:00"))},
            "opening_hours.weekly.tue.0.opens",
            "HH:MM",
        ),
        (
            {"opening_hours": {"exceptions": [{"date": "2026-01-01"}, {"date": "2026-01-01"}]}},
            "opening_hours.exceptions",
            "2026-01-01 is listed more than once",
        ),
        ({"type": "hospital"}, "type", "'public', 'private', 'mobile' or 'outreach'"),
        ({"name": {"de": "Zentrum"}}, "name.de", "not one of the tenant's languages"),
        ({"name": {"fr": "Centre"}}, "name", "needs a text in the default language (en)"),
        ({"phone": "12345"}, "phone", "not a valid phone number"),
        ({"email": "not-an-address"}, "email", "not a valid e-mail address"),
        ({"code": "has space"}, "code", "string_pattern_mismatch"),
        ({"stations": -1}, "stations", "greater_than_equal"),
        (
            {"opening_hours": {"weekly": {"someday": []}}},
            "opening_hours.weekly.someday",
            "extra_forbidden",
        ),
    ],
)
async def test_each_mistake_is_its_own_422_with_a_field_path_and_nothing_is_stored(
    client: httpx.AsyncClient,
    admin: Admin,
    tenant: TenantInfo,
    clean_db: Database,
    changes: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    r = await client.post(f"/api/v1/{tenant.code}/facilities", json=body(**changes))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    # Our own reasons are checked by their words, pydantic's by their stable code.
    assert reason in errors[0]["reason"] or reason == errors[0]["code"]
    assert await counts(clean_db, tenant.id) == NOTHING


async def test_every_problem_is_reported_at_once(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    data = FacilityCreate.model_validate(
        body(region_code="XX", vaccines=["nope"], phone="12345", name={"xx": "?"})
    )
    with pytest.raises(ValidationFailed) as caught:
        await service.create(db=clean_db, cache=cache, tenant=tenant, data=data)
    assert {e["field"] for e in caught.value.errors} == {
        "name.xx",
        "region_code",
        "vaccines.0",
        "phone",
    }
    assert await counts(clean_db, tenant.id) == NOTHING


async def test_a_duplicate_code_is_a_409_naming_the_code_and_stores_nothing_more(
    client: httpx.AsyncClient, admin: Admin, tenant: TenantInfo, clean_db: Database
) -> None:
    first = await client.post(f"/api/v1/{tenant.code}/facilities", json=body(code="hc-001"))
    assert first.status_code == 201, first.text
    assert first.json()["code"] == "HC-001"  # codes are upper-cased: one code, one facility
    before = await counts(clean_db, tenant.id)
    again = await client.post(
        f"/api/v1/{tenant.code}/facilities", json=body(code="HC-001", name="Another")
    )
    assert again.status_code == 409
    assert again.json()["errors"] == [
        {
            "field": "code",
            "code": "is-already-used-by-another-facility",
            "reason": "is already used by another facility",
            "message": "Code: is already used by another facility",
        }
    ]
    assert await counts(clean_db, tenant.id) == before


async def test_a_withdrawn_product_cannot_be_offered(clean_db: Database, cache: Cache) -> None:
    from tests.support.tenants import load_tenant
    from tests.tenancy.helpers import demo_config

    vaccines = demo_config()["vaccines"]
    vaccines[2]["active"] = False  # mmr
    withdrawn = await load_tenant(clean_db, cache, changes={"vaccines": vaccines})
    with pytest.raises(ValidationFailed) as caught:
        await service.create(
            db=clean_db, cache=cache, tenant=withdrawn, data=FacilityCreate.model_validate(body())
        )
    assert caught.value.errors == [
        {"field": "vaccines.0", "reason": "is withdrawn from the vaccine catalogue (mmr)"}
    ]


async def test_unknown_body_fields_and_clearing_required_fields_are_refused(
    client: httpx.AsyncClient, admin: Admin, tenant: TenantInfo
) -> None:
    r = await client.post(f"/api/v1/{tenant.code}/facilities", json=body(colour="blue"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "colour"
    created = (await client.post(f"/api/v1/{tenant.code}/facilities", json=body())).json()
    url = f"/api/v1/{tenant.code}/facilities/{created['id']}"
    r = await client.patch(url, json={"name": None, "code": "NEW"})
    assert r.status_code == 422
    assert {(e["field"], e["code"]) for e in r.json()["errors"]} == {
        ("name", "cannot-be-removed-only-changed"),
        ("code", "extra_forbidden"),
    }


async def test_writes_need_the_write_permission(
    client: httpx.AsyncClient, tenant: TenantInfo, clean_db: Database
) -> None:
    # No identity installed: every write answers 401 and changes nothing.
    r = await client.post(f"/api/v1/{tenant.code}/facilities", json=body())
    assert r.status_code == 401
    assert await counts(clean_db, tenant.id) == NOTHING


async def test_routes_ask_for_facility_permissions(
    client: httpx.AsyncClient, admin: Admin, tenant: TenantInfo
) -> None:
    created = await client.post(f"/api/v1/{tenant.code}/facilities", json=body())
    await client.get(f"/api/v1/{tenant.code}/admin/facilities")
    await client.get(f"/api/v1/{tenant.code}/facilities")  # public: no check at all
    assert created.status_code == 201
    assert admin.asked == ["facilities:write", "facilities:write"]
