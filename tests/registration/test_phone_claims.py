"""Claiming an account-less record with a one-time code sent to the record's phone."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.identity.helpers import actor_for, last_code, sent_codes
from tests.registration.conftest import Person, citizen_token, staff_token
from tests.registration.helpers import member, national_id
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.core.errors import TooManyRequests
from vaxport.core.outbox import OutboxEvent
from vaxport.registration import service
from vaxport.registration.schemas import ClaimCodeIn
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

CLAIMS = "/api/v1/{}/beneficiaries/claims"


def _phone() -> str:
    return f"+1613555{secrets.randbelow(10_000):04d}"


async def _record(
    client: httpx.AsyncClient, admin: Person, tenant: TenantInfo, **changes: Any
) -> tuple[str, dict[str, Any]]:
    """Staff register an account-less person; their ID number and the answer."""
    number = national_id()
    body = member(documents=[{"id_type": "national-id", "number": number}], **changes)
    r = await client.post(f"/api/v1/{tenant.code}/beneficiaries", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    return number, r.json()


async def _ask(client: httpx.AsyncClient, tenant: TenantInfo, who: Person, number: str) -> Any:
    return await client.post(
        CLAIMS.format(tenant.code) + "/codes",
        json={"id_type": "national-id", "number": number},
        headers=who.headers,
    )


@pytest.fixture
async def admin(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> Person:
    return await staff_token(client, clean_db, settings, tenant, "national_admin")


async def test_a_code_to_the_records_phone_claims_it_into_the_family(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin: Person,
) -> None:
    number, made = await _record(client, admin, tenant, phone=_phone())
    me = await citizen_token(clean_db, settings, tenant)
    asked = await _ask(client, tenant, me, number)
    assert asked.status_code == 202, asked.text
    assert set(asked.json()) == {"transaction_id"}
    code = await last_code(clean_db, tenant.id)
    # Another account cannot use the transaction this citizen asked for.
    stranger = await citizen_token(clean_db, settings, tenant)
    body = {"transaction_id": asked.json()["transaction_id"], "code": code}
    wrong_account = await client.post(
        CLAIMS.format(tenant.code), json=body, headers=stranger.headers
    )
    assert wrong_account.status_code == 404
    # (the code was used by that attempt: ask again)
    asked = await _ask(client, tenant, me, number)
    body = {
        "transaction_id": asked.json()["transaction_id"],
        "code": await last_code(clean_db, tenant.id),
    }
    ok = await client.post(CLAIMS.format(tenant.code), json=body, headers=me.headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["id"] == made["id"]
    assert ok.json()["claimed"] is True
    listed = await client.get(f"/api/v1/{tenant.code}/beneficiaries", headers=me.headers)
    assert [p["id"] for p in listed.json()["items"]] == [made["id"]]
    # The printed slip code no longer works either.
    slip = {"id_type": "national-id", "number": number, "code": made["claim_code"]}
    again = await client.post(CLAIMS.format(tenant.code), json=slip, headers=stranger.headers)
    assert again.status_code == 404
    async with clean_db.read(tenant_id=tenant.id) as s:
        audited = (
            await s.execute(
                select(AuditEntry.outcome, AuditEntry.actor_id).where(
                    AuditEntry.action == "beneficiary.claim"
                )
            )
        ).all()
        events = await s.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.event_type == "beneficiary.updated")
        )
    assert ("success", me.id) in audited
    assert ("failure", stranger.id) in audited
    assert events == 1


async def test_a_wrong_phone_code_claims_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin: Person,
) -> None:
    number, made = await _record(client, admin, tenant, phone=_phone())
    me = await citizen_token(clean_db, settings, tenant)
    asked = await _ask(client, tenant, me, number)
    code = await last_code(clean_db, tenant.id)
    wrong = "0" * 6 if code != "0" * 6 else "1" * 6
    body = {"transaction_id": asked.json()["transaction_id"], "code": wrong}
    r = await client.post(CLAIMS.format(tenant.code), json=body, headers=me.headers)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["code"]
    listed = await client.get(f"/api/v1/{tenant.code}/beneficiaries", headers=me.headers)
    assert listed.json()["items"] == []
    # The right code still works after one wrong try.
    body["code"] = code
    ok = await client.post(CLAIMS.format(tenant.code), json=body, headers=me.headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["id"] == made["id"]


async def test_unknown_claimed_and_phoneless_ids_get_the_same_answer_and_no_message(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin: Person,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    with_phone, _ = await _record(client, admin, tenant, phone=_phone())
    no_phone, _ = await _record(client, admin, tenant, given_name="Noor")
    owner = await citizen_token(clean_db, settings, tenant)
    claimed = national_id()
    r = await client.post(
        f"/api/v1/{tenant.code}/beneficiaries",
        json=member(documents=[{"id_type": "national-id", "number": claimed}], phone=_phone()),
        headers=owner.headers,
    )
    assert r.status_code == 201
    real = await _ask(client, tenant, me, with_phone)
    before = len(await sent_codes(clean_db, tenant.id))
    answers = [await _ask(client, tenant, me, n) for n in (national_id(), claimed, no_phone)]
    assert len(await sent_codes(clean_db, tenant.id)) == before
    for answer in answers:
        assert answer.status_code == real.status_code == 202
        assert set(answer.json()) == set(real.json())
        assert answer.headers.get("content-type") == real.headers.get("content-type")
        # A transaction nobody got a code for verifies with nothing.
        body = {"transaction_id": answer.json()["transaction_id"], "code": "123456"}
        tried = await client.post(CLAIMS.format(tenant.code), json=body, headers=me.headers)
        assert tried.status_code == 422
    # The decoy counts sends like a real phone: the fourth code in 15 minutes is refused.
    actor = actor_for(tenant, "citizen", kind="citizen", account_id=me.id)
    ask = ClaimCodeIn(id_type="national-id", number=national_id())
    for _ in range(3):
        await service.request_claim_code(
            db=clean_db, settings=settings, tenant=tenant, actor=actor, body=ask, client_ip=None
        )
    with pytest.raises(TooManyRequests):
        await service.request_claim_code(
            db=clean_db, settings=settings, tenant=tenant, actor=actor, body=ask, client_ip=None
        )


async def test_a_phone_claim_respects_the_family_limit(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    admin: Person,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    for i in range(tenant.config.family.max_beneficiaries_per_account):
        r = await client.post(
            f"/api/v1/{tenant.code}/beneficiaries",
            json=member(given_name=f"P{i}"),
            headers=me.headers,
        )
        assert r.status_code == 201, r.text
    number, made = await _record(client, admin, tenant, phone=_phone())
    asked = await _ask(client, tenant, me, number)
    body = {
        "transaction_id": asked.json()["transaction_id"],
        "code": await last_code(clean_db, tenant.id),
    }
    r = await client.post(CLAIMS.format(tenant.code), json=body, headers=me.headers)
    assert r.status_code == 409
    assert r.json()["type"].endswith("/family-full")
    got = await client.get(
        f"/api/v1/{tenant.code}/beneficiaries/{made['id']}", headers=admin.headers
    )
    assert got.json()["claimed"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"code": "123456"},
        {"transaction_id": str(uuid.uuid4()), "id_type": "national-id", "code": "123456"},
        {"transaction_id": str(uuid.uuid4()), "code": "123456", "phone": "+16135550100"},
    ],
)
async def test_a_claim_must_be_one_shape(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    body: dict[str, str],
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    r = await client.post(CLAIMS.format(tenant.code), json=body, headers=me.headers)
    assert r.status_code == 422, r.text
