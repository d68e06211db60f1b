"""Registration pages in a real browser: a citizen adds a family member and sees them
listed; staff work the duplicate and correction queues. axe-clean at phone width."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import _accessible
from tests.identity.helpers import actor_for, make_staff
from tests.registration.helpers import national_id
from tests.registration.review.review_support import add_citizen, add_flag, add_person, web_session
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.registration.review import corrections
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
PHONE = {"width": 320, "height": 640}


async def _session(page: Any, server: LiveServer, cookie: str) -> None:
    await page.context.add_cookies(
        [{"name": "vaxport_session", "value": cookie, "url": server.url, "httpOnly": True}]
    )


async def test_a_citizen_adds_a_family_member_and_sees_them_listed(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="sn")
    citizen = await add_citizen(db, tenant)
    page = await new_page(viewport=PHONE, locale="en-GB")
    errors = watch_for_errors(page)
    await _session(page, live_server, await web_session(db, settings, tenant, citizen))

    await page.goto(live_server.url + "/sn/family?lang=en")
    assert await page.locator("h1").inner_text() == "My family"
    await _accessible(page, "family (empty)")
    await page.get_by_role("link", name="Add a family member").click()
    await _accessible(page, "add member")
    await page.get_by_label("Given name").fill("Aminata")
    await page.get_by_label("Family name").fill("Sow")
    await page.get_by_label("Sex").select_option("female")
    await page.get_by_label("Date of birth").fill("1990-04-12")
    await page.get_by_label("ID number").fill("12")
    await page.get_by_role("button", name="Add this person").click()
    await expect(page.get_by_role("alert")).to_have_count(1)
    assert await page.get_by_label("ID number").get_attribute("aria-invalid") == "true"
    await _accessible(page, "add member error")

    await page.get_by_label("ID number").fill(national_id())
    await (
        page.get_by_role("group", name="Occupation (optional)")
        .get_by_label("Health or care worker")
        .check()
    )
    await page.get_by_role("button", name="Add this person").click()
    await page.wait_for_url(live_server.url + "/sn/family?done=added")
    assert "Aminata Sow" in await page.locator("main").inner_text()
    await _accessible(page, "family (one member)")

    await page.get_by_role("link", name="Correct name, birth date or ID").click()
    await _accessible(page, "correction form")
    await page.go_back()
    await page.get_by_role("link", name="Change details").click()
    await _accessible(page, "edit details")
    assert await page.get_by_label("Health or care worker").is_checked()
    await page.get_by_role("link", name="Change phone or e-mail").click()
    await _accessible(page, "contact change")
    # The refused first attempt answers 422, which the browser logs itself.
    assert [e for e in errors if "status of 422" not in e] == []


async def test_staff_review_queues_are_accessible(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="sn")
    older = await add_person(db, tenant, given_name="Khady")
    newer = await add_person(db, tenant, given_name="Khady")
    await add_flag(db, tenant, newer, older, region="CEN-01-01")
    owner = await add_citizen(db, tenant)
    person = await add_person(db, tenant, account_id=owner)
    await corrections.request_correction(
        db=db,
        tenant=tenant,
        actor=actor_for(tenant, "citizen", account_id=owner, kind="citizen"),
        beneficiary_id=person,
        field="family_name",
        value="Ndiaye",
        reason="married name",
    )
    admin = await make_staff(db, settings, tenant, role="national_admin")
    page = await new_page(viewport=PHONE, locale="en-GB")
    errors = watch_for_errors(page)
    await _session(page, live_server, await web_session(db, settings, tenant, admin.id))

    await page.goto(live_server.url + "/sn/staff/duplicates?lang=en")
    await _accessible(page, "duplicates")
    async with page.expect_navigation():
        await page.get_by_role("link", name="Compare").first.click()
    await _accessible(page, "compare")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Merge the records").click()
    await expect(page.get_by_role("alert")).to_have_count(1)  # no survivor chosen
    await _accessible(page, "compare error")
    await page.get_by_role("radio").first.check()
    await page.get_by_role("button", name="Merge the records").click()
    await page.wait_for_url(live_server.url + "/sn/staff/duplicates?done=merged")
    await _accessible(page, "duplicates after merge")

    async with page.expect_navigation():
        await page.get_by_role("link", name="Corrections").click()
    await _accessible(page, "corrections")
    async with page.expect_navigation():
        await page.locator("tbody a").first.click()
    await _accessible(page, "correction")
    await page.get_by_label("Note for the record (optional)").fill("Seen the certificate")
    await page.get_by_role("button", name="Approve and change the record").click()
    await page.wait_for_url(live_server.url + "/sn/staff/corrections?done=approved")
    await page.goto(live_server.url + "/sn/staff/walk-in?lang=en")
    await _accessible(page, "walk-in")
    assert [e for e in errors if "status of 422" not in e] == []
