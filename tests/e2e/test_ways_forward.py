"""Flows that used to end in a dead end, in a real browser at phone width (390x844).

Staff find a person from their home, register a walk-in at a centre chosen by name, and
change a colleague's role; citizens prove who they are one way at a time, claim a
walk-in's record with the slip, and see find-a-centre results first, counted. Every
screen is checked with axe-core, for horizontal overflow, and for console errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer
from tests.e2e.test_shell import watch_for_errors
from tests.e2e.test_staff_pages import _accessible
from tests.facilities.helpers import body as facility_body
from tests.identity.helpers import actor_for, make_staff
from tests.registration.helpers import member, national_id
from tests.registration.review.review_support import add_citizen, web_session
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.facilities.schemas import FacilityCreate
from vaxport.registration import service as registration
from vaxport.registration.service import WalkInIn
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo
from vaxport.tenancy.service import get_tenant_or_404

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
PHONE = {"width": 390, "height": 844}


async def _tenant(db: Database) -> TenantInfo:
    return await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="sn")


async def _centre(db: Database, tenant: TenantInfo, code: str, name: str, region: str) -> Any:
    data = FacilityCreate.model_validate(
        facility_body(code=code, region_code=region, name={"en": name, "fr": name})
    )
    return await facilities.create(db=db, cache=Cache(MemoryBackend()), tenant=tenant, data=data)


async def _signed_in(page: Any, server: LiveServer, cookie: str) -> None:
    await page.context.add_cookies(
        [{"name": "vaxport_session", "value": cookie, "url": server.url, "httpOnly": True}]
    )


async def test_a_regional_vaccinator_finds_nobody_then_registers_a_walk_in_at_a_named_centre(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    tenant = await _tenant(db)
    await _centre(db, tenant, "NOR-WAY-1", "Centre de santé de Ndar", "NOR-01-01")
    await _centre(db, tenant, "SOU-WAY-1", "Centre de santé du Sud", "SOU-01-01")
    vaccinator = await make_staff(db, settings, tenant, role="vaccinator", region_code="NOR")
    page = await new_page(viewport=PHONE, locale="fr-FR")
    errors = watch_for_errors(page)
    await _signed_in(page, live_server, await web_session(db, settings, tenant, vaccinator.id))

    await page.goto(live_server.url + "/sn/staff/")
    await _accessible(page, "staff home with person search")
    number = national_id()
    await page.get_by_label("Rechercher par").select_option("national-id")
    await page.get_by_label("Numéro, téléphone ou référence").fill(number)
    await page.get_by_role("button", name="Rechercher", exact=True).click()
    await expect(page.get_by_role("heading", name="0 personne trouvée")).to_have_count(1)
    await _accessible(page, "nobody found")

    await page.get_by_role("link", name="Inscrire sans rendez-vous").click()
    await page.wait_for_url("**/sn/staff/walk-in")
    centre = page.get_by_label("Centre de vaccination")
    options = await centre.locator("option").all_inner_texts()
    assert "Centre de santé de Ndar (NOR-WAY-1)" in options
    assert not any("SOU-WAY-1" in o for o in options)  # only what is in reach
    await _accessible(page, "walk-in with centre list")
    await page.get_by_role("button", name="Enregistrer", exact=True).click()  # nothing chosen yet
    summary = await page.get_by_role("alert").inner_text()
    assert "Centre de vaccination : est obligatoire" in summary
    assert "facility_id" not in summary
    await _accessible(page, "walk-in errors in French")

    await centre.select_option(label="Centre de santé de Ndar (NOR-WAY-1)")
    await page.get_by_label("Prénom").fill("Fatou")
    await page.get_by_label("Nom de famille").fill("Diallo")
    await page.get_by_label("Date de naissance").fill("1990-04-12")
    await page.get_by_label("Numéro de la pièce").fill(number)
    await page.get_by_label("Lieu de résidence").select_option("NOR-01-01")
    await page.get_by_role("button", name="Enregistrer", exact=True).click()
    reference = (await page.locator("main dd code").first.inner_text()).strip()
    await _accessible(page, "walk-in registered")

    await page.goto(live_server.url + "/sn/staff/people?by=reference&q=" + reference)
    await expect(page.get_by_role("heading", name="1 personne trouvée")).to_have_count(1)
    assert "Fatou Diallo" in await page.locator("#results").inner_text()
    await _accessible(page, "person found")
    assert [e for e in errors if "status of 422" not in e] == []


async def test_an_admin_changes_a_role_and_invites_to_a_centre_chosen_by_name(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    tenant = await _tenant(db)
    await _centre(db, tenant, "CEN-WAY-1", "Centre de santé de Thiès", "CEN-01-01")
    admin = await make_staff(db, settings, tenant, role="national_admin")
    analyst = await make_staff(db, settings, tenant, role="analyst", username="ousmane.fall")
    page = await new_page(viewport=PHONE, locale="fr-FR")
    errors = watch_for_errors(page)
    await _signed_in(page, live_server, await web_session(db, settings, tenant, admin.id))

    await page.goto(live_server.url + "/sn/staff/team")
    await page.get_by_role("link", name=f"Changer le rôle {analyst.username}").click()
    await _accessible(page, "change role")
    await page.get_by_label("Nouveau rôle").select_option("auditor")
    await page.get_by_role("button", name="Changer le rôle").click()
    await page.wait_for_url(live_server.url + "/sn/staff/team")
    row = page.locator("tr", has_text=analyst.username)
    assert "Auditeur" in await row.inner_text()

    await page.get_by_role("link", name="Inviter un membre du personnel").click()
    await page.get_by_label("Nom d\u2019utilisateur").fill("awa.ndiaye")
    await page.get_by_label("Rôle").select_option("vaccinator")
    await page.get_by_label("Centre de vaccination").select_option(
        label="Centre de santé de Thiès (CEN-WAY-1)"
    )
    await _accessible(page, "invite with centre list")
    await page.get_by_role("button", name="Envoyer l\u2019invitation").click()
    assert (
        "/sn/staff/activate?token="
        in await page.get_by_label("Lien d\u2019activation").input_value()
    )
    await page.goto(live_server.url + "/sn/staff/team")
    assert (
        "Centre de santé de Thiès" in await page.locator("tr", has_text="awa.ndiaye").inner_text()
    )
    assert errors == []


async def test_recovery_asks_one_way_at_a_time_with_a_date_hint_like_the_picker(
    live_server: LiveServer, new_page: NewPage
) -> None:
    page = await new_page(viewport=PHONE, locale="fr-FR")
    errors = watch_for_errors(page)
    await page.goto(live_server.url + "/sn/recover")
    await expect(page.get_by_label("Adresse e-mail de votre compte")).to_have_count(0)
    await expect(page.get_by_label("Numéro de la pièce")).to_have_count(0)
    await _accessible(page, "recovery: choose a way")
    await page.get_by_label("Mon ancien numéro et la pièce d\u2019identité", exact=False).check()
    await page.get_by_role("button", name="Continuer").click()
    birth = page.get_by_label("Date de naissance de cette personne")
    hint = await page.locator("#birth_date-hint").inner_text()  # waits for the next step
    await expect(page.get_by_label("Adresse e-mail de votre compte")).to_have_count(0)
    assert "17/01/1992" in hint  # the French picker's day/month/year order
    assert await birth.get_attribute("type") == "date"
    await _accessible(page, "recovery: by ID document")
    await page.get_by_role("link", name="Le prouver autrement").click()
    await expect(page.get_by_role("radio")).to_have_count(2)
    assert errors == []


async def test_a_citizen_claims_a_walk_in_with_the_slip(
    live_server: LiveServer, new_page: NewPage, db: Database, settings: Settings
) -> None:
    tenant = await _tenant(db)
    centre = await _centre(db, tenant, "CEN-WAY-2", "Poste de santé de Mbour", "CEN-01-01")
    number = national_id()
    made = await registration.register_walk_in(
        db=db,
        tenant=tenant,
        actor=actor_for(tenant, "vaccinator", facility_id=centre.id, region_code="CEN"),
        body=WalkInIn.model_validate(
            member(given_name="Moussa", documents=[{"id_type": "national-id", "number": number}])
        ),
    )
    citizen = await add_citizen(db, tenant)
    page = await new_page(viewport=PHONE, locale="fr-FR")
    errors = watch_for_errors(page)
    await _signed_in(page, live_server, await web_session(db, settings, tenant, citizen))

    await page.goto(live_server.url + "/sn/family")
    await page.get_by_role("link", name="Ajouter une personne inscrite", exact=False).click()
    await _accessible(page, "claim form")
    await page.get_by_label("Type de pièce d\u2019identité").select_option("national-id")
    await page.get_by_label("Numéro de la pièce").fill(number)
    await page.get_by_label("Code de réclamation").fill(str(made.claim_code))
    await page.get_by_role("button", name="Ajouter cette personne").click()
    await page.wait_for_url(live_server.url + "/sn/family?done=claimed")
    assert "Moussa" in await page.locator("main").inner_text()
    await _accessible(page, "family after the claim")
    assert errors == []


async def test_find_a_centre_shows_the_count_and_results_first_on_a_phone(
    live_server: LiveServer, new_page: NewPage, db: Database
) -> None:
    tenant = await _tenant(db)
    await _centre(db, tenant, "FIN-WAY-1", "Centre de Kaolack", "CEN-01-01")
    await _centre(db, tenant, "FIN-WAY-2", "Centre de Kaolack Nord", "CEN-01-01")
    page = await new_page(viewport=PHONE, locale="fr-FR")
    errors = watch_for_errors(page)
    await page.goto(live_server.url + "/sn/facilities?q=Kaolack")
    heading = page.get_by_role("heading", name="2 centres trouvés")
    await expect(heading).to_have_count(1)
    box = await page.locator(".facility-list li").first.bounding_box()
    assert box is not None
    assert box["y"] < PHONE["height"]  # visible without scrolling
    form = await page.locator("#finder").bounding_box()
    assert form is not None
    assert form["y"] > box["y"]
    await _accessible(page, "finder results")
    await page.get_by_role("link", name="Modifier votre recherche").click()
    assert page.url.endswith("#finder")
    assert errors == []
