"""The vaccinator's console in a real browser at phone width: from today's list to a dose
recorded (a refusal shown first), then the citizen sees the dose on their member's
record; axe-core finds nothing on any page, and no console error."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_registration_pages import _session
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import PHONE, _accessible
from tests.identity.helpers import make_staff
from tests.immunization.support import add_lot
from tests.registration.conftest import make_facility
from tests.registration.review.review_support import add_citizen, add_person, web_session
from tests.scheduling.attendance.support import session_today, statuses
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]


async def test_a_vaccinator_records_a_dose_and_the_citizen_sees_it(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    cache = Cache(MemoryBackend())
    tenant = await get_tenant_or_404(db=db, cache=cache, code="sn")
    centre = await make_facility(db, cache, tenant, code="DOSE-1", region_code="NOR-01-01")
    lot = await add_lot(db, tenant, "covid-mrna", "E2E-LOT-1")
    citizen = await add_citizen(db, tenant)
    member = await add_person(
        db, tenant, account_id=citizen, region_code="NOR-01-01", given_name="Awa", family_name="Ba"
    )
    seeded = await session_today(db, tenant, centre)
    async with db.transaction(tenant_id=tenant.id) as uow:
        booked = await book_in(
            uow, tenant.id, seeded.slot_ids[0], Seat(member, None, "covid-19", 1, None)
        )
    assert booked is not None
    vaccinator = await make_staff(db, settings, tenant, role="vaccinator", facility_id=centre)
    page = await new_page(viewport=PHONE, locale="en-GB")
    errors = watch_for_errors(page)
    await _session(page, live_server, await web_session(db, settings, tenant, vaccinator.id))

    await page.goto(live_server.url + "/sn/staff/today?lang=en")
    await page.get_by_role("link", name=re.compile(r"^Record dose\W+Awa Ba$")).click()
    await page.get_by_role("heading", name="Record a dose").wait_for()
    await _accessible(page, "record form")
    await page.get_by_role("button", name="Record the dose").click()  # no lot chosen
    await expect(page.get_by_role("alert")).to_have_count(1)
    assert await page.get_by_label("Lot", exact=True).get_attribute("aria-invalid") == "true"
    await _accessible(page, "record form with an error")
    await page.get_by_label("Lot", exact=True).select_option(str(lot))
    await page.get_by_role("button", name="Record the dose").click()
    await page.wait_for_url(re.compile(r".*/sn/staff/doses/[0-9a-f-]+\?done=recorded$"))
    status = await page.get_by_role("status").inner_text()
    assert status == "Dose 1 of CoviGuard mRNA is recorded for Awa."
    assert "Dose 2 from" in await page.locator("main").inner_text()
    await _accessible(page, "dose recorded")
    assert (await statuses(db, tenant))[booked.id] == "completed"

    home = await new_page(viewport=PHONE, locale="en-GB")
    citizen_errors = watch_for_errors(home)
    await _session(home, live_server, await web_session(db, settings, tenant, citizen))
    await home.goto(live_server.url + "/sn/family?lang=en")
    await home.get_by_role("link", name=re.compile(r"^Vaccination record")).click()
    await home.get_by_role("heading", name="Vaccination record of Awa").wait_for()
    main = await home.locator("main").inner_text()
    assert "CoviGuard mRNA" in main
    assert "E2E-LOT-1" in main
    await _accessible(home, "citizen record")
    await home.get_by_role("link", name="Report an adverse event").click()
    await home.get_by_role("heading", name="Report an adverse event").wait_for()
    await _accessible(home, "citizen adverse event form")
    # The refused first attempt answers 422, which the browser logs itself.
    assert [e for e in errors if "status of 422" not in e] == []
    assert citizen_errors == []
