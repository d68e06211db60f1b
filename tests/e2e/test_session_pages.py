"""A facility manager's session pages in Chromium at phone width (390 x 844): publish with
the form (a mistake first), see the sessions as cards, cancel one after confirming.
axe-clean at every step, nothing wider than the screen."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_registration_pages import _session
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import _accessible
from tests.identity.helpers import make_staff
from tests.registration.conftest import make_facility
from tests.registration.review.review_support import web_session
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
PHONE = {"width": 390, "height": 844}
_LABELS = """() => [...document.querySelectorAll('.table-stack tbody tr:first-child td')].map(
    td => getComputedStyle(td, '::before').content)"""


async def test_a_manager_publishes_and_cancels_a_session_on_a_phone(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    cache = Cache(MemoryBackend())
    tenant = await get_tenant_or_404(db=db, cache=cache, code="sn")
    centre = await make_facility(db, cache, tenant, code="SES-1", region_code="NOR-01-01")
    manager = await make_staff(db, settings, tenant, role="facility_manager", facility_id=centre)
    page = await new_page(viewport=PHONE, locale="en-GB")
    errors = watch_for_errors(page)
    await _session(page, live_server, await web_session(db, settings, tenant, manager.id))
    day = dt.datetime.now(zoneinfo.ZoneInfo(tenant.config.timezone)).date() + dt.timedelta(days=3)

    await page.goto(live_server.url + "/sn/staff/sessions?lang=en")
    await _accessible(page, "no sessions")
    await page.get_by_role("link", name="Publish a session").click()
    await _accessible(page, "publish form")
    await page.get_by_label("Vaccine", exact=True).select_option("covid-mrna")
    await page.get_by_label("Dose 2").check()
    await page.get_by_label("Day", exact=True).fill(day.isoformat())
    await page.get_by_label("Start time").fill("09:00")
    await page.get_by_label("End time").fill("08:00")
    await page.get_by_label("Minutes per slot").fill("15")
    await page.get_by_label("People per slot").fill("3")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("alert")).to_have_count(1)
    await _accessible(page, "publish form with a problem")
    await page.get_by_label("End time").fill("10:00")
    await page.get_by_role("button", name="Publish").click()

    assert "1 session published." in await page.get_by_role("status").inner_text()
    await _accessible(page, "sessions")
    labels = await page.evaluate(_LABELS)
    assert labels == [f'"{n}"' for n in ("Time", "Vaccine", "Doses", "Booked", "Status", "Actions")]
    assert "0 of 12" in await page.locator("tbody").inner_text()

    await page.get_by_role("link", name="Cancel the session at 09:00").click()
    await _accessible(page, "cancel confirmation")
    await page.get_by_role("button", name="Cancel the session").click()
    assert "Session cancelled." in await page.get_by_role("status").inner_text()
    assert "Cancelled" in await page.locator("tbody").inner_text()
    await _accessible(page, "sessions after cancelling")
    # The refused first attempt answers 422, which the browser logs itself.
    assert [e for e in errors if "status of 422" not in e] == []
