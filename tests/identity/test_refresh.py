"""Refresh tokens: rotated on every use; a reused one revokes its whole family."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from tests.identity.conftest import Clock
from tests.identity.helpers import Staff, api_login, bearer, make_staff
from vaxport.core.db import Database
from vaxport.identity.credentials.tokens import secret_hash
from vaxport.identity.models import AuthSession, RefreshToken
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def person(clean_db: Database, settings: Settings, tenant: TenantInfo) -> Staff:
    return await make_staff(clean_db, settings, tenant, role="vaccinator", region_code="NOR")


async def _refresh(client: httpx.AsyncClient, tenant: TenantInfo, token: str) -> httpx.Response:
    return await client.post(f"/api/v1/{tenant.code}/auth/refresh", json={"refresh_token": token})


async def _me(client: httpx.AsyncClient, tenant: TenantInfo, access: str) -> int:
    return (await client.get(f"/api/v1/{tenant.code}/me", headers=bearer(access))).status_code


async def test_refresh_rotates_the_pair_and_keeps_the_session(
    client: httpx.AsyncClient, person: Staff, tenant: TenantInfo, clean_db: Database
) -> None:
    first = await api_login(client, person)
    r = await _refresh(client, tenant, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert r.headers["cache-control"] == "no-store"
    assert second["refresh_token"] != first["refresh_token"]
    assert await _me(client, tenant, second["access_token"]) == 200
    assert await _me(client, tenant, first["access_token"]) == 200  # same live session
    async with clean_db.read(tenant_id=tenant.id) as s:
        hashes = set((await s.execute(select(RefreshToken.token_hash))).scalars())
    # Stored as hashes only.
    assert secret_hash(second["refresh_token"]) in hashes
    assert second["refresh_token"].encode() not in hashes


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, person: Staff, tenant: TenantInfo, clean_db: Database, frozen: Clock
) -> None:
    first = await api_login(client, person)
    second = (await _refresh(client, tenant, first["refresh_token"])).json()
    third = (await _refresh(client, tenant, second["refresh_token"])).json()

    stolen = await _refresh(client, tenant, first["refresh_token"])
    assert stolen.status_code == 401
    # Everything of the family is dead: the newest refresh token and every access token.
    assert (await _refresh(client, tenant, third["refresh_token"])).status_code == 401
    for access in (first["access_token"], second["access_token"], third["access_token"]):
        assert await _me(client, tenant, access) == 401
    async with clean_db.read(tenant_id=tenant.id) as s:
        reasons = list(
            (
                await s.execute(
                    select(AuthSession.revoke_reason).where(AuthSession.revoked_at.is_not(None))
                )
            ).scalars()
        )
    assert reasons == ["refresh_reuse"]
    # A new login works: only the family ended, not the account.
    frozen.advance(30)  # the next TOTP step
    assert await _me(client, tenant, (await api_login(client, person))["access_token"]) == 200


async def test_concurrent_use_of_one_refresh_token_lets_one_win_and_ends_the_family(
    client: httpx.AsyncClient, person: Staff, tenant: TenantInfo
) -> None:
    tokens = await api_login(client, person)
    a, b = await asyncio.gather(
        _refresh(client, tenant, tokens["refresh_token"]),
        _refresh(client, tenant, tokens["refresh_token"]),
    )
    assert sorted([a.status_code, b.status_code]) == [200, 401]
    # Two holders of one token means a copy exists: the family is revoked for both.
    winner = a if a.status_code == 200 else b
    assert (await _refresh(client, tenant, winner.json()["refresh_token"])).status_code == 401


async def test_refresh_tokens_end_with_the_session(
    client: httpx.AsyncClient, person: Staff, tenant: TenantInfo, frozen: Clock, settings: Settings
) -> None:
    tokens = await api_login(client, person)
    frozen.advance(settings.staff_session_hours * 3600 + 1)
    assert (await _refresh(client, tenant, tokens["refresh_token"])).status_code == 401


@pytest.mark.parametrize("token", ["", "x" * 201, "vxr_unknown", "vxr_" + "A" * 43])
async def test_unknown_or_malformed_refresh_tokens_are_refused(
    client: httpx.AsyncClient, tenant: TenantInfo, token: str
) -> None:
    r = await _refresh(client, tenant, token)
    assert r.status_code in (401, 422)
    if r.status_code == 401:
        assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_refresh_token_of_another_tenant_is_unknown_here(
    client: httpx.AsyncClient, person: Staff, clean_db: Database
) -> None:
    from tests.support.tenants import load_tenant

    other = await load_tenant(clean_db)
    tokens = await api_login(client, person)
    assert (await _refresh(client, other, tokens["refresh_token"])).status_code == 401
