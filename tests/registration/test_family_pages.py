"""The citizen's "My family" pages over HTTP: sign-in needed, add, edit, correct, withdraw."""

from __future__ import annotations

import re

import httpx

from tests.identity.helpers import last_code
from tests.registration.helpers import national_id
from tests.registration.review.review_support import add_citizen, web_session
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HTML = {"accept": "text/html"}
CSRF = "c" * 40


def _form(**changes: str) -> dict[str, str]:
    form = {
        "csrf_token": CSRF,
        "given_name": "Mary",
        "family_name": "Somerville",
        "sex": "female",
        "birth_date": "1980-12-26",
        "id_type": "national-id",
        "number": national_id(),
        "region_code": "CEN-01-01",
        "preferred_locale": "",
        "guardian_relation": "",
        "phone": "",
        "email": "",
    }
    form.update(changes)
    return form


async def _signed_in(
    client: httpx.AsyncClient, db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    citizen = await add_citizen(db, tenant)
    client.cookies.set("vaxport_session", await web_session(db, settings, tenant, citizen))
    client.cookies.set("vaxport_csrf", CSRF)


async def test_signed_out_visitors_are_sent_to_sign_in(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    r = await client.get(f"/{tenant.code}/family", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == f"/{tenant.code}/sign-in"
    r = await client.post(f"/{tenant.code}/family/add", data=_form(), headers=HTML)
    assert r.status_code in (303, 401)


async def test_a_citizen_adds_a_member_and_sees_them_listed(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    await _signed_in(client, clean_db, settings, tenant)
    base = f"/{tenant.code}/family"
    r = await client.get(base, headers=HTML)
    assert r.status_code == 200
    assert "You have not added anyone yet." in r.text

    r = await client.post(base + "/add", data=_form(number="123"), headers=HTML)
    assert r.status_code == 422
    assert 'href="#number"' in r.text
    assert 'id="number"' in r.text
    assert 'aria-invalid="true"' in r.text
    assert 'value="Mary"' in r.text  # what was typed is kept

    r = await client.post(base + "/add", data=_form(), headers=HTML)
    assert r.status_code == 303, r.text
    r = await client.get(r.headers["location"], headers=HTML)
    assert "Mary Somerville" in r.text
    assert "The person was added." in r.text
    member = re.search(rf"{base}/([0-9a-f-]+)/edit", r.text)
    assert member is not None

    edit = f"{base}/{member.group(1)}/edit"
    r = await client.get(edit, headers=HTML)
    assert 'value="female" selected' in r.text
    r = await client.post(
        edit,
        data={"csrf_token": CSRF, "sex": "female", "region_code": "CEN-01-02"},
        headers=HTML,
    )
    assert r.status_code == 303
    r = await client.post(edit, data={"sex": "female"}, headers=HTML)
    assert r.status_code == 403  # no CSRF token


async def test_a_citizen_asks_for_a_correction_and_withdraws_it(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    await _signed_in(client, clean_db, settings, tenant)
    base = f"/{tenant.code}/family"
    await client.post(base + "/add", data=_form(), headers=HTML)
    r = await client.get(base, headers=HTML)
    member = re.search(rf"{base}/([0-9a-f-]+)/correct", r.text)
    assert member is not None
    correct = member.group(0)

    r = await client.post(
        correct, data={"csrf_token": CSRF, "field": "birth_date", "value": "soon"}, headers=HTML
    )
    assert r.status_code == 422
    assert 'href="#value"' in r.text or 'href="#reason"' in r.text
    r = await client.post(
        correct,
        data={
            "csrf_token": CSRF,
            "field": "given_name",
            "value": "Marie",
            "reason": "spelling",
        },
        headers=HTML,
    )
    assert r.status_code == 303
    r = await client.get(correct, headers=HTML)
    assert "Waiting for a decision" in r.text
    assert "Marie" in r.text
    withdraw = re.search(r'action="([^"]+/withdraw)"', r.text)
    assert withdraw is not None
    r = await client.post(withdraw.group(1), data={"csrf_token": CSRF}, headers=HTML)
    assert r.headers["location"] == f"{base}?done=withdrawn"
    r = await client.get(correct, headers=HTML)
    assert "Withdrawn" in r.text


async def test_a_new_phone_is_proved_with_a_code_sent_to_it(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    await _signed_in(client, clean_db, settings, tenant)
    base = f"/{tenant.code}/family"
    await client.post(base + "/add", data=_form(), headers=HTML)
    r = await client.get(base, headers=HTML)
    member = re.search(rf"{base}/([0-9a-f-]+)/edit", r.text)
    assert member is not None
    contact = f"{base}/{member.group(1)}/contact"

    r = await client.post(contact, data={"csrf_token": CSRF, "phone": "12"}, headers=HTML)
    assert r.status_code == 422
    assert 'href="#phone"' in r.text
    r = await client.post(contact, data={"csrf_token": CSRF, "phone": "416 555 0199"}, headers=HTML)
    assert r.status_code == 200, r.text
    transaction = re.search(r'name="transaction_id" value="([^"]+)"', r.text)
    assert transaction is not None
    confirm = {
        "csrf_token": CSRF,
        "transaction_id": transaction.group(1),
        "phone": "416 555 0199",
        "code": "000000",
    }
    r = await client.post(contact + "/confirm", data=confirm, headers=HTML)
    assert r.status_code in (401, 409, 422), r.text
    assert 'href="#code"' in r.text
    code = await last_code(clean_db, tenant.id)
    r = await client.post(contact + "/confirm", data={**confirm, "code": code}, headers=HTML)
    assert r.status_code == 303, r.text
    r = await client.get(contact, headers=HTML)
    assert "+14165550199" in r.text
