"""The citizen booking flow in a real browser at phone width, axe-clean at every step:
from a slot link while signed out, through sign-in and back, book, see the code, a
refusal in words, move the appointment, cancel it. No script runs (there is none)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import _accessible
from tests.identity.helpers import last_code
from tests.registration.conftest import make_facility
from tests.scheduling.booking.support import DAY, add_people, national, seats
from tests.scheduling.conftest import REGION
from tests.scheduling.seed import open_session
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.identity.models import Account
from vaxport.scheduling import service as scheduling
from vaxport.scheduling.models import Appointment
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
PHONE = {"width": 320, "height": 640}
NUMBER = "416 555 0177"


async def _codes(db: Database, tenant_id: uuid.UUID) -> dict[str, str]:
    async with db.read(tenant_id=tenant_id) as s:
        rows = await s.execute(
            select(Appointment.booking_code, Appointment.status).where(
                Appointment.tenant_id == tenant_id
            )
        )
        return dict(rows.all())


async def test_a_citizen_books_sees_the_code_moves_and_cancels(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    cache = Cache(MemoryBackend())
    tenant = await get_tenant_or_404(db=db, cache=cache, code="sn")
    centre = await make_facility(db, cache, tenant, code="BK-1", region_code=REGION)
    first = await open_session(db, tenant.id, centre, region_code=REGION, day=DAY, slots=2)
    [full] = (
        await open_session(db, tenant.id, centre, region_code=REGION, day=DAY, seats=1)
    ).slot_ids
    async with db.transaction(tenant_id=tenant.id) as uow:
        account = Account(tenant_id=tenant.id, kind="citizen", role="citizen", token_version=1)
        account.phone = "+14165550177"
        uow.session.add(account)
        await uow.session.flush()
        account_id = account.id
    member, sister = await add_people(db, tenant, 2, account_id=account_id)
    [stranger] = await add_people(db, tenant, 1)
    await scheduling.book(
        db=db,
        cache=cache,
        settings=settings,
        tenant=tenant,
        actor=national(tenant),
        body=scheduling.AppointmentIn(beneficiary_id=stranger, slot_id=full),
    )
    slot_a, slot_b = first.slot_ids
    page = await new_page(viewport=PHONE, locale="en-GB")
    errors = watch_for_errors(page)
    url = live_server.url

    # A slot link from the search, signed out: sign in first, then back to it.
    await page.goto(f"{url}/sn/book?slot={slot_a}")
    assert "/sn/sign-in?next=" in page.url
    await _accessible(page, "sign-in")
    await page.get_by_label("Mobile phone number or e-mail address").fill(NUMBER)
    await page.get_by_role("button", name="Send me a code").click()
    await page.get_by_label("Code", exact=True).fill(await last_code(db, tenant.id))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{url}/sn/book?slot={slot_a}")
    await _accessible(page, "member")

    # Book: the member, then the confirmation, then the code.
    await page.get_by_role("link", name="Person0").click()
    await page.wait_for_url(f"{url}/sn/book/{member}/confirm?slot={slot_a}")
    await _accessible(page, "confirm")
    await page.get_by_role("button", name="Book this appointment").click()
    await page.wait_for_url(f"{url}/sn/appointments/*?done=booked")
    await _accessible(page, "booked")
    code = (await page.locator(".booking-code .code").inner_text()).strip()
    assert (await _codes(db, tenant.id))[code] == "booked"

    # A slot someone else filled meanwhile: told in words, with another slot to choose.
    await page.goto(f"{url}/sn/book?slot={full}")
    await page.get_by_role("link", name="Person1").click()
    await page.wait_for_url(f"{url}/sn/book/{sister}/confirm?slot={full}")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Book this appointment").click()
    alert = page.get_by_role("alert")
    assert "Someone has just taken the last place" in await alert.inner_text()
    await _accessible(page, "refused")
    await page.get_by_role("link", name="Choose another slot").click()
    await page.wait_for_url(f"{url}/sn/book/{sister}/at/{centre}")
    await _accessible(page, "days")

    # Move it to the other slot of the session.
    await page.goto(f"{url}/sn/family/{member}/appointments")
    await _accessible(page, "appointments")
    await page.get_by_role("link", name="Change the appointment on").click()
    await page.wait_for_url(f"{url}/sn/appointments/*/move")
    await _accessible(page, "move: place")
    await page.get_by_role("link", name="Hillcrest Health Centre").click()
    await page.wait_for_url(f"{url}/sn/appointments/*/move/at/{centre}")
    await _accessible(page, "move: day")
    await page.locator(".offer-list a").first.click()
    await page.wait_for_url(f"{url}/sn/appointments/*/move/at/{centre}/{DAY.isoformat()}")
    await _accessible(page, "move: time")
    await expect(page.locator(".offer-list a")).to_have_count(
        1
    )  # not its own slot, not the full one
    await page.locator(f'a[href$="slot={slot_b}"]').click()
    await page.wait_for_url(f"{url}/sn/appointments/*/move/confirm?slot={slot_b}")
    await _accessible(page, "move: confirm")
    await page.get_by_role("button", name="Change to this time").click()
    await page.wait_for_url(f"{url}/sn/appointments/*?done=moved")
    await _accessible(page, "moved")
    moved_code = (await page.locator(".booking-code .code").inner_text()).strip()
    assert (await _codes(db, tenant.id))[moved_code] == "booked"
    assert await seats(db, tenant.id, [slot_a, slot_b]) == [0, 1]

    # Cancel, after saying yes.
    await page.get_by_role("link", name="Cancel the appointment").click()
    await page.wait_for_url(f"{url}/sn/appointments/*/cancel")
    await _accessible(page, "cancel")
    await page.get_by_role("button", name="Yes, cancel it").click()
    await page.wait_for_url(f"{url}/sn/family/{member}/appointments?done=cancelled")
    await _accessible(page, "cancelled")
    assert "Person0 has no appointment to come." in await page.locator("main").inner_text()
    assert await seats(db, tenant.id, [slot_a, slot_b, full]) == [0, 0, 1]
    # The refused booking answers 409, which the browser logs itself.
    assert [e for e in errors if "status of 409" not in e] == []
