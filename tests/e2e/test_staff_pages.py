"""Staff pages in a real browser: sign-in with a code, set-up with a QR code, the team.

Every page is checked with axe-core, at phone width, with no console error (a CSP
violation would be one), without running any script of ours (there is none).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_shell import watch_for_errors
from tests.identity.helpers import PASSWORD, make_staff
from vaxport.core import clock
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.identity.login import totp
from vaxport.identity.staff import admin as staff
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
PHONE = {"width": 320, "height": 640}


async def _accessible(page: Any, name: str) -> None:
    # A click that navigates returns before the next page has loaded; axe on a page being
    # replaced finds no document.
    await page.wait_for_load_state("load")
    results = await Axe().run(page)
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name} overflows by {overflow}px"


async def test_admin_signs_in_with_a_code_and_manages_the_team(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="sn")
    admin = await make_staff(db, settings, tenant, role="national_admin", username="awa.diop")
    await make_staff(db, settings, tenant, role="vaccinator", region_code="NOR", enrol=False)
    page = await new_page(viewport=PHONE, locale="fr-FR")
    errors = watch_for_errors(page)

    await page.goto(live_server.url + "/sn/staff/team")  # not signed in: to the login page
    assert "/sn/staff/login?next=" in page.url
    await _accessible(page, "login")
    await page.get_by_label("Nom d\u2019utilisateur").fill(admin.username)
    await page.get_by_label("Mot de passe").fill("not the password!")
    await page.get_by_role("button", name="Continuer").click()
    await expect(page.get_by_role("alert")).to_have_count(1)
    await _accessible(page, "login error")

    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Continuer").click()
    await page.get_by_label("Code", exact=True).fill(admin.code())
    await _accessible(page, "code")
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(live_server.url + "/sn/staff/team")
    assert await page.locator("h1").inner_text() == "Équipe"
    await _accessible(page, "team")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["vaxport_session"]["httpOnly"] is True
    assert cookies["vaxport_session"]["sameSite"] == "Lax"

    await page.get_by_role("link", name="Inviter un membre du personnel").click()
    await _accessible(page, "invite")
    await page.get_by_label("Nom d\u2019utilisateur").fill("moussa.ba")
    await page.get_by_label("Rôle").select_option("analyst")
    await page.get_by_label("Adresse e-mail").fill("moussa@sante.example")
    await page.get_by_role("button", name="Envoyer l\u2019invitation").click()
    link = await page.get_by_label("Lien d\u2019activation").input_value()
    assert "/sn/staff/activate?token=" in link
    # The link is on its way by e-mail too (tests/notifications/test_staff_invitation.py).
    sent = await page.get_by_role("status").inner_text()
    assert sent.startswith("Nous avons envoyé ce lien par e-mail à moussa@sante.example.")
    await _accessible(page, "invited")

    await page.goto(live_server.url + "/sn/staff/team")
    await page.get_by_role("button", name="Désactiver moussa.ba").click()
    await page.wait_for_url(live_server.url + "/sn/staff/team")
    await expect(page.get_by_role("button", name="Activer moussa.ba")).to_have_count(1)

    await page.get_by_role("button", name="Se déconnecter").click()
    await page.wait_for_url("**/sn/staff/login")
    # The wrong password's page answers 401, which the browser logs itself.
    assert [e for e in errors if "status of 401" not in e] == []


async def test_invited_staff_set_up_their_authenticator_from_a_qr_code(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="es")
    made = await staff.create_staff(
        db=db,
        settings=settings,
        tenant=tenant,
        actor=None,
        username="lucia.gomez",
        role="vaccinator",
        region_code="NOR",
    )
    page = await new_page(viewport={"width": 1280, "height": 800}, locale="es-ES")
    errors = watch_for_errors(page)
    await page.goto(made.url(settings, "es").replace("http://127.0.0.1:8000", live_server.url))
    await _accessible(page, "activate")
    await page.get_by_label("Nueva contraseña").fill(PASSWORD)
    await page.get_by_role("button", name="Continuar").click()
    await _accessible(page, "set-up intro")
    await page.get_by_role("button", name="Continuar").click()
    qr = page.get_by_role(
        "img", name="Código QR para añadir esta cuenta a una aplicación de autenticación"
    )
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 100")
    await _accessible(page, "set-up")
    secret = (await page.locator("code.secret").inner_text()).replace(" ", "")
    await page.get_by_label("Código de la aplicación").fill(totp.code_at(secret, clock.utcnow()))
    await page.get_by_role("button", name="Confirmar e iniciar sesión").click()
    await expect(page.locator(".codes li")).to_have_count(10)
    await _accessible(page, "recovery codes")
    await page.get_by_role("link", name="He guardado mis códigos").click()
    await page.wait_for_url(live_server.url + "/es/staff/")
    await _accessible(page, "home")
    assert errors == []
