"""Recovery to a new phone: proven by a member's ID + birth date or by an e-mail code;
old sessions end; a wrong factor and an unknown account get the same answers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx

from tests.identity.conftest import Clock
from tests.identity.helpers import bearer, last_code, sent_codes
from tests.support.tenants import load_tenant
from vaxport.core.db import Database
from vaxport.identity.models import Account
from vaxport.registration.lookup import account_holds_member
from vaxport.registration.models import Beneficiary, BeneficiaryDocument
from vaxport.tenancy.schemas import TenantInfo

OLD = "+14165550142"
NEW = "+14165550177"
ID_NUMBER = "9201175545"
BORN = dt.date(1992, 1, 17)


def _auth(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/auth"


async def _login(client: httpx.AsyncClient, db: Database, tenant: TenantInfo, **dest: str) -> Any:
    asked = (await client.post(_auth(tenant) + "/code", json=dest)).json()
    done = await client.post(
        _auth(tenant) + "/code/verify",
        json={"transaction_id": asked["transaction_id"], "code": await last_code(db, tenant.id)},
    )
    assert done.status_code == 200, done.text
    return done.json()


async def _me(client: httpx.AsyncClient, tenant: TenantInfo, token: str) -> httpx.Response:
    return await client.get(f"/api/v1/{tenant.code}/me", headers=bearer(token))


async def _member(db: Database, tenant: TenantInfo, account_id: uuid.UUID) -> None:
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = Beneficiary(
            tenant_id=tenant.id,
            account_id=account_id,
            reference=uuid.uuid4().hex[:10].upper(),
            given_name="Ada",
            family_name="Person",
            birth_date=BORN,
            birth_year=BORN.year,
            sex="female",
            region_code="X",
            created_via="self",
        )
        uow.session.add(person)
        await uow.session.flush()
        uow.session.add(
            BeneficiaryDocument(
                tenant_id=tenant.id,
                beneficiary_id=person.id,
                id_type="national-id",
                number=ID_NUMBER,
            )
        )


def _id_dob(phone: str = OLD, born: dt.date = BORN) -> dict[str, str]:
    return {
        "method": "id-dob",
        "new_phone": NEW,
        "phone": phone,
        "id_type": "national-id",
        "id_number": ID_NUMBER,
        "birth_date": born.isoformat(),
    }


async def test_id_and_birth_date_of_a_member_move_the_account_and_end_old_sessions(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    old = await _login(client, clean_db, tenant, phone=OLD)
    me = (await _me(client, tenant, old["access_token"])).json()
    await _member(clean_db, tenant, uuid.UUID(me["id"]))
    assert await account_holds_member(
        clean_db,
        tenant_id=tenant.id,
        account_id=uuid.UUID(me["id"]),
        id_type="national-id",
        id_number=ID_NUMBER,
        birth_date=BORN,
    )
    started = await client.post(_auth(tenant) + "/recovery", json=_id_dob())
    assert started.status_code == 202, started.text
    assert started.json()["factor_transaction_id"] is None
    done = await client.post(
        _auth(tenant) + "/recovery/verify",
        json={
            "transaction_id": started.json()["transaction_id"],
            "code": await last_code(clean_db, tenant.id),
        },
    )
    assert done.status_code == 200, done.text
    moved = (await _me(client, tenant, done.json()["access_token"])).json()
    assert (moved["id"], moved["phone"]) == (me["id"], NEW)
    assert (await _me(client, tenant, old["access_token"])).status_code == 401
    refreshed = await client.post(
        _auth(tenant) + "/refresh", json={"refresh_token": old["refresh_token"]}
    )
    assert refreshed.status_code == 401


async def test_a_wrong_factor_and_an_unknown_account_are_answered_alike(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    old = await _login(client, clean_db, tenant, phone=OLD)
    me = (await _me(client, tenant, old["access_token"])).json()
    await _member(clean_db, tenant, uuid.UUID(me["id"]))
    answers = []
    for body in (_id_dob(born=dt.date(1990, 5, 5)), _id_dob(phone="+14165550100")):
        started = await client.post(_auth(tenant) + "/recovery", json=body)
        assert started.status_code == 202
        done = await client.post(
            _auth(tenant) + "/recovery/verify",
            json={
                "transaction_id": started.json()["transaction_id"],
                "code": await last_code(clean_db, tenant.id),
            },
        )
        answers.append((done.status_code, done.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 422
    assert (await _me(client, tenant, old["access_token"])).json()["phone"] == OLD


async def test_an_email_code_proves_the_account_of_that_address(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    old = await _login(client, clean_db, tenant, phone=OLD)
    me = (await _me(client, tenant, old["access_token"])).json()
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        account = await uow.session.get(Account, uuid.UUID(me["id"]))
        assert account is not None
        account.email = "ada@example.org"
    body = {"method": "email-code", "new_phone": NEW, "email": "ADA@example.org"}
    started = (await client.post(_auth(tenant) + "/recovery", json=body)).json()
    email_code, phone_code = (await sent_codes(clean_db, tenant.id))[-2:]
    wrong = await client.post(
        _auth(tenant) + "/recovery/verify",
        json={
            "transaction_id": started["transaction_id"],
            "code": phone_code,
            "factor_transaction_id": started["factor_transaction_id"],
            "factor_code": f"{(int(email_code) + 1) % 10**6:06d}",
        },
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "factor_code"
    frozen.advance(60)
    started = (await client.post(_auth(tenant) + "/recovery", json=body)).json()
    email_code, phone_code = (await sent_codes(clean_db, tenant.id))[-2:]
    done = await client.post(
        _auth(tenant) + "/recovery/verify",
        json={
            "transaction_id": started["transaction_id"],
            "code": phone_code,
            "factor_transaction_id": started["factor_transaction_id"],
            "factor_code": email_code,
        },
    )
    assert done.status_code == 200, done.text
    assert (await _me(client, tenant, done.json()["access_token"])).json()["phone"] == NEW


async def test_an_unknown_email_is_refused_like_a_wrong_email_code(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    body = {"method": "email-code", "new_phone": NEW, "email": "nobody@example.org"}
    started = (await client.post(_auth(tenant) + "/recovery", json=body)).json()
    email_code, phone_code = (await sent_codes(clean_db, tenant.id))[-2:]
    done = await client.post(
        _auth(tenant) + "/recovery/verify",
        json={
            "transaction_id": started["transaction_id"],
            "code": phone_code,
            "factor_transaction_id": started["factor_transaction_id"],
            "factor_code": email_code,
        },
    )
    assert done.status_code == 422
    assert done.json()["errors"][0]["field"] == "factor_code"


async def test_a_method_the_tenant_does_not_offer_is_a_422(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    only_email = await load_tenant(clean_db, changes={"recovery": {"methods": ["email-code"]}})
    r = await client.post(_auth(only_email) + "/recovery", json=_id_dob())
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "method"
    bad = await client.post(
        _auth(only_email) + "/recovery", json={"method": "email-code", "new_phone": "12"}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "new_phone"


async def test_a_phone_already_holding_an_account_is_a_conflict(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, frozen: Clock
) -> None:
    old = await _login(client, clean_db, tenant, phone=OLD)
    await _login(client, clean_db, tenant, phone=NEW)
    me = (await _me(client, tenant, old["access_token"])).json()
    await _member(clean_db, tenant, uuid.UUID(me["id"]))
    started = (await client.post(_auth(tenant) + "/recovery", json=_id_dob())).json()
    done = await client.post(
        _auth(tenant) + "/recovery/verify",
        json={
            "transaction_id": started["transaction_id"],
            "code": await last_code(clean_db, tenant.id),
        },
    )
    assert done.status_code == 409
    assert done.json()["errors"][0]["field"] == "new_phone"
    assert (await _me(client, tenant, old["access_token"])).json()["phone"] == OLD
