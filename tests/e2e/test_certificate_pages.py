"""A citizen's certificate page in a real browser at phone width: the member's
certificate (issued from doses recorded at a centre) with its doses and downloads, then
its QR code full screen, large enough to be read back from a screenshot to a text the
verifier accepts; axe-clean, nothing overflows, no console error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import expect

from tests.certificates.issuance_support import centre_with_lot, qr, record, stored, work
from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import _accessible
from tests.registration.review.review_support import add_citizen, web_session
from tests.scheduling.booking.support import add_people
from tests.support.qr import qr_texts
from vaxport.certificates import service as certificates
from vaxport.certificates.issuance import own_trust
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
PHONE = {"width": 360, "height": 740}


async def test_a_citizen_opens_their_certificate_and_its_qr_code_full_screen(
    live_server: LiveServer,
    new_page: NewPage,
    db: Database,
    settings: Settings,
    tmp_path: Any,
) -> None:

    cache = Cache(MemoryBackend())
    tenant = await get_tenant_or_404(db=db, cache=cache, code="es")
    await certificates.init_demo_keys(db, cache, settings, tenant.code, live_server.url)
    centre = await centre_with_lot(db, cache, tenant)
    account = await add_citizen(db, tenant)
    [member] = await add_people(
        db, tenant, 1, account_id=account, region_code="NOR-01-01", facility_id=centre
    )
    await record(db, tenant, member, centre, days_ago=40)
    await record(db, tenant, member, centre, days_ago=5)
    await work(db, cache, settings)
    [shc_text] = [qr(r) for r in await stored(db, tenant, member) if r.format == "shc"]

    page = await new_page(viewport=PHONE, locale="es-ES")
    errors = watch_for_errors(page)
    cookie = await web_session(db, settings, tenant, account)
    await page.context.add_cookies(
        [{"name": "vaxport_session", "value": cookie, "url": live_server.url, "httpOnly": True}]
    )
    await page.goto(live_server.url + "/es/account")
    await page.locator("main").get_by_role("link", name="Certificados de vacunación").click()
    await page.wait_for_url(live_server.url + "/es/certificates")
    await _accessible(page, "certificates")
    main = await page.locator("main").inner_text()
    assert "Person0" in main
    assert "CoviGuard mRNA" in main
    await expect(
        page.locator(f'a[href="/es/certificates/{member}/pdf?layout=phone"]')
    ).to_have_count(1)

    # The SMART Health Card is listed first: the densest code, the one to read back.
    await page.locator(f'a[href^="/es/certificates/{member}/qr/"]').first.click()
    await page.wait_for_url(f"{live_server.url}/es/certificates/{member}/qr/*")
    await _accessible(page, "full-screen QR")
    box = await page.locator("svg.qr-code").bounding_box()
    assert box is not None
    assert box["width"] >= PHONE["width"] - 32  # as wide as the phone allows
    shot = tmp_path / "qr.png"
    await page.screenshot(path=str(shot))
    assert qr_texts(Image.open(shot)) == [shc_text]
    own_trust.forget(db)  # the keys are this module's: none cached from before
    assert (await certificates.verify_certificate(db=db, payload=shc_text)).valid
    await page.get_by_role("link", name="Volver a los certificados").click()
    await page.wait_for_url(live_server.url + "/es/certificates")
    assert errors == []
