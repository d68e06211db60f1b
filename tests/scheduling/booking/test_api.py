"""The booking API: who may call what, problem+json answers, idempotent retries."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select

from tests.registration.conftest import citizen_token, staff_token
from tests.scheduling.booking.support import add_people, seats, slot
from tests.scheduling.conftest import REGION
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PROBLEM = "application/problem+json"


def _api(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/appointments"


async def test_a_citizen_books_a_family_member_and_finds_the_booking_code_again(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me.id)
    [slot_id] = await slot(clean_db, tenant, centre)
    body = {"beneficiary_id": str(member), "slot_id": str(slot_id)}
    r = await client.post(_api(tenant), json=body, headers=me.headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["location"] == f"{_api(tenant)}/{made['id']}"
    assert len(made["booking_code"]) == 8
    got = await client.get(r.headers["location"], headers=me.headers)
    assert (got.status_code, got.json()["booking_code"]) == (200, made["booking_code"])
    mine = await client.get(_api(tenant), headers=me.headers)
    assert [a["id"] for a in mine.json()["items"]] == [made["id"]]
    theirs = await client.get(
        _api(tenant), params={"beneficiary_id": str(member)}, headers=me.headers
    )
    assert [a["id"] for a in theirs.json()["items"]] == [made["id"]]


async def test_another_citizen_reaches_neither_the_person_nor_the_appointment(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    peer = await citizen_token(clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me.id)
    [a, b] = await slot(clean_db, tenant, centre, slots=2)
    made = await client.post(
        _api(tenant), json={"beneficiary_id": str(member), "slot_id": str(a)}, headers=me.headers
    )
    item = f"{_api(tenant)}/{made.json()['id']}"
    answers = [
        await client.get(item, headers=peer.headers),
        await client.delete(item, headers=peer.headers),
        await client.post(item + "/reschedule", json={"slot_id": str(b)}, headers=peer.headers),
        await client.get(
            _api(tenant), params={"beneficiary_id": str(member)}, headers=peer.headers
        ),
        await client.post(
            _api(tenant),
            json={"beneficiary_id": str(member), "slot_id": str(b)},
            headers=peer.headers,
        ),
    ]
    assert [r.status_code for r in answers] == [404] * 5
    assert all(r.headers["content-type"] == PROBLEM for r in answers)
    assert await seats(clean_db, tenant.id, [a, b]) == [1, 0]
    anonymous = await client.get(item)
    assert anonymous.status_code == 401


async def test_a_retry_with_the_same_idempotency_key_returns_the_same_booking(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me.id)
    [slot_id] = await slot(clean_db, tenant, centre)
    body = {"beneficiary_id": str(member), "slot_id": str(slot_id)}
    headers = {**me.headers, "Idempotency-Key": "book-once-7f3a"}
    first = await client.post(_api(tenant), json=body, headers=headers)
    again = await client.post(_api(tenant), json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.headers["location"] == first.headers["location"]
    assert await seats(clean_db, tenant.id, [slot_id]) == [1]
    other = await client.post(
        _api(tenant), json={**body, "slot_id": str(uuid.uuid4())}, headers=headers
    )
    assert other.status_code == 422  # the key belongs to the first request


async def test_a_full_slot_and_bad_requests_answer_problems_and_change_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    people = await add_people(clean_db, tenant, 2, account_id=me.id)
    [slot_id] = await slot(clean_db, tenant, centre, seats=1)
    ok = await client.post(
        _api(tenant),
        json={"beneficiary_id": str(people[0]), "slot_id": str(slot_id)},
        headers=me.headers,
    )
    assert ok.status_code == 201
    full = await client.post(
        _api(tenant),
        json={"beneficiary_id": str(people[1]), "slot_id": str(slot_id)},
        headers=me.headers,
    )
    assert full.status_code == 409
    assert full.headers["content-type"] == PROBLEM
    assert full.json()["type"].endswith("slot-full")
    assert full.json()["errors"][0]["field"] == "slot_id"
    bad = [
        {"beneficiary_id": str(people[1])},
        {"beneficiary_id": "nope", "slot_id": str(slot_id)},
        {"beneficiary_id": str(people[1]), "slot_id": str(slot_id), "extra": 1},
        {"beneficiary_id": str(people[1]), "slot_id": str(uuid.uuid4())},
    ]
    for body in bad:
        r = await client.post(_api(tenant), json=body, headers=me.headers)
        assert (r.status_code, r.headers["content-type"]) == (422, PROBLEM), body
    r = await client.get(_api(tenant), params={"cursor": "!!"}, headers=me.headers)
    assert r.status_code == 422
    assert await seats(clean_db, tenant.id, [slot_id]) == [1]


async def test_cancel_and_reschedule_through_the_api(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me.id)
    [a, b] = await slot(clean_db, tenant, centre, slots=2)
    made = await client.post(
        _api(tenant), json={"beneficiary_id": str(member), "slot_id": str(a)}, headers=me.headers
    )
    item = f"{_api(tenant)}/{made.json()['id']}"
    moved = await client.post(item + "/reschedule", json={"slot_id": str(b)}, headers=me.headers)
    assert moved.status_code == 201, moved.text
    assert moved.json()["replaces_id"] == made.json()["id"]
    assert (await client.get(item, headers=me.headers)).json()["status"] == "cancelled"
    again = await client.post(item + "/reschedule", json={"slot_id": str(a)}, headers=me.headers)
    assert again.status_code == 409
    assert again.json()["type"].endswith("appointment-ended")
    new_item = moved.headers["location"]
    assert (await client.delete(new_item, headers=me.headers)).status_code == 204
    assert (await client.delete(new_item, headers=me.headers)).status_code == 204
    assert await seats(clean_db, tenant.id, [a, b]) == [0, 0]


@pytest.mark.parametrize("scope", ["inside", "outside"])
async def test_region_staff_book_the_people_of_their_region_only(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    scope: str,
) -> None:
    region = "NOR" if scope == "inside" else "SOU"
    staff = await staff_token(
        client, clean_db, settings, tenant, "region_admin", region_code=region
    )
    [person] = await add_people(clean_db, tenant, 1, region_code=REGION)
    [slot_id] = await slot(clean_db, tenant, centre)
    r = await client.post(
        _api(tenant),
        json={"beneficiary_id": str(person), "slot_id": str(slot_id)},
        headers=staff.headers,
    )
    assert r.status_code == (201 if scope == "inside" else 404), r.text
    if scope == "inside":
        async with clean_db.read(tenant_id=tenant.id) as s:
            entries = (
                await s.execute(
                    select(AuditEntry.action, AuditEntry.object_id).where(
                        AuditEntry.actor_id == staff.id
                    )
                )
            ).all()
        assert ("appointment.book", str(person)) in entries


async def test_two_concurrent_requests_with_one_idempotency_key_make_one_booking(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me.id)
    [slot_id] = await slot(clean_db, tenant, centre)
    body = {"beneficiary_id": str(member), "slot_id": str(slot_id)}
    headers = {**me.headers, "Idempotency-Key": "twice-at-once-91c2"}
    answers = await asyncio.gather(
        *(client.post(_api(tenant), json=body, headers=headers) for _ in range(4))
    )
    created = [r for r in answers if r.status_code == 201]
    assert created, [r.text for r in answers]
    assert {r.json()["id"] for r in created} == {created[0].json()["id"]}
    # A request still running when another arrives may be told to retry (409, Retry-After).
    assert all(r.status_code in (201, 409) for r in answers)
    assert all(r.json()["type"].endswith("conflict") for r in answers if r.status_code == 409)
    assert await seats(clean_db, tenant.id, [slot_id]) == [1]
