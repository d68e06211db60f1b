"""Registration answers "already registered" to a citizen only a few times.

Each such answer tells whether an ID number is registered in the tenant; at the write
rate a citizen could test hundreds of numbers a minute. The budget counts answers, not
requests, and once spent refuses whatever the document, so the refusal discloses nothing.
"""

from __future__ import annotations

import httpx
import pytest

from tests.registration.conftest import citizen_token, staff_token
from tests.registration.helpers import member, national_id
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"rate_limit_id_check_account": "2/hour", "rate_limit_id_check_ip": "100/hour"}
    )


def url(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/beneficiaries"


def doc(number: str) -> list[dict[str, str]]:
    return [{"id_type": "national-id", "number": number}]


async def test_a_citizen_gets_few_already_registered_answers_then_429_for_any_document(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    owner = await citizen_token(clean_db, settings, tenant)
    prober = await citizen_token(clean_db, settings, tenant)
    taken = [national_id() for _ in range(3)]
    for number in taken:
        r = await client.post(
            url(tenant), json=member(documents=doc(number)), headers=owner.headers
        )
        assert r.status_code == 201, r.text

    for number in taken[:2]:
        r = await client.post(
            url(tenant), json=member(documents=doc(number)), headers=prober.headers
        )
        assert r.status_code == 409
        assert r.json()["type"].endswith("/already-registered")

    # Spent: a registered number and a free one get the same refusal, and nothing is written.
    refused_taken = await client.post(
        url(tenant), json=member(documents=doc(taken[2])), headers=prober.headers
    )
    refused_free = await client.post(
        url(tenant), json=member(documents=doc(national_id())), headers=prober.headers
    )
    assert refused_taken.status_code == refused_free.status_code == 429
    assert refused_taken.json()["type"] == refused_free.json()["type"]
    assert 0 < int(refused_free.headers["retry-after"]) <= 3600
    assert (await client.get(url(tenant), headers=prober.headers)).json()["items"] == []

    # Another citizen's budget is their own.
    other = await citizen_token(clean_db, settings, tenant)
    r = await client.post(
        url(tenant), json=member(documents=doc(national_id())), headers=other.headers
    )
    assert r.status_code == 201


async def test_successful_registrations_spend_nothing(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    for _ in range(4):
        r = await client.post(
            url(tenant), json=member(documents=doc(national_id())), headers=me.headers
        )
        assert r.status_code == 201, r.text


async def test_staff_are_not_limited_by_the_citizens_budget(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    owner = await citizen_token(clean_db, settings, tenant)
    number = national_id()
    r = await client.post(url(tenant), json=member(documents=doc(number)), headers=owner.headers)
    assert r.status_code == 201
    staff = await staff_token(client, clean_db, settings, tenant, "national_admin")
    for _ in range(4):
        r = await client.post(
            url(tenant), json=member(documents=doc(number)), headers=staff.headers
        )
        assert r.status_code == 409
