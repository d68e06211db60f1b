"""The public verify page in a real browser: paste, photo, no console errors, axe, phone."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import segno
from axe_playwright_python.async_playwright import Axe

from tests.certificates.signers import DccSigner
from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_shell import watch_for_errors
from vaxport.certificates.trust import service as trust
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.principal import OPERATOR
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
VIEWPORTS = [{"width": 320, "height": 640}, {"width": 1280, "height": 800}]


@pytest.fixture(scope="module")
async def certificate(live_server: LiveServer, db: Database) -> str:
    """An HC1 text whose DSC tenant ``sn`` trusts."""
    tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="sn")
    now = utcnow()
    signer = DccSigner.create(
        not_before=now - dt.timedelta(days=2), not_after=now + dt.timedelta(days=60)
    )
    await trust.import_dscs(
        db=db, tenant_id=tenant.id, data=signer.pem(), country=None, by=OPERATOR, source="e2e"
    )
    return signer.hc1(iat=now - dt.timedelta(days=1), exp=now + dt.timedelta(days=30))


async def _no_overflow(page: Any) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"overflows by {overflow}px"


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_paste_and_read_the_verdict_axe_clean_at_phone_width(
    live_server: LiveServer, certificate: str, new_page: NewPage, viewport: dict[str, int]
) -> None:
    page = await new_page(locale="en-GB", viewport=viewport)
    errors = watch_for_errors(page)
    await page.goto(live_server.url + "/verify")
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    await _no_overflow(page)
    await page.get_by_label("Certificate text").fill(certificate)
    await page.get_by_role("button", name="Verify", exact=True).click()
    await page.wait_for_selector(".verify-result")
    assert await page.locator("#result-title").inner_text() == "Valid certificate"
    assert "Erika Muster" in await page.locator(".holder").inner_text()
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    await _no_overflow(page)
    assert errors == []


async def test_a_photo_of_the_qr_code_verifies(
    live_server: LiveServer, certificate: str, new_page: NewPage, tmp_path: Path
) -> None:
    png = tmp_path / "qr.png"
    buffer = io.BytesIO()
    segno.make(certificate, error="q").save(buffer, kind="png", scale=4)
    png.write_bytes(buffer.getvalue())
    page = await new_page(locale="en-GB")
    await page.goto(live_server.url + "/verify")
    await page.get_by_label("Or a photo of the QR code").set_input_files(str(png))
    await page.get_by_role("button", name="Verify", exact=True).click()
    await page.wait_for_selector(".verify-result")
    assert await page.locator("#result-title").inner_text() == "Valid certificate"


async def test_a_forged_certificate_says_which_check_failed(
    live_server: LiveServer, new_page: NewPage
) -> None:
    page = await new_page(locale="en-GB")
    await page.goto(live_server.url + "/verify")
    await page.get_by_label("Certificate text").fill(DccSigner.create().hc1())
    await page.get_by_role("button", name="Verify", exact=True).click()
    await page.wait_for_selector(".verify-result")
    assert await page.locator("#result-title").inner_text() == "Not a valid certificate"
    assert (
        "Signature of a trusted issuer: failed" in await page.locator(".verify-checks").inner_text()
    )
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
