"""The public slot search: filters, pages, seats left, and what it refuses."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from tests.scheduling.search.conftest import Centres, Timetable, day
from tests.scheduling.seed import Seeded
from tests.scheduling.sessions.support import body, publish, staff
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.scheduling import search
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.scheduling.availability import slots_changed
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def _search(client: httpx.AsyncClient, tenant: TenantInfo, **params: Any) -> dict[str, Any]:
    r = await client.get(f"/api/v1/{tenant.code}/slots", params=params)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


async def _ids(client: httpx.AsyncClient, tenant: TenantInfo, **params: Any) -> list[str]:
    return [i["id"] for i in (await _search(client, tenant, **params, limit=100))["items"]]


def _all(*seeded: Seeded) -> list[str]:
    return [str(s) for one in seeded for s in one.slot_ids]


async def test_with_no_filter_every_open_slot_of_the_horizon_soonest_first(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable, centres: Centres
) -> None:
    page = await _search(client, tenant, limit=100)
    assert [i["id"] for i in page["items"]] == _all(timetable.hill, timetable.river, timetable.city)
    assert page["next_cursor"] is None
    assert page["date_from"] == str(day(tenant, 0))
    assert page["date_to"] == str(day(tenant, 28))
    first = page["items"][0]
    assert first["remaining"] == 5
    assert first["capacity"] == 5
    assert first["product"] == {"id": "covid-mrna", "name": "CoviGuard mRNA"}
    assert first["dose_numbers"] == [1, 2]
    assert first["facility"]["id"] == str(centres.hill)
    assert first["facility"]["name"] == {"en": "Hill Clinic"}
    assert first["facility"]["address"] == "12 Main Street, Hillcrest Town"
    assert first["booking_url"] == f"/{tenant.code}/book?slot={first['id']}"
    # Shown in the tenant's time zone (Toronto), the same instant as stored.
    start = dt.datetime.fromisoformat(first["start"])
    assert start.utcoffset() in (dt.timedelta(hours=-5), dt.timedelta(hours=-4))
    assert start.astimezone(dt.UTC).time() == dt.time(14, 0)
    assert dt.datetime.fromisoformat(first["end"]) - start == dt.timedelta(minutes=10)


async def test_region_postal_code_and_distance_narrow_the_places(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    t = timetable
    assert await _ids(client, tenant, region="NOR") == _all(t.hill, t.river)
    assert await _ids(client, tenant, region="NOR-02") == _all(t.river)
    assert await _ids(client, tenant, region="SOU") == []
    assert await _ids(client, tenant, postal_code="d1a") == _all(t.hill)
    assert await _ids(client, tenant, postal_code="D1") == _all(t.hill, t.river)
    near = await _search(client, tenant, lat=48.41, lon=-79.61, radius_km=10)
    assert [i["id"] for i in near["items"]] == _all(t.hill)
    assert 0 < near["items"][0]["facility"]["distance_km"] < 2
    assert await _ids(client, tenant, lat=48.41, lon=-79.61, radius_km=100) == _all(t.hill, t.river)


async def test_dates_vaccine_dose_and_age_narrow_what_is_offered(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    t = timetable
    two = str(day(tenant, 2))
    assert await _ids(client, tenant, date_from=two, date_to=two) == _all(t.river)
    assert await _ids(client, tenant, date_from=str(day(tenant, 2))) == _all(t.river, t.city)
    assert await _ids(client, tenant, date_from=str(day(tenant, 29))) == []
    assert await _ids(client, tenant, vaccine="mmr") == _all(t.river)
    assert await _ids(client, tenant, dose=2) == _all(t.hill)
    assert await _ids(client, tenant, dose=3) == _all(t.city)
    assert await _ids(client, tenant, dose=4) == []
    # CoviGuard is from 12 years, the city's session from 60, MMR from 9 months.
    assert await _ids(client, tenant, age=10) == _all(t.river)
    assert await _ids(client, tenant, age=30) == _all(t.hill, t.river)
    assert await _ids(client, tenant, age=65) == _all(t.hill, t.river, t.city)
    assert await _ids(client, tenant, age=65, vaccine="covid-mrna", dose=3) == _all(t.city)


async def test_a_past_start_is_today_and_the_horizon_cuts_the_end(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    page = await _search(
        client, tenant, date_from=str(day(tenant, -5)), date_to=str(day(tenant, 400))
    )
    assert (page["date_from"], page["date_to"]) == (str(day(tenant, 0)), str(day(tenant, 28)))


async def test_pages_follow_cursors_to_the_end_without_gaps(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    for params in (
        {},
        {"region": "NOR"},
        {"lat": 47.0, "lon": -78.0, "radius_km": 2000},
        {"age": 65, "dose": 1},
    ):
        seen: list[str] = []
        cursor = None
        while True:
            query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = await _search(client, tenant, **query)
            assert len(page["items"]) <= 2
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == await _ids(client, tenant, **params)
        assert len(seen) == len(set(seen)) >= 5


async def test_a_page_that_reads_its_whole_stretch_answers_short_and_goes_on_from_there(
    client: httpx.AsyncClient,
    tenant: TenantInfo,
    timetable: Timetable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search, "SCAN_ROWS", 4)
    # One read of limit + 1 = 4 rows (Hillcrest's 3, Rivermouth's first) admits none.
    first = await _search(client, tenant, dose=3, limit=3)
    assert first["items"] == []
    assert first["next_cursor"] is not None
    second = await _search(client, tenant, dose=3, limit=3, cursor=first["next_cursor"])
    assert [i["id"] for i in second["items"]] == _all(timetable.city)
    assert second["next_cursor"] is None


async def test_a_cursor_only_continues_its_own_search(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    page = await _search(client, tenant, limit=1)
    r = await client.get(
        f"/api/v1/{tenant.code}/slots", params={"cursor": page["next_cursor"], "vaccine": "mmr"}
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["cursor"]
    for bad in ("not-a-cursor", "eyJmIjoxfQ", "W10"):
        r = await client.get(f"/api/v1/{tenant.code}/slots", params={"cursor": bad})
        assert r.status_code == 422, bad
        assert r.json()["errors"][0]["reason"] == "is not a cursor this list gave out"


async def test_remaining_counts_the_seats_left_and_a_full_slot_is_not_offered(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    timetable: Timetable,
) -> None:
    slot = timetable.city.slot_ids[0]

    async def book() -> None:
        async with clean_db.transaction(tenant_id=tenant.id) as uow:
            seat = Seat(uuid.uuid4(), None, "covid-19", 3, None)
            assert await book_in(uow, tenant.id, slot, seat) is not None

            async def changed() -> None:
                await slots_changed(cache, tenant.id)

            uow.after_commit(changed)

    def remaining(page: dict[str, Any]) -> int | None:
        return next((i["remaining"] for i in page["items"] if i["id"] == str(slot)), None)

    assert remaining(await _search(client, tenant, limit=100)) == 2
    await book()
    assert remaining(await _search(client, tenant, limit=100)) == 1
    await book()
    assert remaining(await _search(client, tenant, limit=100)) is None
    assert await _ids(client, tenant, dose=3) == [str(timetable.city.slot_ids[1])]


async def test_slots_of_a_centre_out_of_service_are_not_offered(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    timetable: Timetable,
    centres: Centres,
) -> None:
    await facilities.deactivate(db=clean_db, cache=cache, tenant=tenant, facility_id=centres.river)
    await slots_changed(cache, tenant.id)
    t = timetable
    assert await _ids(client, tenant) == _all(t.hill, t.city)
    assert await _ids(client, tenant, facility_id=str(centres.hill)) == _all(t.hill)


async def test_answers_are_public_cacheable_and_304_while_the_etag_matches(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    url = f"/api/v1/{tenant.code}/slots?region=NOR"
    first = await client.get(url)
    assert first.headers["cache-control"] == "public, max-age=2"
    assert first.headers["content-type"] == "application/json"
    etag = first.headers["etag"]
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert (await client.get(url, headers={"If-None-Match": '"x"'})).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"region": "NOPE"}, "region"),
        ({"vaccine": "nope"}, "vaccine"),
        ({"lat": 10}, "query.lon"),
        ({"radius_km": 5}, "query.radius_km"),
        ({"lat": 91, "lon": 0}, "query.lat"),
        ({"dose": 0}, "query.dose"),
        ({"age": -1}, "query.age"),
        ({"age": "old"}, "query.age"),
        ({"limit": 101}, "query.limit"),
        ({"date_from": "2030-01-10", "date_to": "2030-01-09"}, "query.date_to"),
        ({"date_from": "tomorrow"}, "query.date_from"),
        ({"facility_id": "x"}, "query.facility_id"),
        ({"colour": "red"}, "query.colour"),
    ],
)
async def test_bad_searches_are_422_naming_the_parameter(
    client: httpx.AsyncClient, tenant: TenantInfo, params: dict[str, Any], field: str
) -> None:
    r = await client.get(f"/api/v1/{tenant.code}/slots", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_an_unknown_tenant_is_404(client: httpx.AsyncClient, tenant: TenantInfo) -> None:
    r = await client.get("/api/v1/nowhere/slots")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_session_published_through_the_api_is_offered_at_once(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    assert await _ids(client, tenant, region="NOR-01-01") == []  # and now cached
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    await publish(client, tenant, manager, body(centre, day=str(day(tenant, 2))))
    page = await _search(client, tenant, region="NOR-01-01", limit=100)
    assert len(page["items"]) == 6  # 09:00-10:00 in 10-minute slots
    assert {(i["remaining"], i["facility"]["id"]) for i in page["items"]} == {(2, str(centre))}
    assert dt.datetime.fromisoformat(page["items"][0]["start"]).time() == dt.time(9, 0)
