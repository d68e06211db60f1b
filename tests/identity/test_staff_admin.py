"""Staff management and self-service through the API: scope, immediacy, step-up."""

from __future__ import annotations

from collections.abc import Awaitable

import httpx
import pytest
from sqlalchemy import select

from tests.identity.conftest import Clock
from tests.identity.helpers import PASSWORD, Staff, api_login, bearer, make_staff
from tests.support.parts import PARTS
from vaxport.app import create_app
from vaxport.core.cache import NEAR_SECONDS, Cache
from vaxport.core.db import Database
from vaxport.identity.models import Account
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def staff_url(tenant: TenantInfo, *parts: object) -> str:
    return "/".join([f"/api/v1/{tenant.code}/staff", *(str(p) for p in parts)])


async def test_admin_invites_and_the_invitee_activates_through_the_link(
    client: httpx.AsyncClient, tenant: TenantInfo, admin_token: str, clean_db: Database
) -> None:
    r = await client.post(
        staff_url(tenant),
        json={
            "username": "Ama.Owusu",
            "role": "region_admin",
            "region_code": "NOR",
            "email": "Ama@Example.org",
            "phone": "(416) 555-0199",
            "display_name": "Ama Owusu",
        },
        headers=bearer(admin_token),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"/api/v1/{tenant.code}/staff/{body['account']['id']}"
    assert body["account"]["username"] == "ama.owusu"
    assert body["account"]["status"] == "invited"
    assert body["account"]["email"] == "ama@example.org"
    assert body["account"]["phone"] == "+14165550199"
    token = body["activation_url"].split("token=")[1]
    assert body["activation_url"].startswith(f"http://127.0.0.1:8000/{tenant.code}/staff/activate?")
    # Personal fields are ciphertext in the database; the invitation only a hash.
    async with clean_db.read(tenant_id=tenant.id) as s:
        row = (await s.execute(select(Account).where(Account.username == "ama.owusu"))).scalar_one()
        raw = (
            bytes(row.email_enc or b""),
            bytes(row.display_name_enc or b""),
            row.invite_token_hash,
        )
    assert b"example.org" not in raw[0]
    assert b"Owusu" not in raw[1]
    assert token.encode() != raw[2]
    r = await client.post(
        f"/api/v1/{tenant.code}/auth/activate", json={"token": token, "password": PASSWORD}
    )
    assert r.json()["status"] == "enrolment_required"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "x", "role": "vaccinator", "region_code": "NOR"}, "username"),
        ({"username": "newone", "role": "wizard"}, "role"),
        ({"username": "newone", "role": "region_admin"}, "region_code"),
        ({"username": "newone", "role": "region_admin", "region_code": "ATLANTIS"}, "region_code"),
        ({"username": "newone", "role": "auditor", "region_code": "NOR"}, "region_code"),
        ({"username": "newone", "role": "analyst", "email": "not-an-email"}, "email"),
        ({"username": "newone", "role": "analyst", "phone": "12"}, "phone"),
        ({"username": "newone", "role": "operator"}, "role"),  # only from the command line
        ({"username": "newone", "role": "analyst", "is_admin": True}, "is_admin"),
    ],
)
async def test_invalid_invitations_are_422_naming_the_field(
    client: httpx.AsyncClient,
    tenant: TenantInfo,
    admin_token: str,
    body: dict[str, object],
    field: str,
) -> None:
    r = await client.post(staff_url(tenant), json=body, headers=bearer(admin_token))
    assert r.status_code == 422, r.text
    assert field in {e["field"] for e in r.json()["errors"]}


async def test_a_duplicate_username_is_a_conflict(
    client: httpx.AsyncClient, tenant: TenantInfo, admin_token: str, admin: Staff
) -> None:
    r = await client.post(
        staff_url(tenant),
        json={"username": admin.username, "role": "analyst"},
        headers=bearer(admin_token),
    )
    assert r.status_code == 409


async def test_a_region_admin_sees_and_manages_only_their_subtree(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    boss = await make_staff(clean_db, settings, tenant, role="region_admin", region_code="NOR")
    inside = await make_staff(
        clean_db, settings, tenant, role="vaccinator", region_code="NOR-01", enrol=False
    )
    outside = await make_staff(
        clean_db, settings, tenant, role="vaccinator", region_code="SOU", enrol=False
    )
    token = (await api_login(client, boss))["access_token"]
    listed = (await client.get(staff_url(tenant), headers=bearer(token))).json()["items"]
    assert {m["username"] for m in listed} == {boss.username, inside.username}
    assert (
        await client.get(staff_url(tenant, outside.id), headers=bearer(token))
    ).status_code == 404
    r = await client.post(staff_url(tenant, outside.id, "disable"), headers=bearer(token))
    assert r.status_code == 404
    # Inviting outside the subtree, or a role above their own, is refused.
    for body in (
        {"username": "far.away", "role": "vaccinator", "region_code": "SOU"},
        {"username": "promoted", "role": "national_admin"},
    ):
        r = await client.post(staff_url(tenant), json=body, headers=bearer(token))
        assert r.status_code == 422, body
    r = await client.post(
        staff_url(tenant),
        json={"username": "near.by", "role": "vaccinator", "region_code": "NOR-02"},
        headers=bearer(token),
    )
    assert r.status_code == 201


async def test_staff_lists_are_paginated_by_cursor(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin_token: str,
) -> None:
    for i in range(4):
        await make_staff(
            clean_db, settings, tenant, role="analyst", username=f"analyst{i}", enrol=False
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(staff_url(tenant), params=params, headers=bearer(admin_token))
        ).json()
        seen += [m["username"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert len(set(seen)) == 5
    bad = await client.get(staff_url(tenant), params={"cursor": "!!"}, headers=bearer(admin_token))
    assert bad.status_code == 422


async def test_disabling_takes_effect_on_the_next_request(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin_token: str,
) -> None:
    worker = await make_staff(clean_db, settings, tenant, role="vaccinator", region_code="NOR")
    tokens = await api_login(client, worker)
    me = f"/api/v1/{tenant.code}/me"
    assert (await client.get(me, headers=bearer(tokens["access_token"]))).status_code == 200
    r = await client.post(staff_url(tenant, worker.id, "disable"), headers=bearer(admin_token))
    assert r.status_code == 200
    assert r.json()["status"] == "disabled"
    assert (await client.get(me, headers=bearer(tokens["access_token"]))).status_code == 401
    refresh = await client.post(
        f"/api/v1/{tenant.code}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    r = await client.post(staff_url(tenant, worker.id, "enable"), headers=bearer(admin_token))
    assert r.json()["status"] == "active"


class Ticks:
    """A monotonic clock for a cache's near entries, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_disable_on_another_replica_is_felt_within_the_near_bound(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    cache: Cache,
    tenant: TenantInfo,
    admin_token: str,
) -> None:
    # Two replicas sharing one cache backend: ``client`` disables, ``replica`` serves the
    # worker and keeps what it read near for at most NEAR_SECONDS of its own clock.
    ticks = Ticks()
    near = Cache(cache.backend, prefix=cache.prefix, monotonic=ticks)
    replica_app = create_app(settings, parts=PARTS, database=clean_db, cache=near)
    worker = await make_staff(clean_db, settings, tenant, role="vaccinator", region_code="NOR")
    token = (await api_login(client, worker))["access_token"]
    me = f"/api/v1/{tenant.code}/me"
    transport = httpx.ASGITransport(app=replica_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as replica:
        assert (await replica.get(me, headers=bearer(token))).status_code == 200
        r = await client.post(staff_url(tenant, worker.id, "disable"), headers=bearer(admin_token))
        assert r.status_code == 200
        # The replica that disabled refuses at once; the other may still answer from
        # what it noted (for less than the bound), never once the bound has passed.
        assert (await client.get(me, headers=bearer(token))).status_code == 401
        ticks.now += NEAR_SECONDS
        assert (await replica.get(me, headers=bearer(token))).status_code == 401


async def test_a_role_change_takes_effect_on_the_next_request(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin_token: str,
) -> None:
    worker = await make_staff(clean_db, settings, tenant, role="support")
    tokens = await api_login(client, worker)
    audit = f"/api/v1/{tenant.code}/audit"
    assert (await client.get(audit, headers=bearer(tokens["access_token"]))).status_code == 403
    r = await client.patch(
        staff_url(tenant, worker.id), json={"role": "auditor"}, headers=bearer(admin_token)
    )
    assert r.status_code == 200, r.text
    # The old token carried the old role: refused now, not in 15 minutes.
    assert (await client.get(audit, headers=bearer(tokens["access_token"]))).status_code == 401
    fresh = await client.post(
        f"/api/v1/{tenant.code}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert fresh.status_code == 200
    access = fresh.json()["access_token"]
    assert (await client.get(audit, headers=bearer(access))).status_code == 200


async def test_state_changes_reach_other_replicas_through_the_shared_cache(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin_token: str,
    cache: Cache,
) -> None:
    # The app under test and this "other replica" share the cache and the database.
    worker = await make_staff(clean_db, settings, tenant, role="vaccinator", region_code="NOR")
    tokens = await api_login(client, worker)
    from vaxport.app import create_app

    replica = create_app(settings, database=clean_db, cache=cache)
    transport = httpx.ASGITransport(app=replica)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        me = f"/api/v1/{tenant.code}/me"
        assert (await other.get(me, headers=bearer(tokens["access_token"]))).status_code == 200
        await client.post(staff_url(tenant, worker.id, "disable"), headers=bearer(admin_token))
        assert (await other.get(me, headers=bearer(tokens["access_token"]))).status_code == 401


async def test_reset_voids_credentials_and_sessions_and_issues_a_new_link(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin_token: str,
    frozen: Clock,
) -> None:
    worker = await make_staff(clean_db, settings, tenant, role="vaccinator", region_code="NOR")
    tokens = await api_login(client, worker)
    r = await client.post(staff_url(tenant, worker.id, "reset"), headers=bearer(admin_token))
    assert r.status_code == 200
    assert r.json()["account"]["status"] == "invited"
    assert r.json()["account"]["totp_enabled"] is False
    assert r.headers["cache-control"] == "no-store"
    me = f"/api/v1/{tenant.code}/me"
    assert (await client.get(me, headers=bearer(tokens["access_token"]))).status_code == 401
    login = await client.post(
        f"/api/v1/{tenant.code}/auth/login",
        json={"username": worker.username, "password": PASSWORD},
    )
    assert login.status_code == 401
    token = r.json()["activation_url"].split("token=")[1]
    step = await client.post(
        f"/api/v1/{tenant.code}/auth/activate",
        json={"token": token, "password": "a brand new phrase 9"},
    )
    assert step.json()["status"] == "enrolment_required"


async def test_admins_cannot_manage_themselves_or_their_peers(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin: Staff,
    admin_token: str,
) -> None:
    r = await client.post(staff_url(tenant, admin.id, "disable"), headers=bearer(admin_token))
    assert r.status_code == 409
    boss = await make_staff(clean_db, settings, tenant, role="region_admin", region_code="NOR")
    peer = await make_staff(
        clean_db, settings, tenant, role="region_admin", region_code="NOR-01", enrol=False
    )
    token = (await api_login(client, boss))["access_token"]
    assert (await client.get(staff_url(tenant, peer.id), headers=bearer(token))).status_code == 200
    r = await client.post(staff_url(tenant, peer.id, "disable"), headers=bearer(token))
    assert r.status_code == 404


async def test_idempotency_keys_belong_to_the_authenticated_principal(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin_token: str,
) -> None:
    other_admin = await make_staff(clean_db, settings, tenant, role="national_admin")
    other_token = (await api_login(client, other_admin))["access_token"]
    one = await make_staff(clean_db, settings, tenant, role="analyst", enrol=False)
    two = await make_staff(clean_db, settings, tenant, role="analyst", enrol=False)
    key = {"Idempotency-Key": "disable-2026-11-27-001"}

    def disable(target: Staff, token: str) -> Awaitable[httpx.Response]:
        return client.post(
            staff_url(tenant, target.id, "disable"), headers={**bearer(token), **key}
        )

    first = await disable(one, admin_token)
    again = await disable(one, admin_token)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true"
    # Another admin's identical key is theirs alone: their request runs.
    theirs = await disable(two, other_token)
    assert theirs.status_code == 200
    assert theirs.headers.get("idempotent-replayed") is None


async def test_answers_carrying_secrets_are_never_kept_for_idempotent_replay(
    client: httpx.AsyncClient, tenant: TenantInfo, admin_token: str, clean_db: Database
) -> None:
    from vaxport.core.idempotency import IdempotencyKey

    headers = {**bearer(admin_token), "Idempotency-Key": "invite-1"}
    body = {"username": "with.link", "role": "analyst"}
    r = await client.post(staff_url(tenant), json=body, headers=headers)
    assert r.status_code == 201
    async with clean_db.read(tenant_id=tenant.id) as s:
        stored = (
            await s.execute(
                select(
                    IdempotencyKey.state,
                    IdempotencyKey.answer_enc,
                    IdempotencyKey.person_answer_enc,
                )
            )
        ).all()
    # The activation link never rests in the idempotency table: the key is remembered,
    # the answer is not.
    assert [tuple(r) for r in stored] == [("unkept", None, None)]
    again = await client.post(staff_url(tenant), json=body, headers=headers)
    assert again.status_code == 409  # ran again: the username now exists
    other = await client.post(
        staff_url(tenant), json={"username": "someone.else", "role": "analyst"}, headers=headers
    )
    assert other.status_code == 422  # the key belongs to the first request
    assert [(e["field"], e["reason"]) for e in other.json()["errors"]] == [
        ("header.Idempotency-Key", "already used for a different request")
    ]
