"""The SMART Scheduling Links feed: manifest and NDJSON files in the specification's shapes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import orjson
import pytest

from tests.scheduling.search.conftest import Centres, Timetable
from tests.scheduling.search.smart_schema import BY_TYPE, EXT, MANIFEST
from vaxport.core.db import Database
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def _local(url: str) -> str:
    """The path and query of an absolute URL the feed gave (the app answers in-process)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def _manifest(client: httpx.AsyncClient, tenant: TenantInfo) -> dict[str, Any]:
    r = await client.get(f"/api/v1/{tenant.code}/$bulk-publish")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    doc: dict[str, Any] = r.json()
    return doc


async def _file(client: httpx.AsyncClient, url: str, **headers: str) -> list[dict[str, Any]]:
    r = await client.get(_local(url), headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/fhir+ndjson"
    assert r.headers["cache-control"] == "public, max-age=30"
    assert r.content == b"" or r.content.endswith(b"\n")
    return [orjson.loads(line) for line in r.content.splitlines()]


async def _everything(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {"Location": [], "Schedule": [], "Slot": []}
    for output in (await _manifest(client, tenant))["output"]:
        found[output["type"]] += await _file(client, output["url"])
    return found


async def test_the_manifest_lists_locations_schedules_and_a_slot_file_per_province(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantInfo, timetable: Timetable
) -> None:
    doc = await _manifest(client, tenant)
    jsonschema.validate(doc, MANIFEST)
    base = settings.public_url.rstrip("/")
    assert doc["request"] == f"{base}/api/v1/{tenant.code}/$bulk-publish"
    assert doc["error"] == []
    made = dt.datetime.fromisoformat(doc["transactionTime"])
    assert abs(made - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    kinds = [(o["type"], o.get("extension", {}).get("state")) for o in doc["output"]]
    assert kinds == [
        ("Location", None),
        ("Schedule", None),
        ("Slot", ["CEN"]),
        ("Slot", ["NOR"]),
        ("Slot", ["SOU"]),
    ]
    assert all(o["url"].startswith(doc["request"] + "/") for o in doc["output"])


async def test_every_line_of_every_file_has_the_specified_shape_and_references_resolve(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable, centres: Centres
) -> None:
    found = await _everything(client, tenant)
    for kind, resources in found.items():
        for resource in resources:
            jsonschema.validate(resource, BY_TYPE[kind])
    locations = {r["id"]: r for r in found["Location"]}
    schedules = {r["id"]: r for r in found["Schedule"]}
    assert set(locations) == {str(centres.hill), str(centres.river), str(centres.city)}
    assert len(schedules) == 3  # one per centre and product
    assert {s["actor"][0]["reference"] for s in schedules.values()} == {
        f"Location/{i}" for i in locations
    }
    assert {s["schedule"]["reference"] for s in found["Slot"]} == {
        f"Schedule/{i}" for i in schedules
    }
    seeded = {str(s) for t in (timetable.hill, timetable.river, timetable.city) for s in t.slot_ids}
    assert {s["id"] for s in found["Slot"]} == seeded  # the one past the horizon is not there
    hill = locations[str(centres.hill)]
    assert hill["name"] == "Hill Clinic"
    assert hill["address"] == {
        "state": "NOR",
        "line": ["12 Main Street, Hillcrest Town"],
        "city": "Hillcrest Town",
        "postalCode": "D1A 1AA",
    }
    assert hill["position"] == {"latitude": 48.4, "longitude": -79.6}
    assert {"system": "phone", "value": "+16135550142"} in hill["telecom"]


async def test_schedules_carry_the_product_code_and_the_doses_served(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable, centres: Centres
) -> None:
    found = await _everything(client, tenant)
    by_place = {s["actor"][0]["reference"]: s for s in found["Schedule"]}
    hill = by_place[f"Location/{centres.hill}"]
    codings = hill["serviceType"][0]["coding"]
    assert codings[0]["code"] == "57"
    assert codings[1]["code"] == "covid19-immunization"
    assert hill["extension"] == [
        {
            "url": EXT + "vaccine-product",
            "valueCoding": {
                "system": "http://hl7.org/fhir/sid/cvx",
                "code": "208",
                "display": "CoviGuard mRNA",
            },
        },
        {"url": EXT + "vaccine-dose", "valueInteger": 1},
        {"url": EXT + "vaccine-dose", "valueInteger": 2},
    ]
    river = by_place[f"Location/{centres.river}"]
    assert [c["code"] for c in river["serviceType"][0]["coding"]] == ["57", "mmr"]


async def test_a_slot_is_free_with_its_seats_left_or_busy_when_full(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, timetable: Timetable
) -> None:
    full = timetable.city.slot_ids[0]
    for _ in range(2):
        async with clean_db.transaction(tenant_id=tenant.id) as uow:
            seat = Seat(uuid.uuid4(), None, "covid-19", 3, None)
            assert await book_in(uow, tenant.id, full, seat) is not None
    slots = {s["id"]: s for s in (await _everything(client, tenant))["Slot"]}
    busy = slots[str(full)]
    assert busy["status"] == "busy"
    assert busy["extension"] == [{"url": EXT + "slot-capacity", "valueInteger": 2}]
    free = slots[str(timetable.hill.slot_ids[0])]
    assert free["status"] == "free"
    link, capacity = free["extension"]
    assert link["url"] == EXT + "booking-deep-link"
    assert _local(link["valueUrl"]) == f"/{tenant.code}/book?slot={free['id']}"
    assert capacity == {"url": EXT + "slot-capacity", "valueInteger": 5}
    start = dt.datetime.fromisoformat(free["start"])
    assert free["start"].endswith("Z")
    assert start.time() == dt.time(14, 0)
    assert dt.datetime.fromisoformat(free["end"]) - start == dt.timedelta(minutes=10)


async def test_files_answer_304_while_unchanged_and_any_accept_gets_the_same_payload(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    doc = await _manifest(client, tenant)
    for url in [f"/api/v1/{tenant.code}/$bulk-publish", *(_local(o["url"]) for o in doc["output"])]:
        first = await client.get(url)
        assert first.status_code == 200
        assert "public" in first.headers["cache-control"]
        again = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        for accept in ("application/json", "application/fhir+ndjson", "*/*"):
            same = await client.get(url, headers={"Accept": accept})
            assert same.content == first.content


@pytest.mark.parametrize("name", ["NOR-01", "NOPE", "nor"])
async def test_only_top_level_regions_have_a_slot_file(
    client: httpx.AsyncClient, tenant: TenantInfo, name: str
) -> None:
    r = await client.get(f"/api/v1/{tenant.code}/$bulk-publish/slots/{name}.ndjson")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_an_empty_country_publishes_empty_files(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    found = await _everything(client, tenant)
    assert found == {"Location": [], "Schedule": [], "Slot": []}
