"""Staff pages over HTTP: sign-in with CSRF, second factor, set-up, team management."""

from __future__ import annotations

import re

import httpx

from tests.identity.helpers import Staff, make_staff
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HTML = {"Accept": "text/html"}


def hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no hidden {name}"
    return m.group(1)


async def sign_in(client: httpx.AsyncClient, person: Staff) -> httpx.Response:
    t = person.tenant.code
    form = await client.get(f"/{t}/staff/login", headers=HTML)
    assert form.status_code == 200
    r = await client.post(
        f"/{t}/staff/login",
        data={
            "username": person.username,
            "password": person.password,
            "csrf_token": hidden(form.text, "csrf_token"),
            "next": hidden(form.text, "next"),
        },
        headers=HTML,
    )
    assert r.status_code == 200, r.text
    assert "Enter your code" in r.text
    return await client.post(
        f"/{t}/staff/login/code",
        data={
            "ticket": hidden(r.text, "ticket"),
            "code": person.code(),
            "csrf_token": hidden(r.text, "csrf_token"),
            "next": hidden(r.text, "next"),
        },
        headers=HTML,
    )


async def test_staff_signs_in_with_password_and_code_and_sees_home(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await make_staff(clean_db, settings, tenant, role="national_admin")
    r = await sign_in(client, admin)
    assert r.status_code == 303
    assert r.headers["location"] == f"/{tenant.code}/staff/"
    cookie = r.headers["set-cookie"]
    assert "vaxport_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    home = await client.get(f"/{tenant.code}/staff/", headers=HTML)
    assert home.status_code == 200, home.text
    assert admin.username in home.text
    team = await client.get(f"/{tenant.code}/staff/team", headers=HTML)
    assert team.status_code == 200, team.text
