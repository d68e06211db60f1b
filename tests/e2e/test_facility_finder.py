"""The centre finder in a real browser: search by region, "use my location", no-JS, axe."""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import expect

from tests.conftest import ROOT
from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_shell import watch_for_errors
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.facilities.importer import import_file
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]


@pytest.fixture(scope="module")
async def finder(live_server: LiveServer, db: Database) -> str:
    """The URL of the finder of tenant ``sn`` (French first), with the demo's centres."""
    cache = Cache(MemoryBackend())
    tenant = await get_tenant_or_404(db=db, cache=cache, code="sn")
    summary = await import_file(
        db=db,
        cache=cache,
        tenant=tenant,
        path=ROOT / "countries" / "demo-facilities.csv",
        kind="csv",
        report=io.StringIO(),
    )
    assert summary.invalid == 0
    return live_server.url + "/sn/facilities"


async def _distances(page: Any) -> list[float]:
    texts = await page.locator(".facility-meta strong").all_inner_texts()
    # English pages: "12.3 km away".
    return [float(m.group()) for t in texts if (m := re.search(r"\d+(?:\.\d+)?", t))]


async def test_find_a_centre_by_region(finder: str, new_page: NewPage) -> None:
    page = await new_page(locale="fr-FR")
    errors = watch_for_errors(page)
    await page.goto(finder)
    assert await page.locator("h1").inner_text() == "Trouver un centre de vaccination"
    await page.get_by_label("Région").select_option("NOR-01")
    await page.get_by_role("button", name="Rechercher").click()
    await page.wait_for_url("**/sn/facilities?region=NOR-01*")
    results = page.locator(".facility")
    await expect(results).to_have_count(20)  # a full first page ...
    metas = await page.locator(".facility-meta").all_inner_texts()
    assert all("Hillcrest Town" in m or "Oakridge" in m for m in metas)
    await page.get_by_role("link", name="Plus de centres").click()  # ... and the next one
    await page.wait_for_url("**cursor=*")
    more = await page.locator(".facility-meta").all_inner_texts()
    assert more
    assert all("Hillcrest Town" in m or "Oakridge" in m for m in more)
    await page.locator(".facility summary").first.click()
    assert await page.locator(".facility table.hours").first.is_visible()
    assert errors == []


VIEWPORTS = [{"width": 320, "height": 640}, {"width": 1280, "height": 800}]


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_the_finder_has_no_axe_violations_and_fits_the_screen(
    finder: str, new_page: NewPage, viewport: dict[str, int]
) -> None:
    page = await new_page(viewport=viewport)
    errors = watch_for_errors(page)
    for url in (finder, finder + "?region=SOU&vaccine=mmr", finder + "?region=NOPE"):
        await page.goto(url)
        if await page.locator("details").count():  # check the hours table too
            await page.locator("details").first.evaluate("d => { d.open = true; }")
        results = await Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{url} overflows by {overflow}px"
    assert [e for e in errors if "422" not in e] == []


async def test_use_my_location_sorts_centres_by_distance(finder: str, new_page: NewPage) -> None:
    page = await new_page(
        locale="en-GB",
        geolocation={"latitude": 44.4512, "longitude": -74.2271},
        permissions=["geolocation"],
    )
    errors = watch_for_errors(page)
    await page.goto(finder + "?lang=en")
    button = page.get_by_role("button", name="Use my location")
    assert await button.is_visible()  # revealed by the script
    await button.click()
    await page.wait_for_url("**lat=44.45&lon=-74.23*")  # rounded before it leaves
    distances = await _distances(page)
    assert len(distances) >= 3  # the centres within the default 50 km
    assert distances == sorted(distances)
    assert distances[-1] <= 50
    assert distances[0] < 50
    assert "Nearest first" in await page.locator(".results").inner_text()
    assert errors == []


async def test_without_javascript_the_form_still_finds_centres(
    finder: str, new_page: NewPage
) -> None:
    page = await new_page(java_script_enabled=False, locale="en-GB")
    await page.goto(finder + "?lang=en")
    assert not await page.get_by_role("button", name="Use my location").is_visible()
    await page.get_by_label("Postal code").fill("D1A")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url("**postal_code=D1A*")
    codes = await page.locator(".facility-address").all_inner_texts()
    assert codes
    assert all("D1A" in c for c in codes)
