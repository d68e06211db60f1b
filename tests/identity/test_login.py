"""Staff login: passwords, second factor, enrolment, recovery codes, throttling."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.identity.conftest import Clock
from tests.identity.helpers import PASSWORD, Staff, api_login, bearer, make_staff
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.identity.login import passwords, totp
from vaxport.identity.models import Account
from vaxport.identity.staff import admin as staff
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def _auth(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/auth"


async def _password(
    client: httpx.AsyncClient, tenant: TenantInfo, username: str, password: str, ip: str = "a"
) -> httpx.Response:
    # httpx's ASGI transport reports one client address; X-Forwarded-For is not trusted,
    # so every call here comes from the same address unless the test says otherwise.
    return await client.post(
        _auth(tenant) + "/login", json={"username": username, "password": password}
    )


@pytest.fixture
async def vaccinator(clean_db: Database, settings: Settings, tenant: TenantInfo) -> Staff:
    return await make_staff(clean_db, settings, tenant, role="vaccinator", region_code="NOR")


# ----------------------------------------------------------------------------- passwords


def test_password_policy_refuses_short_and_common_passwords_without_composition_rules() -> None:
    assert passwords.problems("short") == ["must be at least 12 characters"]
    for common in (
        "password1234",
        "qwertyuiop123",
        "iloveyou2024!",
        "aaaaaaaaaaaaaaa",
        "123456789012",
    ):
        assert passwords.problems(common), common
    # Long phrases of plain lower-case words are fine: no "one digit, one symbol" rules.
    assert passwords.problems("correct horse battery staple") == []
    assert passwords.problems("orchid lantern quietly 47") == []
    assert passwords.problems("jdupont likes tea", username="jdupont") == [
        "must not contain the username"
    ]
    assert len(passwords.common_passwords()) > 10_000


async def test_activation_refuses_a_common_password_and_keeps_the_link_valid(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    made = await staff.create_staff(
        db=clean_db, settings=settings, tenant=tenant, actor=None, username="newbie", role="analyst"
    )
    r = await client.post(
        _auth(tenant) + "/activate", json={"token": made.token, "password": "password12345"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "password"
    r = await client.post(
        _auth(tenant) + "/activate", json={"token": made.token, "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    # Analysts see no personal data: no second factor required, tokens at once.
    assert r.json()["status"] == "authenticated"
    again = await client.post(
        _auth(tenant) + "/activate", json={"token": made.token, "password": PASSWORD}
    )
    assert again.status_code == 422  # single use


@pytest.mark.production_password_hash
async def test_passwords_are_stored_as_argon2id_hashes(
    clean_db: Database, vaccinator: Staff, tenant: TenantInfo
) -> None:
    async with clean_db.read(tenant_id=tenant.id) as s:
        stored = (
            await s.execute(select(Account.password_hash).where(Account.id == vaccinator.id))
        ).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=47104,t=1,p=1$")
    assert PASSWORD not in stored


@pytest.mark.production_password_hash
async def test_unknown_user_and_wrong_password_get_the_same_answer_for_the_same_work(
    client: httpx.AsyncClient,
    vaccinator: Staff,
    tenant: TenantInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verified: list[str] = []
    real = passwords.HASHER

    class Counting:
        """The real hasher, counting verifications (the work a login does)."""

        def verify(self, stored: str, password: str) -> bool:
            verified.append(stored)
            return real.verify(stored, password)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(passwords, "HASHER", Counting())
    wrong = await _password(client, tenant, vaccinator.username, "not the password at all")
    unknown = await _password(client, tenant, "nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401

    def shape(r: httpx.Response) -> dict[str, Any]:
        body = r.json()
        body.pop("instance")
        return body

    assert shape(wrong) == shape(unknown)
    assert set(wrong.headers) - {"x-request-id", "content-length"} == set(unknown.headers) - {
        "x-request-id",
        "content-length",
    }
    assert len(verified) == 2  # one argon2 verification each, with the same parameters
    assert verified[0].split("$")[3] == verified[1].split("$")[3] == "m=47104,t=1,p=1"


async def test_a_disabled_account_gets_the_same_answer_as_a_wrong_password(
    client: httpx.AsyncClient, clean_db: Database, vaccinator: Staff, tenant: TenantInfo
) -> None:
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        account = (
            await uow.session.execute(select(Account).where(Account.id == vaccinator.id))
        ).scalar_one()
        account.status = "disabled"
    r = await _password(client, tenant, vaccinator.username, PASSWORD)
    assert r.status_code == 401
    assert r.json()["detail"] == "invalid username or password"


async def test_repeated_failures_delay_then_lock_known_and_unknown_usernames_alike(
    client: httpx.AsyncClient, vaccinator: Staff, tenant: TenantInfo, frozen: Clock
) -> None:
    for name in (vaccinator.username, "nobody-at-all"):
        statuses = [
            (await _password(client, tenant, name, "wrong password here")).status_code
            for _ in range(6)
        ]
        # Four free failures, the fifth counted; the sixth must wait (progressive delay).
        assert statuses == [401, 401, 401, 401, 401, 429], name
    r = await _password(client, tenant, vaccinator.username, PASSWORD)
    assert r.status_code == 429  # even the right password waits
    assert r.headers["retry-after"] == "1"

    frozen.advance(1)
    assert (
        await _password(client, tenant, vaccinator.username, "wrong again!!")
    ).status_code == 401
    r = await _password(client, tenant, vaccinator.username, PASSWORD)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"  # the delay doubles

    for wait in (2, 4, 8, 16):
        frozen.advance(wait)
        assert (
            await _password(client, tenant, vaccinator.username, "wrong!!!!!!!!")
        ).status_code == 401
    # Ten failures: locked for 15 minutes.
    r = await _password(client, tenant, vaccinator.username, PASSWORD)
    assert (r.status_code, r.headers["retry-after"]) == (429, "900")
    frozen.advance(899)
    assert (await _password(client, tenant, vaccinator.username, PASSWORD)).status_code == 429
    frozen.advance(2)
    ok = await _password(client, tenant, vaccinator.username, PASSWORD)
    assert ok.status_code == 200
    assert ok.json()["status"] == "totp_required"
    # Success clears the username's count.
    assert (
        await _password(client, tenant, vaccinator.username, "wrong password")
    ).status_code == 401
    assert (await _password(client, tenant, vaccinator.username, PASSWORD)).status_code == 200


async def test_failures_from_one_address_across_usernames_lock_the_address(
    client: httpx.AsyncClient, tenant: TenantInfo, frozen: Clock
) -> None:
    statuses = []
    for i in range(22):
        r = await _password(client, tenant, f"sprayed-{i}", "Summer2024 password")
        statuses.append(r.status_code)
    # Every username is new, so only the address's count can refuse the 22nd.
    assert statuses[:21] == [401] * 21
    assert statuses[21] == 429


async def test_parallel_guesses_cannot_overtake_the_counter(
    client: httpx.AsyncClient, vaccinator: Staff, tenant: TenantInfo, frozen: Clock
) -> None:
    results = await asyncio.gather(
        *(_password(client, tenant, vaccinator.username, f"guess number {i}!") for i in range(12))
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [401] * 5 + [429] * 7  # exactly the free attempts reach the password


async def test_failed_and_successful_logins_are_audited_without_personal_data(
    client: httpx.AsyncClient, vaccinator: Staff, tenant: TenantInfo, clean_db: Database
) -> None:
    await _password(client, tenant, vaccinator.username, "wrong password here")
    await api_login(client, vaccinator)
    async with clean_db.read(tenant_id=tenant.id) as s:
        rows = (
            await s.execute(
                select(
                    AuditEntry.action, AuditEntry.outcome, AuditEntry.object_id, AuditEntry.details
                )
                .where(AuditEntry.action == "auth.login")
                .order_by(AuditEntry.occurred_at, AuditEntry.id)
            )
        ).all()
    rows = rows[-2:]  # before them: the login that ended the account's set-up
    assert [(a, o) for a, o, _, _ in rows] == [("auth.login", "failure"), ("auth.login", "success")]
    assert all(oid == str(vaccinator.id) for _, _, oid, _ in rows)
    assert vaccinator.username not in str(rows)


# ----------------------------------------------------------------------------- TOTP


async def test_staff_seeing_personal_data_cannot_log_in_without_the_second_factor(
    client: httpx.AsyncClient, vaccinator: Staff, tenant: TenantInfo
) -> None:
    r = await _password(client, tenant, vaccinator.username, PASSWORD)
    body = r.json()
    assert body["status"] == "totp_required"
    assert body["access_token"] is None
    assert set(body) >= {"ticket"}
    bad = await client.post(
        _auth(tenant) + "/second-factor", json={"ticket": body["ticket"], "code": "000000"}
    )
    assert bad.status_code == 401


async def test_a_totp_code_is_refused_the_second_time_in_the_same_step(
    client: httpx.AsyncClient, vaccinator: Staff, tenant: TenantInfo, frozen: Clock
) -> None:
    code = vaccinator.code()
    first = (await _password(client, tenant, vaccinator.username, PASSWORD)).json()
    ok = await client.post(
        _auth(tenant) + "/second-factor", json={"ticket": first["ticket"], "code": code}
    )
    assert ok.status_code == 200
    second = (await _password(client, tenant, vaccinator.username, PASSWORD)).json()
    replay = await client.post(
        _auth(tenant) + "/second-factor", json={"ticket": second["ticket"], "code": code}
    )
    assert replay.status_code == 401
    assert replay.json()["detail"] == "invalid or already used code"
    # An older code (previous step, still within the drift window) is a replay too.
    older = vaccinator.code(frozen.now - dt.timedelta(seconds=30))
    replay = await client.post(
        _auth(tenant) + "/second-factor", json={"ticket": second["ticket"], "code": older}
    )
    assert replay.status_code == 401
    frozen.advance(30)
    fresh = await client.post(
        _auth(tenant) + "/second-factor",
        json={"ticket": second["ticket"], "code": vaccinator.code()},
    )
    assert fresh.status_code == 200


async def test_two_concurrent_uses_of_one_code_let_only_one_in(
    client: httpx.AsyncClient, vaccinator: Staff, tenant: TenantInfo, frozen: Clock
) -> None:
    tickets = [
        (await _password(client, tenant, vaccinator.username, PASSWORD)).json()["ticket"]
        for _ in range(2)
    ]
    code = vaccinator.code()
    results = await asyncio.gather(
        *(
            client.post(_auth(tenant) + "/second-factor", json={"ticket": t, "code": code})
            for t in tickets
        )
    )
    assert sorted(r.status_code for r in results) == [200, 401]


async def test_tickets_expire_and_cannot_be_forged(
    client: httpx.AsyncClient, vaccinator: Staff, tenant: TenantInfo, frozen: Clock
) -> None:
    ticket = (await _password(client, tenant, vaccinator.username, PASSWORD)).json()["ticket"]
    body, sig = ticket.split(".")
    forged = await client.post(
        _auth(tenant) + "/second-factor",
        json={"ticket": f"{body}.{sig[:-2]}AA", "code": vaccinator.code()},
    )
    assert forged.status_code == 401
    frozen.advance(301)
    late = await client.post(
        _auth(tenant) + "/second-factor", json={"ticket": ticket, "code": vaccinator.code()}
    )
    assert late.status_code == 401
    assert late.json()["detail"] == "the login has expired; start again"


async def test_recovery_codes_work_once_each(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    made = await staff.create_staff(
        db=clean_db,
        settings=settings,
        tenant=tenant,
        actor=None,
        username="fm1",
        role="national_admin",
    )
    step = (
        await client.post(
            _auth(tenant) + "/activate", json={"token": made.token, "password": PASSWORD}
        )
    ).json()
    assert step["status"] == "enrolment_required"
    enrolment = (
        await client.post(_auth(tenant) + "/enrolment", json={"ticket": step["ticket"]})
    ).json()
    assert enrolment["qr_data_uri"].startswith("data:image/svg+xml")
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
    assert re.fullmatch(r"[A-Z2-7]{32}", enrolment["secret"])
    # Asking again shows the same pending secret: a typo needs no new scan.
    again = (
        await client.post(_auth(tenant) + "/enrolment", json={"ticket": step["ticket"]})
    ).json()
    assert again["secret"] == enrolment["secret"]
    from vaxport.core import clock

    done = await client.post(
        _auth(tenant) + "/enrolment/confirm",
        json={"ticket": step["ticket"], "code": totp.code_at(enrolment["secret"], clock.utcnow())},
    )
    assert done.status_code == 200, done.text
    codes = done.json()["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10

    async def with_recovery(code: str) -> int:
        t = (await _password(client, tenant, "fm1", PASSWORD)).json()["ticket"]
        r = await client.post(
            _auth(tenant) + "/second-factor", json={"ticket": t, "recovery_code": code}
        )
        return r.status_code

    assert await with_recovery(codes[0].lower().replace("-", " ")) == 200  # typed loosely
    assert await with_recovery(codes[0]) == 401  # used up
    assert await with_recovery(codes[1]) == 200


async def test_second_factor_needs_exactly_one_of_code_and_recovery_code(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    for body in ({"ticket": "t"}, {"ticket": "t", "code": "123456", "recovery_code": "AAAA-BBBB"}):
        r = await client.post(_auth(tenant) + "/second-factor", json=body)
        assert r.status_code == 422


async def test_roles_without_personal_data_may_still_use_a_second_factor_once_enrolled(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    auditor = await make_staff(clean_db, settings, tenant, role="auditor")
    assert auditor.totp_secret is None
    tokens = await api_login(client, auditor)
    me = await client.get(f"/api/v1/{tenant.code}/me", headers=bearer(tokens["access_token"]))
    assert me.json()["totp_enabled"] is False
