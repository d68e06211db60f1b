"""Ways forward over HTTP: a full family is told why and what to do instead of a form;
staff who meet someone registered outside their area get a minimal match, not a dead end.
"""

from __future__ import annotations

import html

import httpx

from tests.identity.helpers import make_staff
from tests.registration.helpers import national_id
from tests.registration.review.review_support import (
    add_citizen,
    add_person,
    audit_actions,
    web_session,
)
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HTML = {"accept": "text/html"}


async def test_a_full_family_gets_an_explanation_instead_of_the_add_form(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache, settings: Settings
) -> None:
    tenant = await load_tenant(
        clean_db, cache, changes={"family": {"max_beneficiaries_per_account": 1}}
    )
    citizen = await add_citizen(clean_db, tenant)
    client.cookies.set("vaxport_session", await web_session(clean_db, settings, tenant, citizen))
    add = f"/{tenant.code}/family/add?lang=en"
    assert 'name="given_name"' in (await client.get(add, headers=HTML)).text

    await add_person(clean_db, tenant, account_id=citizen, number=national_id())
    full = await client.get(add, headers=HTML)
    assert full.status_code == 200
    text = html.unescape(full.text)
    assert 'name="given_name"' not in text  # no form that can only fail
    assert "Your family is full: an account may manage 1 person." in text
    assert "a vaccination centre can register them" in text


async def test_staff_get_a_minimal_audited_match_for_someone_registered_elsewhere(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    number = national_id()
    person = await add_person(
        clean_db, tenant, region_code="SOU-01-01", given_name="Khady", number=number
    )
    north = await make_staff(clean_db, settings, tenant, role="vaccinator", region_code="NOR")
    client.cookies.set("vaxport_session", await web_session(clean_db, settings, tenant, north.id))
    url = f"/{tenant.code}/staff/people?lang=en&by=national-id&q={number}"

    r = await client.get(url, headers=HTML)
    assert r.status_code == 200
    text = html.unescape(r.text)
    assert "0 people found" in text
    assert "registered outside your area" in text
    assert "Khady" in text
    assert "Lovelace" not in text  # the family name, documents and contacts stay hidden
    assert number not in text.replace(f"q={number}", "").replace(f'value="{number}"', "")
    assert "beneficiary.match_elsewhere" in await audit_actions(clean_db, tenant, person)

    # Another document shows no match at all.
    other = await client.get(url.replace(number, national_id()), headers=HTML)
    assert "registered outside your area" not in html.unescape(other.text)
    assert "Register as a walk-in" in html.unescape(other.text)
