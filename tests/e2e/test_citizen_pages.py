"""Citizen pages in a real browser: sign in with a code sent to a phone, the account,
sign out, and the recovery form; axe-clean at phone width, no console error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import _accessible
from tests.identity.helpers import last_code
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
PHONE = {"width": 320, "height": 640}


async def test_a_citizen_signs_in_with_a_phone_code_and_signs_out(
    live_server: LiveServer, new_page: NewPage, db: Database
) -> None:
    tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="sn")
    page = await new_page(viewport=PHONE, locale="fr-FR")
    errors = watch_for_errors(page)

    await page.goto(live_server.url + "/sn/")
    await _accessible(page, "home")
    await page.locator("main").get_by_role("link", name="Se connecter").click()
    await page.wait_for_url(live_server.url + "/sn/sign-in")
    await _accessible(page, "sign-in")
    field = page.get_by_label("Numéro de téléphone mobile ou adresse e-mail")
    await field.fill("12")
    await page.get_by_role("button", name="M\u2019envoyer un code").click()
    await expect(page.get_by_role("alert")).to_have_count(1)
    assert await field.get_attribute("aria-invalid") == "true"
    await _accessible(page, "sign-in error")

    await field.fill("416 555 0142")
    await page.get_by_role("button", name="M\u2019envoyer un code").click()
    await page.get_by_label("Code", exact=True).fill(await last_code(db, tenant.id))
    await _accessible(page, "code")
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(live_server.url + "/sn/account")
    assert await page.locator("h1").inner_text() == "Votre compte"
    assert "+14165550142" in await page.locator("main").inner_text()
    await _accessible(page, "account")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["vaxport_session"]["httpOnly"] is True
    assert cookies["vaxport_session"]["sameSite"] == "Lax"

    await page.get_by_role("button", name="Se déconnecter").click()
    await page.wait_for_url(live_server.url + "/sn/")
    await page.goto(live_server.url + "/sn/recover")
    await _accessible(page, "recover")
    await expect(page.get_by_role("radio")).to_have_count(2)
    # The refused first attempt answers 422, which the browser logs itself.
    assert [e for e in errors if "status of 422" not in e] == []
