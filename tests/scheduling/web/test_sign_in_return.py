"""Signing in on the way to a booking page comes back to it; ``next=`` never leads off
the site."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import httpx

from tests.identity.helpers import last_code
from tests.scheduling.booking.support import slot
from tests.scheduling.web.support import CSRF, HTML
from vaxport.core.db import Database
from vaxport.tenancy.schemas import TenantInfo


async def _sign_in(
    client: httpx.AsyncClient, db: Database, tenant: TenantInfo, next_value: str
) -> httpx.Response:
    """The whole sign-in with a phone code, carrying ``next_value``; the final answer."""
    client.cookies.set("vaxport_csrf", CSRF)
    r = await client.get(f"/{tenant.code}/sign-in?next={quote(next_value, safe='')}", headers=HTML)
    kept = re.search(r'name="next" value="([^"]*)"', r.text)
    r = await client.post(
        f"/{tenant.code}/sign-in",
        data={"csrf_token": CSRF, "destination": "416 555 0142", "next": next_value},
        headers=HTML,
    )
    assert r.status_code == 200, r.text
    transaction = re.search(r'name="transaction_id" value="([^"]+)"', r.text)
    assert transaction is not None
    carried = re.search(r'name="next" value="([^"]*)"', r.text)
    assert (kept is None) == (carried is None)
    return await client.post(
        f"/{tenant.code}/sign-in/code",
        data={
            "csrf_token": CSRF,
            "transaction_id": transaction.group(1),
            "code": await last_code(db, tenant.id),
            "next": carried.group(1) if carried else "",
        },
        headers=HTML,
    )


async def test_signing_in_comes_back_to_the_slot_chosen(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    [slot_id] = await slot(clean_db, tenant, centre)
    r = await client.get(f"/{tenant.code}/book?slot={slot_id}", headers=HTML)
    assert r.status_code == 303
    r = await client.get(r.headers["location"], headers=HTML)
    assert f'name="next" value="/{tenant.code}/book?slot={slot_id}"' in r.text
    r = await _sign_in(client, clean_db, tenant, f"/{tenant.code}/book?slot={slot_id}")
    assert r.status_code == 303
    assert r.headers["location"] == f"/{tenant.code}/book?slot={slot_id}"
    r = await client.get(r.headers["location"], headers=HTML)
    assert r.status_code == 200
    assert "Who is the appointment for?" in r.text


BAD_NEXT = [
    "https://evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example/phish",
    "/{tenant}//evil.example",
    "/{tenant}/\\evil.example",
    "/other-country/book",
    "javascript:alert(1)",
    "/{tenant}/book\r\nSet-Cookie: x=1",
    "/{tenant}/sign-in?next=/{tenant}/book",
    "/{tenant}/" + "a" * 600,
    "book",
]


async def test_next_is_dropped_unless_it_is_a_page_of_this_site(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    for next_value in BAD_NEXT:
        value = next_value.replace("{tenant}", tenant.code)
        r = await client.get(f"/{tenant.code}/sign-in?next={quote(value, safe='')}", headers=HTML)
        assert r.status_code == 200, value
        assert 'name="next"' not in r.text, value


async def test_a_bad_next_posted_anyway_signs_in_to_the_account_page(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo
) -> None:
    r = await _sign_in(client, clean_db, tenant, "//evil.example/phish")
    assert r.status_code == 303
    assert r.headers["location"] == f"/{tenant.code}/account"
