"""The 7-day calendar of an area: open seats per centre and day."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.scheduling.search.conftest import Centres, Timetable, day
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.scheduling.availability import slots_changed
from vaxport.tenancy.schemas import TenantInfo


async def _calendar(client: httpx.AsyncClient, tenant: TenantInfo, **params: Any) -> dict[str, Any]:
    r = await client.get(f"/api/v1/{tenant.code}/slots/calendar", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "public, max-age=2"
    page: dict[str, Any] = r.json()
    return page


def _rows(page: dict[str, Any]) -> dict[str, list[int]]:
    return {row["facility"]["id"]: row["seats"] for row in page["facilities"]}


async def test_seven_days_from_today_with_the_open_seats_of_each_centre(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable, centres: Centres
) -> None:
    page = await _calendar(client, tenant)
    assert page["days"] == [str(day(tenant, n)) for n in range(7)]
    assert _rows(page) == {
        str(centres.hill): [0, 15, 0, 0, 0, 0, 0],
        str(centres.river): [0, 0, 8, 0, 0, 0, 0],
        str(centres.city): [0, 0, 0, 4, 0, 0, 0],
    }
    assert [r["total"] for r in page["facilities"]] == [4, 15, 8]  # CEN before NOR
    assert page["facilities"][1]["facility"]["name"] == {"en": "Hill Clinic"}
    assert page["next_page"] is None


async def test_the_area_and_the_person_narrow_the_calendar(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable, centres: Centres
) -> None:
    hill, river, city = str(centres.hill), str(centres.river), str(centres.city)
    assert set(_rows(await _calendar(client, tenant, region="NOR"))) == {hill, river}
    assert set(_rows(await _calendar(client, tenant, postal_code="D2A"))) == {city}
    assert set(_rows(await _calendar(client, tenant, vaccine="mmr"))) == {river}
    assert set(_rows(await _calendar(client, tenant, dose=3))) == {city}
    assert set(_rows(await _calendar(client, tenant, age=30))) == {hill, river}
    near = await _calendar(client, tenant, lat=48.41, lon=-79.61, radius_km=500)
    assert [r["facility"]["id"] for r in near["facilities"]] == [hill, river, city]  # nearest first
    later = await _calendar(client, tenant, start=str(day(tenant, 2)))
    assert later["days"][0] == str(day(tenant, 2))
    assert _rows(later) == {river: [8, 0, 0, 0, 0, 0, 0], city: [0, 4, 0, 0, 0, 0, 0]}


async def test_pages_of_centres(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    first = await _calendar(client, tenant, limit=2)
    assert (len(first["facilities"]), first["next_page"]) == (2, 2)
    second = await _calendar(client, tenant, limit=2, page=2)
    assert (len(second["facilities"]), second["next_page"]) == (1, None)
    whole = await _calendar(client, tenant)
    assert first["facilities"] + second["facilities"] == whole["facilities"]


async def test_a_booking_takes_its_seat_off_the_calendar(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    timetable: Timetable,
    centres: Centres,
) -> None:
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        seat = Seat(uuid.uuid4(), None, "measles", 1, None)
        assert await book_in(uow, tenant.id, timetable.river.slot_ids[0], seat) is not None
    await slots_changed(cache, tenant.id)
    assert _rows(await _calendar(client, tenant))[str(centres.river)][2] == 7


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"region": "NOPE"}, "region"),
        ({"vaccine": "nope"}, "vaccine"),
        ({"page": 0}, "query.page"),
        ({"limit": 51}, "query.limit"),
        ({"start": "soon"}, "query.start"),
        ({"date_from": "2030-01-01"}, "query.date_from"),  # the search's, not the calendar's
    ],
)
async def test_bad_calendars_are_422_naming_the_parameter(
    client: httpx.AsyncClient, tenant: TenantInfo, params: dict[str, Any], field: str
) -> None:
    r = await client.get(f"/api/v1/{tenant.code}/slots/calendar", params=params)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
