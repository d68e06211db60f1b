"""Tables at phone width (390 x 844): the team, the review queues and a citizen's
correction history become one card per row, every value under its column's name, with
nothing clipped and no sideways scrolling. axe-clean."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_registration_pages import _session
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import _accessible
from tests.identity.helpers import actor_for, make_staff
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
PHONE = {"width": 390, "height": 844}

# Per table: does anything stick out of the page or of its scroll box, and what does each
# cell of the first row show as its label?
_MEASURE = """() => ({
  page: document.scrollingElement.scrollWidth - window.innerWidth,
  boxes: [...document.querySelectorAll('.table-scroll')].map(b => b.scrollWidth - b.clientWidth),
  labels: [...document.querySelectorAll('.table-stack tbody tr:first-child td')].map(
    td => getComputedStyle(td, '::before').content),
})"""


async def _fits(page: Any, name: str, labels: list[str]) -> None:
    await _accessible(page, name)
    seen = await page.evaluate(_MEASURE)
    assert seen["page"] <= 0, f"{name}: the page scrolls sideways by {seen['page']}px"
    assert seen["boxes"], f"{name}: no table"
    assert max(seen["boxes"]) <= 0, f"{name}: a table is clipped {seen}"
    assert seen["labels"] == [f'"{label}"' for label in labels], name


async def test_staff_tables_read_as_cards_on_a_phone(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="sn")
    admin = await make_staff(db, settings, tenant, role="national_admin")
    for n in range(3):  # long names and scopes are what pushed the columns off the screen
        await make_staff(
            db,
            settings,
            tenant,
            role="region_admin",
            username=f"marie-therese.ndiaye-sarr{n}",
            region_code="NOR-01-01",
            display_name="Marie-Thérèse Ndiaye-Sarr de Saint-Louis",
            enrol=False,
        )
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
        value="Ndiaye-Sarr de Saint-Louis",
        reason="married name",
    )
    page = await new_page(viewport=PHONE, locale="en-GB")
    errors = watch_for_errors(page)
    await _session(page, live_server, await web_session(db, settings, tenant, admin.id))

    await page.goto(live_server.url + "/sn/staff/team?lang=en")
    await _fits(page, "team", ["Username", "Name", "Role", "Works in", "Status", "Actions"])
    # The buttons are still there, and inside the screen.
    button = page.get_by_role("button", name="Reset sign-in").first
    box = await button.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= PHONE["width"]

    await page.goto(live_server.url + "/sn/staff/duplicates")
    await _fits(page, "duplicates", ["Flagged on", "Region", "Actions"])
    await page.goto(live_server.url + "/sn/staff/corrections")
    await _fits(page, "corrections", ["Record", "Field", "Region", "Asked on"])

    citizen = await new_page(viewport=PHONE, locale="en-GB")
    await _session(citizen, live_server, await web_session(db, settings, tenant, owner))
    await citizen.goto(live_server.url + f"/sn/family/{person}/correct?lang=en")
    await _fits(
        citizen,
        "correction history",
        ["Field", "Asked for", "Status", "Note from staff", "Actions"],
    )
    assert errors == []


async def test_on_a_desktop_the_tables_stay_tables(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="sn")
    admin = await make_staff(db, settings, tenant, role="national_admin")
    page = await new_page(viewport={"width": 1280, "height": 800}, locale="en-GB")
    await _session(page, live_server, await web_session(db, settings, tenant, admin.id))
    await page.goto(live_server.url + "/sn/staff/team?lang=en")
    assert await page.locator(".table-stack thead").is_visible()
    display = await page.locator(".table-stack tbody tr").first.evaluate(
        "tr => getComputedStyle(tr).display"
    )
    assert display == "table-row"
