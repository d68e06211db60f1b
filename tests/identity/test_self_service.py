"""Self-service: one's own account, step-up re-authentication, password and MFA changes."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from tests.identity.conftest import Clock
from tests.identity.helpers import PASSWORD, Staff, api_login, bearer
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def test_self_service_refuses_role_and_scope_fields(
    client: httpx.AsyncClient, tenant: TenantInfo, admin_token: str
) -> None:
    me = f"/api/v1/{tenant.code}/me"
    for body in (
        {"role": "operator"},
        {"facility_id": "0190a3b2-7c4e-7def-8123-456789abcdef"},
        {"status": "active"},
    ):
        r = await client.patch(me, json=body, headers=bearer(admin_token))
        assert r.status_code == 422, body
        assert next(iter(body)) in {e["field"] for e in r.json()["errors"]}
    r = await client.patch(me, json={"display_name": "Ada"}, headers=bearer(admin_token))
    assert r.status_code == 200
    assert set(r.json()) == {
        "id", "username", "role", "region_code", "facility_id", "status", "display_name",
        "email", "phone", "totp_enabled", "created_at", "last_login_at",
    }  # fmt: skip


async def test_contact_and_mfa_changes_need_a_recent_login(
    client: httpx.AsyncClient,
    admin: Staff,
    tenant: TenantInfo,
    clean_db: Database,
    frozen: Clock,
    settings: Settings,
) -> None:
    tokens = await api_login(client, admin)
    me = f"/api/v1/{tenant.code}/me"
    frozen.advance(settings.reauth_seconds + 1)
    stale = bearer(tokens["access_token"])
    for method, path, body in (
        ("PATCH", me, {"email": "ada@example.org"}),
        ("PATCH", me, {"phone": "+14165550100"}),
        ("POST", me + "/totp", None),
        ("POST", me + "/recovery-codes", None),
    ):
        r = await client.request(method, path, json=body, headers=stale)
        assert r.status_code == 401, path
        assert r.json()["type"].endswith("/reauthentication-required")
        assert 'error="insufficient_user_authentication"' in r.headers["www-authenticate"]
    # The name is not sensitive: no step-up needed.
    assert (await client.patch(me, json={"display_name": "Ada"}, headers=stale)).status_code == 200

    frozen.advance(30)
    r = await client.post(
        f"/api/v1/{tenant.code}/auth/reauthenticate",
        json={"password": PASSWORD, "code": admin.code()},
        headers=stale,
    )
    assert r.status_code == 200, r.text
    fresh = bearer(r.json()["access_token"])
    r = await client.patch(me, json={"email": "Ada@Example.org"}, headers=fresh)
    assert r.status_code == 200
    assert r.json()["email"] == "ada@example.org"
    # A new authenticator: the old one keeps working until the new one is confirmed.
    enrol = (await client.post(me + "/totp", headers=fresh)).json()
    from vaxport.core import clock
    from vaxport.identity.login import totp

    bad = await client.post(me + "/totp/confirm", json={"code": "000000"}, headers=fresh)
    assert bad.status_code == 422
    frozen.advance(30)
    code = totp.code_at(enrol["secret"], clock.utcnow())
    r = await client.post(me + "/totp/confirm", json={"code": code}, headers=fresh)
    assert r.status_code == 200
    assert len(r.json()["recovery_codes"]) == 10
    async with clean_db.read(tenant_id=tenant.id) as s:
        actions = set((await s.execute(select(AuditEntry.action))).scalars())
    assert {"auth.reauthenticate", "account.update", "auth.totp_enrol"} <= actions


async def test_reauthentication_with_a_wrong_password_is_refused_and_counted(
    client: httpx.AsyncClient, admin: Staff, tenant: TenantInfo, frozen: Clock
) -> None:
    tokens = await api_login(client, admin)
    r = await client.post(
        f"/api/v1/{tenant.code}/auth/reauthenticate",
        json={"password": "not my password!", "code": admin.code()},
        headers=bearer(tokens["access_token"]),
    )
    assert r.status_code == 401


async def test_password_change_ends_other_sessions(
    client: httpx.AsyncClient, admin: Staff, tenant: TenantInfo, frozen: Clock
) -> None:
    here = await api_login(client, admin)
    frozen.advance(30)
    elsewhere = await api_login(client, admin)
    url = f"/api/v1/{tenant.code}/me/password"
    weak = await client.post(
        url,
        json={"current_password": PASSWORD, "new_password": "password12345"},
        headers=bearer(here["access_token"]),
    )
    assert weak.status_code == 422
    wrong = await client.post(
        url,
        json={"current_password": "nope nope nope", "new_password": "fresh phrase for today"},
        headers=bearer(here["access_token"]),
    )
    assert wrong.status_code == 422
    ok = await client.post(
        url,
        json={"current_password": PASSWORD, "new_password": "fresh phrase for today"},
        headers=bearer(here["access_token"]),
    )
    assert ok.status_code == 204
    me = f"/api/v1/{tenant.code}/me"
    assert (await client.get(me, headers=bearer(here["access_token"]))).status_code == 200
    assert (await client.get(me, headers=bearer(elsewhere["access_token"]))).status_code == 401
