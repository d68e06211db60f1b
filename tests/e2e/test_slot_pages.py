"""The public slot search and 7-day calendar in a real browser: no script, phone width, axe."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_staff_pages import _accessible
from tests.facilities.helpers import body as facility_body
from tests.scheduling.seed import open_session
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.facilities.schemas import FacilityCreate
from vaxport.scheduling.search_area import today
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
PHONES = [{"width": 320, "height": 640}, {"width": 390, "height": 844}]
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
async def slots_url(live_server: LiveServer, db: Database) -> str:
    """The slot search of tenant ``sn``, with two centres' sessions over the coming days."""
    cache = Cache(MemoryBackend())
    tenant = await get_tenant_or_404(db=db, cache=cache, code="sn")
    first = today(tenant)
    for n, (code, region, name) in enumerate(
        [
            ("E2E-HILL", "NOR-01-01", "Centre de santé de la Colline, aile Est (bâtiment B)"),
            ("E2E-SUN", "SOU-01-01", "Clinique du Soleil"),
        ]
    ):
        data = FacilityCreate.model_validate(
            facility_body(code=code, region_code=region, name={"fr": name, "en": name})
        )
        centre = (await facilities.create(db=db, cache=cache, tenant=tenant, data=data)).id
        for ahead in (1, 2, 4):
            await open_session(
                db, tenant.id, centre, region_code=region, day=first + dt.timedelta(days=ahead),
                slots=3, seats=4 + n, start=dt.time(14 + n, 0),
            )  # fmt: skip
    return live_server.url + "/sn/slots"


@pytest.mark.parametrize("viewport", [*PHONES, DESKTOP])
async def test_search_and_calendar_have_no_axe_violations_and_fit_the_screen(
    slots_url: str, new_page: NewPage, viewport: dict[str, int]
) -> None:
    page = await new_page(viewport=viewport, locale="en-GB")
    for url in (
        slots_url + "?lang=en",
        slots_url + "?region=SOU&vaccine=covid-mrna",
        slots_url + "?region=NOPE",
        slots_url + "/calendar",
        slots_url + "/calendar?region=NOR&age=40",
    ):
        await page.goto(url)
        await _accessible(page, url)


async def test_without_a_script_a_person_finds_a_slot_and_reaches_its_booking_link(
    slots_url: str, new_page: NewPage
) -> None:
    page = await new_page(java_script_enabled=False, viewport=PHONES[0], locale="en-GB")
    await page.goto(slots_url + "?lang=en")
    assert await page.locator("h1").inner_text() == "Find a vaccination slot"
    await page.get_by_label("Region").select_option("SOU")
    await page.get_by_label("Age in years").fill("30")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url("**region=SOU*")
    slots = page.locator(".slot")
    await expect(slots).to_have_count(9)
    assert all("Clinique du Soleil" in t for t in await slots.all_inner_texts())
    book = page.get_by_role("link", name="Book").first
    assert "/sn/book?slot=" in (await book.get_attribute("href") or "")
    assert "5 places left" in await slots.first.inner_text()


async def test_the_calendar_reads_as_cards_on_a_phone_and_links_to_a_days_slots(
    slots_url: str, new_page: NewPage
) -> None:
    page = await new_page(java_script_enabled=False, viewport=PHONES[1], locale="en-GB")
    await page.goto(slots_url + "/calendar?lang=en&region=NOR")
    rows = page.locator("table.calendar tbody tr")
    await expect(rows).to_have_count(1)
    labels = await page.evaluate(
        "() => [...document.querySelectorAll('.table-stack tbody tr:first-child td')]"
        ".map(td => getComputedStyle(td, '::before').content)"
    )
    assert labels[0] == '"Centre"'
    assert len(labels) == 8
    await page.get_by_role("link", name="12 places").first.click()
    await page.wait_for_url("**facility_id=*")
    await expect(page.locator(".slot")).to_have_count(3)
    await expect(page.locator(".slot-day")).to_have_count(1)
