"""Citizen login by one-time code through HTTP: tokens, the account made on first login
(once, even under concurrent first logins), identical answers and identical work for
known and unknown destinations, 422s naming the field, 503 when the limiter is down."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from tests.core.http.ratelimit_support import closed_port
from tests.identity.conftest import Clock
from tests.identity.helpers import bearer, last_code
from vaxport.app import create_app
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.identity.login import citizen, otp
from vaxport.identity.models import Account
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PHONE = "416 555 0142"  # national format, read in the demo's region (CA)
E164 = "+14165550142"


def _auth(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/auth"


async def _login(client: httpx.AsyncClient, db: Database, tenant: TenantInfo, **dest: str) -> Any:
    asked = await client.post(_auth(tenant) + "/code", json=dest)
    assert asked.status_code == 202, asked.text
    code = await last_code(db, tenant.id)
    done = await client.post(
        _auth(tenant) + "/code/verify",
        json={"transaction_id": asked.json()["transaction_id"], "code": code},
    )
    assert done.status_code == 200, done.text
    return done.json()


async def _citizens(db: Database, tenant: TenantInfo) -> int:
    async with db.read(tenant_id=tenant.id) as s:
        return int(
            (
                await s.execute(
                    select(func.count()).where(
                        Account.tenant_id == tenant.id, Account.kind == "citizen"
                    )
                )
            ).scalar_one()
        )


async def test_a_code_to_a_phone_signs_a_citizen_in_and_the_first_login_makes_the_account(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    first = await _login(client, clean_db, tenant, phone=PHONE)
    assert first["status"] == "authenticated"
    assert first["token_type"] == "Bearer"
    me = await client.get(f"/api/v1/{tenant.code}/me", headers=bearer(first["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["phone"] == E164
    assert me.json()["role"] == "citizen"
    again = await _login(client, clean_db, tenant, phone=f"+1 {PHONE}")
    me2 = await client.get(f"/api/v1/{tenant.code}/me", headers=bearer(again["access_token"]))
    assert me2.json()["id"] == me.json()["id"]
    assert await _citizens(clean_db, tenant) == 1


async def test_a_code_to_an_email_signs_in_too(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    done = await _login(client, clean_db, tenant, email="Ada@Example.org")
    me = await client.get(f"/api/v1/{tenant.code}/me", headers=bearer(done["access_token"]))
    assert me.json()["email"] == "ada@example.org"


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(re.sub(r"\s+", " ", statement))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_known_and_unknown_destinations_get_the_same_answer_after_the_same_work(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    frozen: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(otp, "_PURGE_PROBABILITY", 0.0)
    await _login(client, clean_db, tenant, phone="416 555 0101")  # now a known account
    frozen.advance(60)
    answers = []
    work = []
    for phone in ("416 555 0101", "416 555 0102"):  # known, then unknown
        with _statements(clean_db) as seen:
            r = await client.post(_auth(tenant) + "/code", json={"phone": phone})
        body = r.json()
        uuid.UUID(body.pop("transaction_id"))
        answers.append((r.status_code, body, r.headers["content-type"]))
        work.append(seen)
    assert answers[0] == answers[1]
    assert answers[0][0] == 202
    assert work[0] == work[1]
    assert not any("accounts" in statement for statement in work[0])


async def test_an_invalid_phone_is_a_422_naming_the_field(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo
) -> None:
    r = await client.post(_auth(tenant) + "/code", json={"phone": "555"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "phone"
    r = await client.post(_auth(tenant) + "/code", json={"email": "nobody@"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "email"
    both = await client.post(_auth(tenant) + "/code", json={"phone": PHONE, "email": "a@b.org"})
    assert both.status_code == 422
    extra = await client.post(_auth(tenant) + "/code", json={"phone": PHONE, "role": "x"})
    assert extra.status_code == 422


async def test_brute_force_over_http_stops_at_five_and_is_audited_without_personal_data(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    asked = (await client.post(_auth(tenant) + "/code", json={"phone": PHONE})).json()
    code = await last_code(clean_db, tenant.id)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    url = _auth(tenant) + "/code/verify"
    answers = [
        await client.post(url, json={"transaction_id": asked["transaction_id"], "code": c})
        for c in [wrong] * 5 + [code]
    ]
    assert [a.status_code for a in answers] == [422] * 6
    assert [(e["field"], e["reason"]) for e in answers[0].json()["errors"]] == [
        ("code", otp.BAD_CODE)
    ]
    assert answers[-1].json() == answers[0].json()
    assert await _citizens(clean_db, tenant) == 0
    async with clean_db.read(tenant_id=tenant.id) as s:
        rows = (
            await s.execute(
                select(AuditEntry.outcome, AuditEntry.details).where(
                    AuditEntry.action == "auth.login"
                )
            )
        ).all()
    assert [o for o, _ in rows] == ["failure"] * 6
    assert E164 not in str(rows)
    assert "5550142" not in str(rows)


async def test_the_first_login_is_audited_as_an_account_creation(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    await _login(client, clean_db, tenant, phone=PHONE)
    async with clean_db.read(tenant_id=tenant.id) as s:
        rows = (
            await s.execute(select(AuditEntry.action, AuditEntry.outcome, AuditEntry.details))
        ).all()
    actions = [(a, o) for a, o, _ in rows]
    assert ("auth.account_create", "success") in actions
    assert ("auth.login", "success") in actions
    assert "5550142" not in str(rows)


async def test_ten_concurrent_first_logins_make_one_account(
    clean_db: Database, tenant: TenantInfo
) -> None:
    dest = otp.Destination("phone", E164)
    made = await asyncio.gather(
        *(citizen.citizen_account_for(db=clean_db, tenant=tenant, dest=dest) for _ in range(10))
    )
    assert len({account.id for account, _ in made}) == 1
    assert sum(created for _, created in made) == 1
    assert await _citizens(clean_db, tenant) == 1


async def test_concurrent_verifies_of_one_code_sign_in_once(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    asked = (await client.post(_auth(tenant) + "/code", json={"phone": PHONE})).json()
    body = {"transaction_id": asked["transaction_id"], "code": await last_code(clean_db, tenant.id)}
    answers = await asyncio.gather(
        *(client.post(_auth(tenant) + "/code/verify", json=body) for _ in range(10))
    )
    assert sorted(a.status_code for a in answers) == [200] + [422] * 9
    assert await _citizens(clean_db, tenant) == 1


async def test_send_caps_answer_429_with_retry_after(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    answers = [await client.post(_auth(tenant) + "/code", json={"phone": PHONE}) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[-1].headers["content-type"] == "application/problem+json"
    assert int(answers[-1].headers["retry-after"]) == 15 * 60


async def test_code_endpoints_fail_closed_when_the_limiter_store_is_down(
    settings: Settings, clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{closed_port()}/0"})
    app = create_app(down, database=clean_db, cache=cache)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        for path, body in (
            ("/code", {"phone": PHONE}),
            ("/code/verify", {"transaction_id": str(uuid.uuid4()), "code": "123456"}),
            ("/recovery", {"method": "email-code", "new_phone": PHONE, "email": "a@b.org"}),
        ):
            r = await c.post(_auth(tenant) + path, json=body)
            assert r.status_code == 503, (path, r.text)
            assert r.headers["content-type"] == "application/problem+json"
    await app.state.rate_limiter.close()
