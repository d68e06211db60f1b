"""The day at a centre in a real browser, at phone width: the list, a code found, a person
marked seen, a session closed after its confirmation; axe-core finds nothing on any page."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import PHONE, _accessible
from tests.identity.helpers import PASSWORD, make_staff
from tests.registration.conftest import make_facility
from tests.scheduling.attendance.support import book, session_today, statuses
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]


async def test_a_vaccinator_works_the_day_on_a_phone(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    cache = Cache(MemoryBackend())
    tenant = await get_tenant_or_404(db=db, cache=cache, code="sn")
    centre = await make_facility(db, cache, tenant, code="DAY-1", region_code="NOR-01-01")
    seeded = await session_today(db, tenant, centre)
    ada = await book(db, tenant, seeded.slot_ids[0], given_name="Ada")
    await book(db, tenant, seeded.slot_ids[1], given_name="Bea", dose=2)
    vaccinator = await make_staff(db, settings, tenant, role="vaccinator", facility_id=centre)
    page = await new_page(viewport=PHONE, locale="en-GB")
    errors = watch_for_errors(page)

    await page.goto(live_server.url + "/sn/staff/today")
    await page.get_by_label("Username").fill(vaccinator.username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_label("Code", exact=True).fill(vaccinator.code())
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(live_server.url + "/sn/staff/today")
    await expect(page.get_by_text("Ada Okafor", exact=True)).to_have_count(1)
    await _accessible(page, "today")

    await page.get_by_label("Booking code").fill(ada.code.lower())
    await page.get_by_role("button", name="Find the booking").click()
    await expect(page.get_by_role("heading", name=f"Booking {ada.code}")).to_have_count(1)
    await _accessible(page, "code found")

    await page.get_by_role("button", name=re.compile(r"^Mark seen\W+Ada Okafor$")).click()
    await page.wait_for_url("**/sn/staff/today?done=completed")
    assert await page.get_by_role("status").inner_text() == "Marked as seen."
    await _accessible(page, "marked seen")

    await page.get_by_role("link", name="Close the session").click()
    # The click only starts the navigation: wait for the confirmation page's sentence.
    await page.get_by_text("1 person still expected will be marked as a no-show.").wait_for()
    await _accessible(page, "close confirmation")
    await page.get_by_role("button", name="Close the session").click()
    await page.wait_for_url("**/sn/staff/today?done=closed")
    await _accessible(page, "closed")
    assert sorted((await statuses(db, tenant)).values()) == ["completed", "no_show"]
    assert errors == []
