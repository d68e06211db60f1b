"""The landing page and a tenant's home on a phone (390 x 844): what the tenant offers,
each feature a link to its page, in the reader's language; axe-clean, nothing overflows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import _accessible

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
PHONE = {"width": 390, "height": 844}


async def test_the_home_page_offers_what_exists_and_each_offer_leads_there(
    live_server: LiveServer, new_page: NewPage
) -> None:
    page = await new_page(viewport=PHONE, locale="fr-FR")
    errors = watch_for_errors(page)
    await page.goto(live_server.url + "/")
    await _accessible(page, "landing")
    features = await page.locator(".feature-names li").all_inner_texts()
    assert features[:3] == ["Se connecter", "Inscrire votre famille", "Trouver un centre"]
    assert features[3:] == ["Certificats de vaccination", "Vérifier un certificat"]

    await page.get_by_role("link", name="Sénégal").click()
    await page.wait_for_url(live_server.url + "/sn/")
    await _accessible(page, "tenant home")
    offers = page.locator(".offer-list a")
    assert (await offers.all_inner_texts())[:3] == [
        "Se connecter",
        "Inscrire votre famille",
        "Trouver un centre",
    ]
    assert await offers.nth(3).get_attribute("href") == "/sn/certificates"
    assert await offers.nth(4).get_attribute("href") == "/verify"
    await expect(offers).to_have_count(5)
    main = await page.locator("main").inner_text()
    assert "jusqu\u2019à 6 personnes" in main
    for word in ("réserv", "rendez-vous"):
        assert word not in main.lower(), word
    # The offers sit in the first screen, one under the other, and lead to their pages.
    box = await offers.nth(2).bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= PHONE["height"]
    await offers.nth(2).click()
    await page.wait_for_url(live_server.url + "/sn/facilities")
    await page.go_back()
    await page.get_by_role("link", name="Connexion du personnel").click()
    await page.wait_for_url(live_server.url + "/sn/staff/login")
    assert errors == []
