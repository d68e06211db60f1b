"""The person form's risk groups and occupations: checkboxes in the page's language, only
when the tenant lists some; ticked on the family and walk-in pages, unticked to clear."""

from __future__ import annotations

import html
import re
import uuid

import httpx
from sqlalchemy import select

from tests.identity.helpers import make_staff
from tests.registration.conftest import make_facility
from tests.registration.helpers import national_id
from tests.registration.review.review_support import add_citizen, web_session
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.registration.models import Beneficiary
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HTML = {"accept": "text/html"}
CSRF = "c" * 40


def _form(**changes: str | list[str]) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {
        "csrf_token": CSRF,
        "given_name": "Mary",
        "family_name": "Somerville",
        "sex": "female",
        "birth_date": "1980-12-26",
        "id_type": "national-id",
        "number": national_id(),
        "region_code": "NOR-01-01",
    }
    form.update(changes)
    return form


async def _sign_in(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    account: uuid.UUID,
) -> None:
    client.cookies.set("vaxport_session", await web_session(db, settings, tenant, account))
    client.cookies.set("vaxport_csrf", CSRF)


async def _declared(db: Database, tenant: TenantInfo, given: str) -> tuple[tuple[str, ...], ...]:
    async with db.read(tenant_id=tenant.id) as s:
        people = (await s.scalars(select(Beneficiary))).all()
        return tuple((p.risk_groups, p.occupations) for p in people if p.given_name == given)


async def test_a_citizen_ticks_a_risk_group_and_an_occupation_and_unticks_one_later(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    await _sign_in(client, clean_db, settings, tenant, await add_citizen(clean_db, tenant))
    base = f"/{tenant.code}/family"
    page = await client.get(base + "/add?lang=fr", headers=HTML)
    text = html.unescape(page.text)
    assert '<fieldset id="risk_groups"' in text
    assert '<fieldset id="occupations"' in text
    assert "Système immunitaire affaibli" in text  # the tenant's name in the page's language
    assert '<label for="occupations-health-worker">' in text

    bad = await client.post(
        base + "/add", data=_form(risk_groups=["pregnancy", "astrology"]), headers=HTML
    )
    assert bad.status_code == 422
    assert 'href="#risk_groups"' in bad.text
    assert 'value="pregnancy" checked' in bad.text  # what was ticked is kept

    r = await client.post(
        base + "/add",
        data=_form(risk_groups=["pregnancy"], occupations=["health-worker"]),
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    assert await _declared(clean_db, tenant, "Mary") == ((("pregnancy",), ("health-worker",)),)

    listed = await client.get(base, headers=HTML)
    edit = re.search(rf"{base}/[0-9a-f-]+/edit", listed.text)
    assert edit is not None
    form = await client.get(edit.group(0), headers=HTML)
    assert 'value="pregnancy" checked' in form.text
    assert 'value="health-worker" checked' in form.text
    r = await client.post(
        edit.group(0),
        data={
            "csrf_token": CSRF,
            "sex": "female",
            "region_code": "NOR-01-01",
            "occupations": "health-worker",
        },
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    assert await _declared(clean_db, tenant, "Mary") == (((), ("health-worker",)),)


async def test_staff_record_an_occupation_on_a_walk_in(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    centre = await make_facility(clean_db, cache, tenant, code="HC-1", region_code="NOR-01-01")
    staff = await make_staff(clean_db, settings, tenant, role="vaccinator", facility_id=centre)
    await _sign_in(client, clean_db, settings, tenant, staff.id)
    walk_in = f"/{tenant.code}/staff/walk-in"
    page = await client.get(walk_in, headers=HTML)
    assert page.status_code == 200
    assert "<legend>" in page.text
    assert 'name="occupations"' in page.text
    r = await client.post(
        walk_in, data=_form(given_name="Walker", occupations=["teacher"]), headers=HTML
    )
    assert r.status_code == 200, r.text
    assert await _declared(clean_db, tenant, "Walker") == (((), ("teacher",)),)


async def test_a_tenant_listing_none_shows_no_checkboxes(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache, settings: Settings
) -> None:
    bare = await load_tenant(clean_db, cache, changes={"eligibility": {}})
    await _sign_in(client, clean_db, settings, bare, await add_citizen(clean_db, bare))
    page = await client.get(f"/{bare.code}/family/add", headers=HTML)
    assert page.status_code == 200
    assert "fieldset" not in page.text
