"""Revision 0005 (audit log) upgrades and downgrades cleanly on a fresh database."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.db import Database


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def _guards(db: Database) -> int:
    sql = (
        "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'audit_%') "
        "+ (SELECT count(*) FROM pg_proc WHERE proname = 'vaxport_append_only')"
        if db.is_postgres
        else "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
    )
    async with db.engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def test_audit_revision_upgrades_and_downgrades(empty_db: Database) -> None:
    await migrate.upgrade(empty_db, "0005", metadata=METADATA)
    assert {"audit_entries", "audit_chain"} <= await _tables(empty_db)
    assert await _guards(empty_db) == (3 if empty_db.is_postgres else 4)  # + the function

    await migrate.downgrade(empty_db, "0001")
    assert await migrate.current(empty_db) == "0001"
    assert not {"audit_entries", "audit_chain"} & await _tables(empty_db)
    assert await _guards(empty_db) == 0

    await migrate.upgrade(empty_db, "0005", metadata=METADATA)
    assert await migrate.current(empty_db) == "0005"


def test_migration_plan_separates_owner_and_app_roles() -> None:
    from vaxport.settings import Settings

    app_url = "postgresql+asyncpg://vaxport_app:pw@db/vaxport"
    owner_url = "postgresql+asyncpg://vaxport_owner:opw@db/vaxport"
    plan = migrate.migration_plan(
        Settings(database_url=app_url, database_migration_url=owner_url)  # type: ignore[arg-type]
    )
    assert (plan.owner_url, plan.app_role, plan.app_password, plan.problem) == (
        owner_url,
        "vaxport_app",
        "pw",
        None,
    )
    named = migrate.migration_plan(
        Settings(
            database_url=app_url,
            database_migration_url=owner_url,
            database_app_role="app2",  # type: ignore[arg-type]
        )
    )
    assert named.app_role == "app2"
    same = migrate.migration_plan(Settings(database_url=app_url))
    assert same.app_role is None
    assert same.problem is not None
    assert "same database role" in same.problem
    sqlite = migrate.migration_plan(Settings(database_url="sqlite+aiosqlite:///x.db"))
    assert (sqlite.app_role, sqlite.problem) == (None, None)


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    import asyncio
    import os
    import sys

    from tests.conftest import ROOT

    full = {**os.environ, **env, "PYTHONPATH": str(ROOT / "src")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from vaxport.cli import main; main()",
        *args,
        env=full,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_db_upgrade_refuses_one_role_for_both_in_production(empty_db: Database) -> None:
    if not empty_db.is_postgres:
        pytest.skip("the owner/app split exists only on PostgreSQL")
    env = {"VAXPORT_ENV": "production", "VAXPORT_DATABASE_URL": empty_db.url}
    code, out = await _cli(env, "db", "upgrade")
    assert code == 2
    assert "same database role" in out
    assert await migrate.current(empty_db) is None  # nothing ran


async def test_db_upgrade_migrates_as_owner_and_secures_the_app_role(
    empty_db: Database,
) -> None:
    if not empty_db.is_postgres:
        pytest.skip("the owner/app split exists only on PostgreSQL")
    from sqlalchemy.engine import make_url

    from tests.conftest import APP_ROLE

    app_url = make_url(empty_db.url).set(username=APP_ROLE).render_as_string(False)
    env = {"VAXPORT_DATABASE_URL": app_url, "VAXPORT_DATABASE_MIGRATION_URL": empty_db.url}
    code, out = await _cli(env, "db", "upgrade")
    assert code == 0, out
    async with empty_db.engine.connect() as conn:
        owners = set(
            (
                await conn.execute(
                    text(
                        "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                        "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
                    )
                )
            ).scalars()
        )
        may = (
            await conn.execute(
                text(
                    "SELECT has_table_privilege(:r, 'audit_entries', 'INSERT'), "
                    "has_table_privilege(:r, 'audit_entries', 'UPDATE'), "
                    "has_table_privilege(:r, 'tenant_config_versions', 'UPDATE')"
                ),
                {"r": APP_ROLE},
            )
        ).one()
    assert APP_ROLE not in owners
    assert tuple(may) == (True, False, True)
    code, out = await _cli(env, "db", "upgrade")  # a second release: nothing to do, no error
    assert code == 0, out
