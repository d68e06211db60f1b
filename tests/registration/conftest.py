"""Fixtures of the registration tests: a tenant, citizens and staff who log in for real."""

from __future__ import annotations

import itertools
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.facilities.helpers import body as facility_body
from tests.identity.helpers import api_login, bearer, make_staff
from tests.support.cli import cli  # noqa: F401 - a fixture of these tests
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.facilities.schemas import FacilityCreate
from vaxport.identity.credentials import sessions, signing
from vaxport.identity.models import Account
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

# Citizens' phones in turn from a random start: a walk that signs in a hundred citizens
# met two random picks of the same number (a birthday collision) and failed on the
# accounts' unique phone.
_PHONES = itertools.count(secrets.randbelow(10_000))


@pytest.fixture(autouse=True)
def _fresh_signing_keys(db: Database) -> None:
    # Tables are emptied after each test: never sign with a key this process remembers.
    signing.forget(db)


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    """A fresh copy of the demo country."""
    return await load_tenant(clean_db, cache)


@dataclass
class Person:
    """Someone who logged in: their account id and request headers."""

    id: uuid.UUID
    headers: dict[str, str]


async def citizen_token(db: Database, settings: Settings, tenant: TenantInfo) -> Person:
    """A citizen account and an API session, as the one-time-code login makes them."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        account = Account(tenant_id=tenant.id, kind="citizen", role="citizen", token_version=1)
        account.phone = f"+1416555{next(_PHONES) % 10_000:04d}"
        uow.session.add(account)
        await uow.session.flush()
        grant = await sessions.open_api_session(
            uow, settings=settings, account=account, amr=["otp"]
        )
        account_id = account.id
    pair = await sessions.issue_pair(db=db, settings=settings, grant=grant, tenant_code=tenant.code)
    return Person(account_id, bearer(pair.access_token))


async def staff_token(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    role: str,
    **scope: Any,
) -> Person:
    """A staff member of ``role`` (and scope), logged in through the API."""
    member = await make_staff(db, settings, tenant, role=role, **scope)
    answer = await api_login(client, member)
    return Person(member.id, bearer(str(answer["access_token"])))


async def make_facility(
    db: Database, cache: Cache, tenant: TenantInfo, *, code: str, region_code: str
) -> uuid.UUID:
    """A vaccination centre of the tenant in ``region_code``."""
    data = FacilityCreate.model_validate(facility_body(code=code, region_code=region_code))
    made = await facilities.create(db=db, cache=cache, tenant=tenant, data=data)
    return made.id
