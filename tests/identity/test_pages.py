"""Staff pages over HTTP: sign-in with CSRF, second factor, set-up, team management."""

from __future__ import annotations

import re

import httpx

from tests.identity.helpers import PASSWORD, Staff, make_staff
from vaxport.core import clock
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.identity.login import totp
from vaxport.identity.staff import admin as staff
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


async def test_a_login_form_post_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await make_staff(clean_db, settings, tenant, role="national_admin")
    form = await client.get(f"/{tenant.code}/staff/login", headers=HTML)
    data = {"username": admin.username, "password": admin.password, "next": ""}
    for extra in ({}, {"csrf_token": "forged-token-of-the-right-length-xx"}):
        r = await client.post(f"/{tenant.code}/staff/login", data={**data, **extra}, headers=HTML)
        assert r.status_code == 403, extra
        assert "text/html" in r.headers["content-type"]
    # Without the cookie, even the page's own token is refused (a cross-site post).
    token = hidden(form.text, "csrf_token")
    client.cookies.clear()
    r = await client.post(
        f"/{tenant.code}/staff/login", data={**data, "csrf_token": token}, headers=HTML
    )
    assert r.status_code == 403


async def test_cookie_authenticated_unsafe_requests_need_the_csrf_token(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await make_staff(clean_db, settings, tenant, role="national_admin")
    worker = await make_staff(
        clean_db, settings, tenant, role="vaccinator", region_code="NOR", enrol=False
    )
    assert (await sign_in(client, admin)).status_code == 303
    page = await client.get(f"/{tenant.code}/staff/team", headers=HTML)
    token = hidden(page.text, "csrf_token")
    url = f"/{tenant.code}/staff/team/{worker.id}/disable"
    assert (await client.post(url, headers=HTML)).status_code == 403
    assert (await client.post(url, data={"csrf_token": "x" * 43}, headers=HTML)).status_code == 403
    api = f"/api/v1/{tenant.code}/staff/{worker.id}"
    assert (await client.get(api)).json()["status"] == "active"  # nothing changed
    r = await client.post(url, data={"csrf_token": token}, headers=HTML)
    assert r.status_code == 303
    assert (await client.get(api)).json()["status"] == "disabled"
    # The API accepts the session cookie too, with the token in a header for writes.
    me = f"/api/v1/{tenant.code}/me"
    assert (await client.patch(me, json={"display_name": "A"})).status_code == 403
    r = await client.patch(me, json={"display_name": "A"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200


async def test_a_wrong_password_shows_the_form_again_with_an_error(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await make_staff(clean_db, settings, tenant, role="national_admin")
    admin.password = "not the right one!"
    form = await client.get(f"/{tenant.code}/staff/login", headers=HTML)
    r = await client.post(
        f"/{tenant.code}/staff/login",
        data={
            "username": admin.username,
            "password": admin.password,
            "csrf_token": hidden(form.text, "csrf_token"),
            "next": "",
        },
        headers=HTML,
    )
    assert r.status_code == 401
    assert 'role="alert"' in r.text
    assert "The username or password is not right." in r.text
    assert f'value="{admin.username}"' in r.text
    assert admin.password not in r.text


async def test_invited_staff_activate_set_up_the_app_and_see_recovery_codes(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    made = await staff.create_staff(
        db=clean_db,
        settings=settings,
        tenant=tenant,
        actor=None,
        username="kofi",
        role="vaccinator",
        region_code="NOR",
    )
    t = tenant.code
    form = await client.get(f"/{t}/staff/activate?token={made.token}", headers=HTML)
    assert form.status_code == 200
    weak = await client.post(
        f"/{t}/staff/activate",
        data={
            "token": made.token,
            "password": "password1234",
            "csrf_token": hidden(form.text, "csrf_token"),
        },
        headers=HTML,
    )
    assert weak.status_code == 422
    assert "too common" in weak.text
    r = await client.post(
        f"/{t}/staff/activate",
        data={
            "token": made.token,
            "password": PASSWORD,
            "csrf_token": hidden(form.text, "csrf_token"),
        },
        headers=HTML,
    )
    assert r.status_code == 200
    assert "Set up your authenticator app" in r.text
    setup = await client.post(
        f"/{t}/staff/login/setup",
        data={
            "ticket": hidden(r.text, "ticket"),
            "csrf_token": hidden(r.text, "csrf_token"),
            "next": hidden(r.text, "next"),
        },
        headers=HTML,
    )
    assert setup.status_code == 200
    assert 'src="data:image/svg+xml' in setup.text
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', setup.text)
    assert secret is not None
    code = totp.code_at(secret.group(1).replace(" ", ""), clock.utcnow())
    done = await client.post(
        f"/{t}/staff/login/enrol",
        data={
            "ticket": hidden(setup.text, "ticket"),
            "code": code,
            "csrf_token": hidden(setup.text, "csrf_token"),
            "next": hidden(setup.text, "next"),
        },
        headers=HTML,
    )
    assert done.status_code == 200
    assert "Your recovery codes" in done.text
    assert len(re.findall(r"<li><code>[A-Z0-9-]{19}</code></li>", done.text)) == 10
    assert done.headers["cache-control"] == "no-store"
    assert (await client.get(f"/{t}/staff/", headers=HTML)).status_code == 200


async def test_sign_out_ends_the_session_even_for_a_copied_cookie(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await make_staff(clean_db, settings, tenant, role="national_admin")
    await sign_in(client, admin)
    copied = dict(client.cookies)
    home = await client.get(f"/{tenant.code}/staff/", headers=HTML)
    r = await client.post(
        f"/{tenant.code}/staff/logout",
        data={"csrf_token": hidden(home.text, "csrf_token")},
        headers=HTML,
    )
    assert r.status_code == 303
    assert 'vaxport_session=""' in r.headers["set-cookie"]
    client.cookies.clear()
    for name, value in copied.items():
        client.cookies.set(name, value)
    r = await client.get(f"/{tenant.code}/staff/", headers=HTML)
    assert r.status_code == 303  # back to the login page


async def test_outside_development_cookies_are_host_prefixed_and_secure(
    clean_db: Database, settings: Settings, tenant: TenantInfo, cache: Cache
) -> None:
    from vaxport.app import create_app

    secure = settings.model_copy(update={"force_https": True})
    app = create_app(secure, database=clean_db, cache=cache)
    admin = await make_staff(clean_db, secure, tenant, role="national_admin")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        form = await c.get(f"/{tenant.code}/staff/login", headers=HTML)
        assert "__Host-vaxport_csrf=" in form.headers["set-cookie"]
        r = await sign_in(c, admin)
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("__Host-vaxport_session=")
        for part in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"):
            assert part in cookie
        assert "Domain" not in cookie
        assert (await c.get(f"/{tenant.code}/staff/", headers=HTML)).status_code == 200
