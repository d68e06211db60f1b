"""The public directory: filters, cursor pagination, caching with ETags, hidden deactivations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.facilities.helpers import body
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities import service
from vaxport.facilities.schemas import AdminListQuery, FacilityCreate, FacilityOut
from vaxport.tenancy.schemas import TenantInfo

CENTRES: list[dict[str, Any]] = [
    body(code="A-1", name="Alpha Clinic", region_code="NOR-01-01", type="public",
         vaccines=["mmr"], postal_code="D1A 1AA", location={"lat": 48.40, "lon": -79.60}),
    body(code="A-2", name={"en": "Beta Pharmacy", "fr": "Pharmacie Bêta"}, type="private",
         region_code="NOR-01-02", vaccines=["hpv"], postal_code="D1B 2BB",
         location={"lat": 48.50, "lon": -79.50}),
    body(code="A-3", name="Gamma Mobile", region_code="NOR-02-01", type="mobile",
         vaccines=["mmr", "hpv"], postal_code=None, location=None),
    body(code="A-4", name="Delta Centre", region_code="CEN-01-01", type="public",
         vaccines=["covid-mrna"], postal_code="D2A 9ZZ", location={"lat": 46.00, "lon": -77.00}),
    body(code="A-5", name="Epsilon Outreach", region_code="SOU-03-02", type="outreach",
         vaccines=["mmr"], postal_code="D1A 7QQ", location={"lat": 44.00, "lon": -74.50}),
]  # fmt: skip


@pytest.fixture
async def centres(clean_db: Database, cache: Cache, tenant: TenantInfo) -> list[FacilityOut]:
    return [
        await service.create(
            db=clean_db, cache=cache, tenant=tenant, data=FacilityCreate.model_validate(c)
        )
        for c in CENTRES
    ]


async def _codes(client: httpx.AsyncClient, tenant: TenantInfo, **params: Any) -> list[str]:
    r = await client.get(f"/api/v1/{tenant.code}/facilities", params=params)
    assert r.status_code == 200, r.text
    return [i["code"] for i in r.json()["items"]]


async def test_filters_narrow_the_public_list(
    client: httpx.AsyncClient, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    assert await _codes(client, tenant) == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    assert await _codes(client, tenant, region="NOR") == ["A-1", "A-2", "A-3"]
    assert await _codes(client, tenant, region="NOR-01") == ["A-1", "A-2"]
    assert await _codes(client, tenant, region="NOR-01-02") == ["A-2"]
    assert await _codes(client, tenant, type="public") == ["A-1", "A-4"]
    assert await _codes(client, tenant, vaccine="mmr") == ["A-1", "A-3", "A-5"]
    assert await _codes(client, tenant, vaccine="mmr", region="NOR") == ["A-1", "A-3"]
    assert await _codes(client, tenant, q="pharmacie bet") == ["A-2"]  # accents folded
    assert await _codes(client, tenant, q="a-4") == ["A-4"]
    assert await _codes(client, tenant, q="100%") == []  # LIKE wildcards are literal
    assert await _codes(client, tenant, postal_code="d1a") == ["A-1", "A-5"]
    assert await _codes(client, tenant, postal_code="D1A1AA") == ["A-1"]
    assert await _codes(client, tenant, postal_code="D1Z") == []


async def test_public_entries_show_only_public_fields(
    client: httpx.AsyncClient, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    r = await client.get(f"/api/v1/{tenant.code}/facilities/{centres[0].id}")
    assert r.status_code == 200
    entry = r.json()
    assert entry["code"] == "A-1"
    assert entry["location"] == {"lat": 48.4, "lon": -79.6}
    for internal in ("version", "active", "daily_capacity", "stations", "created_at"):
        assert internal not in entry


async def test_nearest_first_with_a_radius(
    client: httpx.AsyncClient, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    r = await client.get(f"/api/v1/{tenant.code}/facilities", params={"lat": 48.45, "lon": -79.45})
    items = r.json()["items"]
    # Within the default 50 km: the two northern centres, nearest first; no location, no hit.
    assert [i["code"] for i in items] == ["A-2", "A-1"]
    assert 0 < items[0]["distance_km"] < items[1]["distance_km"] < 50
    far = await _codes(client, tenant, lat=48.45, lon=-79.45, radius_km=1000)
    assert far == ["A-2", "A-1", "A-4", "A-5"]


async def test_pages_follow_cursors_to_the_end_without_gaps(
    client: httpx.AsyncClient, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    for params in ({}, {"lat": 47.0, "lon": -78.0, "radius_km": 2000}):
        seen: list[str] = []
        cursor = None
        while True:
            query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(f"/api/v1/{tenant.code}/facilities", params=query)).json()
            seen += [i["code"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        whole = await _codes(client, tenant, **params, limit=100)
        assert seen == whole
        assert len(whole) == (5 if not params else 4)


async def test_a_cursor_only_continues_its_own_search(
    client: httpx.AsyncClient, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    page = (await client.get(f"/api/v1/{tenant.code}/facilities", params={"limit": 1})).json()
    r = await client.get(
        f"/api/v1/{tenant.code}/facilities",
        params={"limit": 1, "type": "public", "cursor": page["next_cursor"]},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "cursor"
    r = await client.get(f"/api/v1/{tenant.code}/facilities", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422
    assert [(e["field"], e["reason"]) for e in r.json()["errors"]] == [
        ("cursor", "is not a cursor this list gave out")
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 10}, "query.lon"),
        ({"lon": 10}, "query.lon"),
        ({"lat": 91, "lon": 0}, "query.lat"),
        ({"radius_km": 5}, "query.radius_km"),
        ({"limit": 1000}, "query.limit"),
        ({"region": "NOPE"}, "region"),
        ({"colour": "red"}, "query.colour"),
    ],
)
async def test_bad_searches_are_422_with_the_parameter(
    client: httpx.AsyncClient, tenant: TenantInfo, params: dict[str, Any], field: str
) -> None:
    r = await client.get(f"/api/v1/{tenant.code}/facilities", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_list_and_entry_answer_304_while_the_etag_matches(
    client: httpx.AsyncClient, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    for url in (
        f"/api/v1/{tenant.code}/facilities?region=NOR",
        f"/api/v1/{tenant.code}/facilities/{centres[0].id}",
    ):
        first = await client.get(url)
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=60"
        again = await client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert (
            await client.get(url, headers={"If-None-Match": f'W/{etag}, "x"'})
        ).status_code == 304
        assert (await client.get(url, headers={"If-None-Match": '"other"'})).status_code == 200


async def test_a_write_changes_the_etag_at_once(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    centres: list[FacilityOut],
) -> None:
    url = f"/api/v1/{tenant.code}/facilities?region=NOR"
    before = await client.get(url)
    await service.create(
        db=clean_db,
        cache=cache,
        tenant=tenant,
        data=FacilityCreate.model_validate(body(code="A-9", region_code="NOR-03-01")),
    )
    after = await client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert "A-9" in after.text


async def test_deactivated_centres_are_hidden_from_the_public_only(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    centres: list[FacilityOut],
) -> None:
    cached_entry = await client.get(f"/api/v1/{tenant.code}/facilities/{centres[0].id}")
    assert cached_entry.status_code == 200
    await service.deactivate(db=clean_db, cache=cache, tenant=tenant, facility_id=centres[0].id)
    assert "A-1" not in await _codes(client, tenant)
    assert "A-1" not in await _codes(client, tenant, lat=48.45, lon=-79.45)
    entry = await client.get(f"/api/v1/{tenant.code}/facilities/{centres[0].id}")
    assert entry.status_code == 404
    everything = await service.list_facilities(db=clean_db, tenant=tenant, query=AdminListQuery())
    assert [f.code for f in everything.items] == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    off = await service.list_facilities(
        db=clean_db, tenant=tenant, query=AdminListQuery(active=False)
    )
    assert [f.code for f in off.items] == ["A-1"]


async def test_the_admin_list_is_limited_to_the_admins_region(
    clean_db: Database, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    page = await service.list_facilities(
        db=clean_db, tenant=tenant, query=AdminListQuery(), within_region="NOR-01"
    )
    assert [f.code for f in page.items] == ["A-1", "A-2"]
    narrower = await service.list_facilities(
        db=clean_db, tenant=tenant, query=AdminListQuery(region="CEN"), within_region="NOR"
    )
    assert narrower.items == []


async def test_tiny_coordinates_are_rounded_not_a_server_error(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    # Squaring differences of ~1e-300 underflows, which PostgreSQL reports as an error.
    await service.create(
        db=clean_db,
        cache=cache,
        tenant=tenant,
        data=FacilityCreate.model_validate(body(location={"lat": 1e-300, "lon": -0.0})),
    )
    r = await client.get(f"/api/v1/{tenant.code}/facilities", params={"lat": 5e-324, "lon": 1e-310})
    assert r.status_code == 200
    [item] = r.json()["items"]
    assert item["location"] == {"lat": 0.0, "lon": 0.0}
    assert item["distance_km"] == 0.0


async def test_answers_are_built_once_per_generation_and_cache_time(cache: Cache) -> None:
    import uuid

    from vaxport.facilities import directory
    from vaxport.facilities.schemas import PublicPage

    tenant_id = uuid.uuid4()
    builds = 0

    async def build() -> PublicPage:
        nonlocal builds
        builds += 1
        return PublicPage(items=[], next_cursor=str(builds))

    async def get(ttl: float) -> directory.Document:
        return await directory.cached_document(
            cache=cache, tenant_id=tenant_id, key={"q": 1}, ttl=ttl, build=build
        )

    first = await get(60)
    assert (await get(60)) == first
    assert builds == 1
    await directory.invalidate(cache, tenant_id)
    second = await get(60)
    assert builds == 2
    assert second.etag != first.etag
    await get(0)
    await get(0)
    assert builds == 4  # no cache time: built every time, kept nowhere
