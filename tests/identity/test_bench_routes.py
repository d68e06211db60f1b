"""Identity's bench-only routes: the authenticated no-op and the encrypted/plain row reads."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import bindparam, select

from tests.conftest import requires_postgres
from tests.identity.helpers import Staff, api_login, bearer, make_staff
from vaxport.app import create_app
from vaxport.core import pgpool, roundtrips
from vaxport.core.cache import Cache
from vaxport.core.crypto import get_keyring
from vaxport.core.db import Database
from vaxport.core.fastread import fetch_one
from vaxport.identity.access import authn, edge
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


async def test_the_hot_read_takes_its_parameters_whatever_their_column_type(
    clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    person = await make_staff(clean_db, settings, tenant, role="analyst")
    by_name = select(Account.id, Account.role).where(
        Account.username == bindparam("name"), Account.tenant_id == bindparam("tenant")
    )
    params = {"name": person.username, "tenant": tenant.id}
    assert await fetch_one(clean_db, by_name, params, tenant_id=tenant.id) == (
        person.id,
        "analyst",
    )
    quoted = {**params, "name": "it's"}
    assert await fetch_one(clean_db, by_name, quoted, tenant_id=tenant.id) is None


@requires_postgres
async def test_the_hot_read_is_one_round_trip_and_leaves_no_tenant_on_its_connection(
    clean_db: Database, settings: Settings, tenant: TenantInfo, app_database_url: str
) -> None:
    person = await make_staff(clean_db, settings, tenant, role="analyst")
    by_id = select(Account.username).where(Account.id == bindparam("id"))
    one = Database(app_database_url, pool_size=1, max_overflow=0)  # one pooled connection
    roundtrips.install(one.engine)
    try:
        await fetch_one(one, by_id, {"id": person.id}, tenant_id=tenant.id)  # prepares
        trace = roundtrips.Trace()
        token = roundtrips.begin_request(trace)
        try:
            row = await fetch_one(one, by_id, {"id": person.id}, tenant_id=tenant.id)
        finally:
            roundtrips.end_request(token)
        assert row == (person.username,)
        assert trace.round_trips == 1
        # The scope ended with the statement: the next one on that connection has none.
        async with pgpool.connection(one) as conn:
            left = await conn.fetchval("SELECT current_setting('vaxport.tenant', true)")
            assert left in (None, "")
            assert await conn.fetchval("SELECT username FROM accounts") is None  # RLS: none
    finally:
        await one.dispose()


@requires_postgres
async def test_the_hot_read_cannot_lock_or_write_rows(
    clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    person = await make_staff(clean_db, settings, tenant, role="analyst")
    locking = select(Account.username).where(Account.id == bindparam("id")).with_for_update()
    with pytest.raises(asyncpg.FeatureNotSupportedError, match="non-volatile"):
        await fetch_one(clean_db, locking, {"id": person.id}, tenant_id=tenant.id)
    # The refusal left the pool usable.
    by_id = select(Account.username).where(Account.id == bindparam("id"))
    assert await fetch_one(clean_db, by_id, {"id": person.id}, tenant_id=tenant.id) == (
        person.username,
    )


async def test_an_authenticated_request_looks_its_tenant_up_once(
    bench_client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    person = await make_staff(clean_db, settings, tenant, role="analyst")
    auth = bearer(str((await api_login(bench_client, person))["access_token"]))
    lookups: list[str] = []

    def counted(real: Any) -> Any:
        async def lookup(**kwargs: Any) -> Any:
            lookups.append(kwargs["code"])
            return await real(**kwargs)

        return lookup

    for module in (authn, edge):
        monkeypatch.setattr(module, "get_tenant_or_404", counted(module.get_tenant_or_404))
    r = await bench_client.get(f"/bench/{tenant.code}/accounts/{person.id}/plain", headers=auth)
    assert r.status_code == 200
    assert lookups == [tenant.code]  # authentication's; the path's {tenant} reuses it
    lookups.clear()
    r = await bench_client.get(f"/bench/{tenant.code}/accounts/{person.id}/plain")
    assert r.status_code == 200
    assert lookups == [tenant.code]  # anonymous: the path's own lookup
