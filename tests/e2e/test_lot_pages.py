"""A regional admin registers a lot with the form on a phone (390 x 844): a mistake first,
then the lot in the list. axe-clean at every step, nothing wider than the screen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_registration_pages import _session
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import _accessible
from tests.identity.helpers import make_staff
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


async def test_a_region_admin_registers_a_lot_on_a_phone(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    cache = Cache(MemoryBackend())
    tenant = await get_tenant_or_404(db=db, cache=cache, code="sn")
    admin = await make_staff(db, settings, tenant, role="region_admin", region_code="NOR")
    page = await new_page(viewport=PHONE, locale="en-GB")
    errors = watch_for_errors(page)
    await _session(page, live_server, await web_session(db, settings, tenant, admin.id))

    await page.goto(live_server.url + "/sn/staff/lots?lang=en")
    await _accessible(page, "no lots")
    await page.get_by_role("link", name="Register a lot").click()
    await _accessible(page, "lot form")
    await page.get_by_label("Vaccine", exact=True).select_option("covid-mrna")
    await page.get_by_label("Lot number").fill("ew 0150")
    await page.get_by_label("Expires on").fill("2030-06-30")
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("alert")).to_have_count(1)
    await _accessible(page, "lot form with a problem")
    await page.get_by_label("Lot number").fill(" ew0150 ")
    await page.get_by_label("Doses per vial (optional)").fill("6")
    await page.get_by_role("button", name="Register").click()

    assert "Lot registered." in await page.get_by_role("status").inner_text()
    await _accessible(page, "lots")
    assert "EW0150" in await page.locator("tbody").inner_text()
    assert [e for e in errors if "status of 422" not in e] == []
