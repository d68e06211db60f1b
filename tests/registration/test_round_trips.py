"""A registration costs at most three round trips to PostgreSQL, with or without an
Idempotency-Key: BEGIN with the tenant scope, one batch of every row (and the look-alike
query), COMMIT."""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest

from tests.registration.conftest import staff_token
from tests.registration.helpers import member
from tests.support.roundtrips import RoundTrips
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
def postgres(clean_db: Database) -> Database:
    if not clean_db.is_postgres:
        pytest.skip("round trips to a database server (PostgreSQL)")
    return clean_db


@pytest.mark.parametrize("with_key", [False, True], ids=["plain", "idempotency-key"])
async def test_a_registration_takes_at_most_three_round_trips(
    client: httpx.AsyncClient,
    postgres: Database,
    settings: Settings,
    tenant: TenantInfo,
    with_key: bool,
) -> None:
    staff = await staff_token(client, postgres, settings, tenant, "national_admin")
    url = f"/api/v1/{tenant.code}/beneficiaries"

    async def register() -> None:
        headers = dict(staff.headers)
        if with_key:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        # A name of its own: resembling no one, as nearly every registration.
        name = "Ada" + "".join(secrets.choice("bcdfghjklmnpqrstvwxz") for _ in range(8))
        answer = await client.post(url, json=member(given_name=name), headers=headers)
        assert answer.status_code == 201, answer.text

    for _ in range(2):  # keys created, then cached
        await register()
    meter = RoundTrips(postgres)
    for attempt in meter.attempts():
        with attempt:
            await register()
    assert meter.fewest <= 3, meter.shown
