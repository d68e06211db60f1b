"""Citizen pages over HTTP: sign-in by code with CSRF, the account page, sign-out,
recovery; errors linked to their fields."""

from __future__ import annotations

import httpx

from tests.identity.conftest import Clock
from tests.identity.helpers import last_code
from tests.identity.test_pages import HTML, hidden
from vaxport.core.db import Database
from vaxport.tenancy.schemas import TenantInfo


async def _ask(client: httpx.AsyncClient, tenant: TenantInfo, destination: str) -> httpx.Response:
    form = await client.get(f"/{tenant.code}/sign-in", headers=HTML)
    assert form.status_code == 200
    return await client.post(
        f"/{tenant.code}/sign-in",
        data={"destination": destination, "csrf_token": hidden(form.text, "csrf_token")},
        headers=HTML,
    )


async def test_a_citizen_signs_in_with_a_code_sees_the_account_and_signs_out(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    t = tenant.code
    home = await client.get(f"/{t}/", headers=HTML)
    assert f'href="/{t}/sign-in"' in home.text
    asked = await _ask(client, tenant, "416 555 0142")
    assert asked.status_code == 200, asked.text
    assert "Enter your code" in asked.text
    wrong = await client.post(
        f"/{t}/sign-in/code",
        data={
            "transaction_id": hidden(asked.text, "transaction_id"),
            "code": "000000" if (await last_code(clean_db, tenant.id)) != "000000" else "111111",
            "csrf_token": hidden(asked.text, "csrf_token"),
        },
        headers=HTML,
    )
    assert wrong.status_code == 422
    assert 'href="#code"' in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    assert 'aria-describedby=" code-error"' in wrong.text or "code-error" in wrong.text
    done = await client.post(
        f"/{t}/sign-in/code",
        data={
            "transaction_id": hidden(wrong.text, "transaction_id"),
            "code": await last_code(clean_db, tenant.id),
            "csrf_token": hidden(wrong.text, "csrf_token"),
        },
        headers=HTML,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/{t}/account"
    mine = await client.get(f"/{t}/account", headers=HTML)
    assert mine.status_code == 200
    assert "+14165550142" in mine.text
    assert mine.headers["cache-control"] == "no-store"
    out = await client.post(
        f"/{t}/sign-out", data={"csrf_token": hidden(mine.text, "csrf_token")}, headers=HTML
    )
    assert out.status_code == 303
    gone = await client.get(f"/{t}/account", headers=HTML)
    assert gone.status_code == 303
    assert gone.headers["location"] == f"/{t}/sign-in"


async def test_a_sign_in_post_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo
) -> None:
    await client.get(f"/{tenant.code}/sign-in", headers=HTML)
    r = await client.post(
        f"/{tenant.code}/sign-in", data={"destination": "416 555 0142"}, headers=HTML
    )
    assert r.status_code == 403


async def test_an_invalid_destination_is_shown_on_its_field(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo
) -> None:
    r = await _ask(client, tenant, "12")
    assert r.status_code == 422
    assert 'href="#destination"' in r.text
    assert 'value="12"' in r.text


async def test_recovery_pages_send_codes_and_sign_in_on_the_new_phone(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    t = tenant.code
    asked = await _ask(client, tenant, "416 555 0142")  # an account to recover
    await client.post(
        f"/{t}/sign-in/code",
        data={
            "transaction_id": hidden(asked.text, "transaction_id"),
            "code": await last_code(clean_db, tenant.id),
            "csrf_token": hidden(asked.text, "csrf_token"),
        },
        headers=HTML,
    )
    form = await client.get(f"/{t}/recover", headers=HTML)
    assert form.status_code == 200
    assert "<fieldset" in form.text
    bad = await client.post(
        f"/{t}/recover",
        data={
            "method": "id-dob",
            "new_phone": "416 555 0177",
            "phone": "416 555 0142",
            "id_type": "national-id",
            "id_number": "9201175545",
            "birth_date": "not a date",
            "csrf_token": hidden(form.text, "csrf_token"),
        },
        headers=HTML,
    )
    assert bad.status_code == 422
    assert 'href="#birth_date"' in bad.text
    started = await client.post(
        f"/{t}/recover",
        data={
            "method": "id-dob",
            "new_phone": "416 555 0177",
            "phone": "416 555 0142",
            "id_type": "national-id",
            "id_number": "9201175545",
            "birth_date": "1992-01-17",
            "csrf_token": hidden(form.text, "csrf_token"),
        },
        headers=HTML,
    )
    assert started.status_code == 200, started.text
    # Nobody of that account holds the ID: the same code page, and the same refusal
    # at the end as a wrong code.
    done = await client.post(
        f"/{t}/recover/code",
        data={
            "transaction_id": hidden(started.text, "transaction_id"),
            "code": await last_code(clean_db, tenant.id),
            "csrf_token": hidden(started.text, "csrf_token"),
        },
        headers=HTML,
    )
    assert done.status_code == 422
    assert 'href="#code"' in done.text
