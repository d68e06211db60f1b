"""PostgreSQL row-level security and least privilege, seen from the app role."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import APP_ROLE, PG_URL
from tests.core.helpers import new_id
from tests.support.parts import METADATA
from vaxport.core import audit, migrate, rls
from vaxport.core.db import Database
from vaxport.core.ids import short_code
from vaxport.core.principal import SYSTEM
from vaxport.tenancy.models import Tenant

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="row-level security and roles exist only on PostgreSQL"
)


async def _config_row(db: Database, tenant_id: uuid.UUID, source: str) -> None:
    async with db.transaction(tenant_id=tenant_id) as uow:
        await uow.session.execute(
            text(
                "INSERT INTO tenant_config_versions "
                "(id, tenant_id, version, config, config_hash, source, loaded_at) "
                "VALUES (:id, :t, 1, '{}', :h, :s, now())"
            ),
            {"id": new_id(), "t": tenant_id, "h": "0" * 64, "s": source},
        )
        await audit.record(
            uow, by=SYSTEM, action="config.load", object_type="tenant", object_id=tenant_id
        )


async def _bare_tenant(db: Database) -> uuid.UUID:
    # A bare tenants row (that table is not tenant-scoped), so each test controls exactly
    # which tenant-scoped rows exist.
    tenant = Tenant(code=f"t{short_code(6).lower()}", name="T", config={}, config_hash="0" * 64)
    async with db.transaction() as uow:
        uow.session.add(tenant)
    return tenant.id


async def _two_tenants(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    a, b = await _bare_tenant(db), await _bare_tenant(db)
    await _config_row(db, a, "a.yaml")
    await _config_row(db, b, "b.yaml")
    return a, b


async def test_app_connects_as_a_least_privileged_role(db: Database) -> None:
    async with db.read() as s:
        me = (await s.execute(text("SELECT current_user"))).scalar_one()
        row = (
            await s.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
        owned = (
            await s.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                    "WHERE r.rolname = current_user"
                )
            )
        ).scalar_one()
    assert me == APP_ROLE
    assert tuple(row) == (False, False)
    assert owned == 0


async def test_every_tenant_table_has_forced_rls_with_the_tenant_policy(
    owner_db: Database,
) -> None:
    cross_tenant, _ = rls._models_info(METADATA)
    async with owner_db.engine.connect() as conn:
        tables = [t for t in await conn.run_sync(rls.tenant_tables) if t not in cross_tenant]
        rows = (
            await conn.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                    "(SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname "
                    " AND p.policyname = :p) AS policies "
                    "FROM pg_class c WHERE c.relname = ANY(:t) AND c.relkind = 'r'"
                ),
                {"p": rls.POLICY, "t": tables},
            )
        ).all()
    assert {"audit_entries", "audit_chain", "tenant_config_versions"} <= set(tables)
    assert all(r.relrowsecurity and r.relforcerowsecurity and r.policies == 1 for r in rows), rows


async def test_tenant_a_sees_no_row_of_tenant_b(clean_db: Database) -> None:
    a, b = await _two_tenants(clean_db)
    async with clean_db.read(tenant_id=a) as s:
        visible = (await s.execute(text("SELECT tenant_id FROM tenant_config_versions"))).all()
        asked_for_b = (
            await s.execute(
                text("SELECT count(*) FROM tenant_config_versions WHERE tenant_id = :b"), {"b": b}
            )
        ).scalar_one()
        audit_b = (
            await s.execute(
                text("SELECT count(*) FROM audit_entries WHERE tenant_id = :b"), {"b": b}
            )
        ).scalar_one()
    assert [r.tenant_id for r in visible] == [a]
    assert asked_for_b == 0
    assert audit_b == 0


async def test_update_of_tenant_b_rows_under_tenant_a_changes_nothing(
    clean_db: Database, owner_db: Database
) -> None:
    a, b = await _two_tenants(clean_db)
    async with clean_db.transaction(tenant_id=a) as uow:
        crafted = await uow.session.execute(
            text(
                "UPDATE tenant_config_versions SET source = 'hacked' "
                "WHERE tenant_id = :b OR source = 'b.yaml' OR tenant_id <> :a"
            ),
            {"a": a, "b": b},
        )
        deleted = await uow.session.execute(
            text("DELETE FROM tenant_config_versions WHERE tenant_id = :b"), {"b": b}
        )
    assert crafted.rowcount == 0
    assert deleted.rowcount == 0
    async with owner_db.engine.connect() as conn:
        sources = dict(
            (await conn.execute(text("SELECT tenant_id, source FROM tenant_config_versions"))).all()
        )
    assert sources == {a: "a.yaml", b: "b.yaml"}


async def test_writes_into_another_tenant_are_refused(clean_db: Database) -> None:
    a, b = await _two_tenants(clean_db)

    async def move_a_rows_to_b() -> None:
        async with clean_db.transaction(tenant_id=a) as uow:
            await uow.session.execute(
                text("UPDATE tenant_config_versions SET tenant_id = :b WHERE tenant_id = :a"),
                {"a": a, "b": b},
            )

    async def write_b_entry_under_a() -> None:
        async with clean_db.transaction(tenant_id=a) as uow:
            uow.tenant_id = b  # fool the application's own check: the database's holds
            await audit.record(uow, by=SYSTEM, action="x.y", object_type="x", object_id=None)

    with pytest.raises(DBAPIError, match="row-level security"):
        await move_a_rows_to_b()
    with pytest.raises(DBAPIError, match="row-level security"):
        await write_b_entry_under_a()


async def test_without_a_tenant_nothing_is_visible_even_on_a_reused_connection(
    clean_db: Database,
) -> None:
    a, _ = await _two_tenants(clean_db)
    count = text("SELECT count(*) FROM audit_entries")
    async with clean_db.engine.connect() as conn:  # one connection, as a pool reuses it
        async with conn.begin():
            await conn.execute(text("SELECT set_config('vaxport.tenant', :t, true)"), {"t": str(a)})
            assert (await conn.execute(count)).scalar_one() == 1
        async with conn.begin():  # the setting now reads back as '', not NULL
            assert (await conn.execute(count)).scalar_one() == 0


async def test_app_role_cannot_lift_row_level_security(clean_db: Database) -> None:
    for sql in (
        "ALTER TABLE tenant_config_versions DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE audit_entries DISABLE TRIGGER USER",
        "DROP POLICY vaxport_tenant_v1 ON audit_entries",
    ):
        with pytest.raises(DBAPIError, match="must be owner"):
            async with clean_db.transaction() as uow:
                await uow.session.execute(text(sql))


async def test_upgrade_secures_new_tables_and_is_idempotent(
    owner_db: Database, clean_db: Database
) -> None:
    async with owner_db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE rls_probe (id uuid PRIMARY KEY, tenant_id uuid)"))
    try:
        for _ in range(2):
            protected = await migrate.secure(owner_db, metadata=METADATA, app_role=APP_ROLE)
            assert "rls_probe" in protected
        a, b = new_id(), new_id()
        for t in (a, b):
            async with clean_db.transaction(tenant_id=t) as uow:  # granted to the app role
                await uow.session.execute(
                    text("INSERT INTO rls_probe VALUES (:i, :t)"), {"i": new_id(), "t": t}
                )
        async with clean_db.read(tenant_id=a) as s:
            rows = (await s.execute(text("SELECT tenant_id FROM rls_probe"))).scalars().all()
        assert rows == [a]
    finally:
        async with owner_db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE rls_probe"))


async def test_creating_the_app_role_is_safe_under_concurrency(owner_db: Database) -> None:
    role = f"vaxport_t_{uuid.uuid4().hex[:10]}"

    async def create() -> bool:
        async with owner_db.engine.begin() as conn:
            return await conn.run_sync(lambda c: rls.ensure_app_role(c, role=role))

    try:
        created = await asyncio.gather(*(create() for _ in range(4)))
        assert created.count(True) == 1
        async with owner_db.engine.connect() as conn:
            attrs = (
                await conn.execute(
                    text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"),
                    {"r": role},
                )
            ).one()
        assert tuple(attrs) == (False, False)
    finally:
        async with owner_db.engine.begin() as conn:
            await conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


async def test_an_app_role_that_could_bypass_rls_is_refused(owner_db: Database) -> None:
    role = f"vaxport_t_{uuid.uuid4().hex[:10]}"
    async with owner_db.engine.begin() as conn:
        await conn.execute(text(f'CREATE ROLE "{role}" LOGIN BYPASSRLS'))
    try:
        with pytest.raises(rls.InsecureRoleError, match="NOBYPASSRLS"):
            async with owner_db.engine.begin() as conn:
                await conn.run_sync(lambda c: rls.ensure_app_role(c, role=role))
    finally:
        async with owner_db.engine.begin() as conn:
            await conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
