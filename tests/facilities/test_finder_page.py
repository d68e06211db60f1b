"""The public "find a centre" page over plain HTTP (the browser tests drive it for real)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.facilities.helpers import body
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities import service
from vaxport.facilities.geo import haversine_km
from vaxport.facilities.schemas import FacilityCreate, FacilityOut
from vaxport.tenancy.schemas import TenantInfo

HTML = {"Accept": "text/html"}


@pytest.fixture
async def centres(clean_db: Database, cache: Cache, tenant: TenantInfo) -> list[FacilityOut]:
    specs = [
        body(code="N-1", name={"en": "North Clinic", "fr": "Clinique du Nord"},
             region_code="NOR-01-01", location={"lat": 48.40, "lon": -79.60}),
        body(code="N-2", name="Oak Pharmacy", type="private", region_code="NOR-01-02",
             location={"lat": 48.60, "lon": -79.40}, vaccines=["hpv"]),
        body(code="S-1", name="South Clinic", region_code="SOU-01-01",
             location={"lat": 44.0, "lon": -74.0}),
    ]  # fmt: skip
    return [
        await service.create(
            db=clean_db, cache=cache, tenant=tenant, data=FacilityCreate.model_validate(s)
        )
        for s in specs
    ]


def _names(page: str) -> list[str]:
    return re.findall(r"<h3>([^<]+)</h3>", page)


async def test_the_empty_form_works_without_a_search(
    client: httpx.AsyncClient, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    r = await client.get(f"/{tenant.code}/facilities", headers=HTML)
    assert r.status_code == 200
    assert "<h1>Find a vaccination centre</h1>" in r.text
    assert _names(r.text) == []
    assert '<option value="NOR-01">\u2003Hillcrest</option>' in r.text
    assert '<form id="finder" class="finder" method="get"' in r.text
    # The only script is our own file, deferred; the location button starts hidden.
    assert re.findall(r"<script[^>]*>", r.text) == [f'<script src="{_static(r.text)}" defer>']
    assert 'id="use-location" class="button button-secondary" hidden' in r.text


def _static(page: str) -> str:
    m = re.search(r'src="(/static/[0-9a-f]+/js/facility-finder\.js)"', page)
    assert m, "no finder script"
    return m.group(1)


async def test_searching_by_region_lists_its_active_centres_in_the_page_language(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    centres: list[FacilityOut],
) -> None:
    r = await client.get(f"/{tenant.code}/facilities?region=NOR&lang=fr", headers=HTML)
    assert r.status_code == 200
    assert _names(r.text) == ["Clinique du Nord", "Oak Pharmacy"]
    assert '<option value="NOR" selected>' in r.text
    await service.deactivate(db=clean_db, cache=cache, tenant=tenant, facility_id=centres[0].id)
    r = await client.get(f"/{tenant.code}/facilities?region=NOR", headers=HTML)
    assert _names(r.text) == ["Oak Pharmacy"]


async def test_with_a_location_the_nearest_come_first_with_their_distance(
    client: httpx.AsyncClient, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    r = await client.get(
        f"/{tenant.code}/facilities", params={"lat": "48.59", "lon": "-79.41"}, headers=HTML
    )
    assert _names(r.text) == ["Oak Pharmacy", "North Clinic"]
    expected = [f"{haversine_km(48.59, -79.41, *p):.1f}" for p in ((48.6, -79.4), (48.4, -79.6))]
    assert re.findall(r"<strong>([\d.]+) km away</strong>", r.text) == expected
    assert 'name="radius_km"' in r.text
    assert "Search without your location" in r.text


async def test_a_bad_search_explains_itself(
    client: httpx.AsyncClient, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    r = await client.get(f"/{tenant.code}/facilities?region=NOPE", headers=HTML)
    assert r.status_code == 422
    assert 'class="error-summary" role="alert"' in r.text
    assert "unknown region" in r.text
    assert _names(r.text) == []


async def test_the_page_carries_an_etag_and_answers_304(
    client: httpx.AsyncClient, tenant: TenantInfo, centres: list[FacilityOut]
) -> None:
    url = f"/{tenant.code}/facilities?region=SOU"
    first = await client.get(url, headers=HTML)
    assert first.headers["cache-control"] == "public, max-age=60"
    assert first.headers["vary"] == "Accept-Language, Cookie"
    again = await client.get(url, headers={**HTML, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    chosen = await client.get(url + "&lang=fr", headers=HTML)
    assert chosen.headers["cache-control"] == "private, max-age=60"  # it sets a cookie


async def test_the_finder_script_is_served_from_static(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    page = await client.get(f"/{tenant.code}/facilities", headers=HTML)
    js = await client.get(_static(page.text))
    assert js.status_code == 200
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "navigator.geolocation" in js.text
