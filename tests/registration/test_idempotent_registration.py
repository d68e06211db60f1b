"""A registration with an Idempotency-Key keeps the key and its answer in its own
transaction: concurrent duplicates register once, and every one gets the first answer."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
from sqlalchemy import func, select, update

from tests.registration.conftest import staff_token
from tests.registration.helpers import member, national_id
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.idempotency import IdempotencyKey
from vaxport.core.outbox.models import OutboxEvent
from vaxport.registration.models import Beneficiary
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def _count(db: Database, tenant: TenantInfo, model: type) -> int:
    async with db.read(tenant_id=tenant.id) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_concurrent_duplicates_register_once_and_all_get_the_first_answer(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    staff = await staff_token(client, clean_db, settings, tenant, "national_admin")
    headers = {**staff.headers, "Idempotency-Key": "race-1"}
    body = member(given_name="Marie", family_name="Curie")
    url = f"/api/v1/{tenant.code}/beneficiaries"

    answers = await asyncio.gather(
        *(client.post(url, json=body, headers=headers) for _ in range(8))
    )

    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    first = [a for a in answers if "idempotent-replayed" not in a.headers]
    assert len(first) == 1
    replays = [a for a in answers if a.headers.get("idempotent-replayed") == "true"]
    assert len(replays) == 7
    kept = first[0].json() | {"claim_code": None}
    assert all(r.json() == kept for r in replays)
    assert {r.headers["location"] for r in answers} == {first[0].headers["location"]}
    assert await _count(clean_db, tenant, Beneficiary) == 1
    assert await _count(clean_db, tenant, IdempotencyKey) == 1
    async with clean_db.read(tenant_id=tenant.id) as s:
        events = await s.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.event_type == "beneficiary.registered")
        )
    assert events == 1


async def test_the_same_key_for_another_person_is_a_422_and_registers_nobody_more(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    staff = await staff_token(client, clean_db, settings, tenant, "national_admin")
    headers = {**staff.headers, "Idempotency-Key": "reused"}
    url = f"/api/v1/{tenant.code}/beneficiaries"
    assert (await client.post(url, json=member(), headers=headers)).status_code == 201

    other = await client.post(url, json=member(given_name="Grace"), headers=headers)

    assert other.status_code == 422
    [error] = other.json()["errors"]
    assert (error["field"], error["reason"]) == (
        "header.Idempotency-Key",
        "already used for a different request",
    )
    assert await _count(clean_db, tenant, Beneficiary) == 1


async def test_a_refused_registration_keeps_no_key_and_its_retry_runs(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    staff = await staff_token(client, clean_db, settings, tenant, "national_admin")
    url = f"/api/v1/{tenant.code}/beneficiaries"
    number = national_id()
    doc = [{"id_type": "national-id", "number": number}]
    assert (await client.post(url, json=member(documents=doc), headers=staff.headers)).is_success
    headers = {**staff.headers, "Idempotency-Key": "refused"}
    body = member(given_name="Grace", documents=doc)

    refused = await client.post(url, json=body, headers=headers)
    again = await client.post(url, json=body, headers=headers)

    assert refused.status_code == again.status_code == 409
    assert "idempotent-replayed" not in again.headers  # it ran again: nothing was kept
    assert await _count(clean_db, tenant, IdempotencyKey) == 0
    assert await _count(clean_db, tenant, Beneficiary) == 1


async def test_an_expired_key_is_replaced_and_the_registration_runs(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    staff = await staff_token(client, clean_db, settings, tenant, "national_admin")
    headers = {**staff.headers, "Idempotency-Key": "old"}
    url = f"/api/v1/{tenant.code}/beneficiaries"
    first = await client.post(url, json=member(), headers=headers)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(IdempotencyKey).values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )

    later = await client.post(url, json=member(given_name="Grace"), headers=headers)

    assert later.status_code == 201
    assert "idempotent-replayed" not in later.headers
    assert later.json()["id"] != first.json()["id"]
    assert await _count(clean_db, tenant, IdempotencyKey) == 1
    assert await _count(clean_db, tenant, Beneficiary) == 2
