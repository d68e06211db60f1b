"""Identity's bench-only routes: the authenticated no-op and the encrypted/plain row reads."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import bindparam, select

from tests.identity.helpers import Staff, api_login, bearer, make_staff
from vaxport.app import create_app
from vaxport.core.cache import Cache
from vaxport.core.crypto import get_keyring
from vaxport.core.db import Database
from vaxport.core.fastread import fetch_one
from vaxport.identity.models import Account
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def bench_client(settings: Settings, clean_db: Database, cache: Cache):  # type: ignore[no-untyped-def]
    app = create_app(
        settings.model_copy(update={"bench_mode": True}), database=clean_db, cache=cache
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        yield c


async def test_bench_routes_exist_only_in_bench_mode(
    client: httpx.AsyncClient, tenant: TenantInfo, admin: Staff
) -> None:
    r = await client.get(f"/bench/{tenant.code}/accounts/{admin.id}/encrypted")
    assert r.status_code == 404


async def test_the_authenticated_noop_needs_a_token_and_reads_rows_of_both_shapes(
    bench_client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    person = await make_staff(
        clean_db, settings, tenant, role="analyst", display_name="Ama Owusu", email="a@b.org"
    )
    assert (await bench_client.get(f"/bench/{tenant.code}/noop/auth")).status_code == 401
    auth = bearer(str((await api_login(bench_client, person))["access_token"]))
    r = await bench_client.get(f"/bench/{tenant.code}/noop/auth", headers=auth)
    assert r.status_code == 200
    base = f"/bench/{tenant.code}/accounts/{person.id}"
    encrypted = (await bench_client.get(base + "/encrypted")).json()
    plain = (await bench_client.get(base + "/plain")).json()
    assert encrypted == {"fields": 3, "chars": len("Ama Owusu") + len("a@b.org")}
    assert plain == {"fields": 3, "chars": len(person.username) + len("analyst")}


async def test_the_hot_read_opens_fields_after_the_process_forgot_their_key(
    bench_client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    person = await make_staff(
        clean_db, settings, tenant, role="analyst", display_name="Kofi Mensah", email="k@m.org"
    )
    get_keyring().forget()
    url = f"/bench/{tenant.code}/accounts/{person.id}/encrypted"
    expected = {"fields": 3, "chars": len("Kofi Mensah") + len("k@m.org")}
    assert (await bench_client.get(url)).json() == expected  # through the ORM: key fetched
    assert (await bench_client.get(url)).json() == expected  # then with the cached key


async def test_the_hot_read_is_scoped_to_its_tenant_by_row_level_security(
    clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    if not clean_db.is_postgres:
        pytest.skip("row-level security is PostgreSQL's")
    person = await make_staff(clean_db, settings, tenant, role="analyst")
    by_id = select(Account.username).where(Account.id == bindparam("id"))
    mine = await fetch_one(clean_db, by_id, {"id": person.id}, tenant_id=tenant.id)
    assert mine == (person.username,)
    # The same statement (no tenant filter of its own) in another tenant's scope: nothing.
    assert await fetch_one(clean_db, by_id, {"id": person.id}, tenant_id=uuid.uuid4()) is None
