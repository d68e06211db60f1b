"""The public slot search and calendar pages, as served (the browser tests are in e2e)."""

from __future__ import annotations

import re

import httpx

from tests.scheduling.search.conftest import Centres, Timetable, day
from vaxport.tenancy.schemas import TenantInfo


async def test_the_search_page_lists_slots_by_day_each_linking_to_the_booking_flow(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    r = await client.get(f"/{tenant.code}/slots", params={"lang": "en"})
    assert r.status_code == 200
    html = r.text
    assert "<h1>Find a vaccination slot</h1>" in html
    assert "7 open slots" in html
    for slot in timetable.hill.slot_ids:
        assert f'href="/{tenant.code}/book?slot={slot}"' in html
    assert html.count('class="slot-day"') == 3
    assert "5 places left" in html
    assert "Hill Clinic" in html
    assert "<script" not in html


async def test_the_search_page_narrows_and_pages_without_a_script(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    r = await client.get(f"/{tenant.code}/slots", params={"region": "NOR-02", "lang": "en"})
    assert "2 open slots" in r.text
    assert "River Clinic" in r.text
    assert "Hill Clinic" not in r.text
    r = await client.get(f"/{tenant.code}/slots", params={"age": "10", "dose": "1"})
    assert r.text.count("/book?slot=") == 2  # only MMR: CoviGuard is from 12
    first = await client.get(f"/{tenant.code}/slots", params={"cursor": "", "lang": "en"})
    assert "More slots" not in first.text


async def test_a_bad_search_is_shown_beside_the_form_with_a_422(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    for params, field in (({"region": "NOPE"}, "region"), ({"age": "x", "dose": "0"}, "age")):
        r = await client.get(f"/{tenant.code}/slots", params=params)
        assert r.status_code == 422
        assert 'class="error-summary"' in r.text
        assert f'href="#{field}"' in r.text
        assert f'id="{field}" name="{field}"' in r.text
        assert "/book?slot=" not in r.text


async def test_the_calendar_shows_places_per_centre_and_day_linking_to_their_slots(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable, centres: Centres
) -> None:
    r = await client.get(f"/{tenant.code}/slots/calendar", params={"lang": "en"})
    assert r.status_code == 200
    html = r.text
    assert html.count("<tr>") == 4  # the head and three centres
    assert "15 places" in html
    tomorrow = day(tenant, 1)
    link = (
        f"/{tenant.code}/slots?facility_id={centres.hill}"
        f"&amp;date_from={tomorrow}&amp;date_to={tomorrow}"
    )
    assert link in html
    cells = re.findall(r'<td data-label="[^"]+">None</td>', html)
    assert len(cells) == 3 * 6
    narrowed = await client.get(f"/{tenant.code}/slots/calendar", params={"region": "CEN"})
    assert narrowed.text.count("<tr>") == 2


async def test_pages_are_public_and_answer_304_while_unchanged(
    client: httpx.AsyncClient, tenant: TenantInfo, timetable: Timetable
) -> None:
    for url in (f"/{tenant.code}/slots?region=NOR", f"/{tenant.code}/slots/calendar"):
        first = await client.get(url)
        assert first.headers["cache-control"] == "public, max-age=2"
        again = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
