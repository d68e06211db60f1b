"""Migration 0008 up and down; the ``vaxport user`` and ``keys rotate-signing`` commands."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from tests.conftest import PG_URL
from tests.identity.helpers import PASSWORD
from tests.support.cli import run_command
from tests.support.parts import METADATA
from vaxport.core import clock, migrate
from vaxport.core.db import Database
from vaxport.identity.demo import create_demo_staff
from vaxport.identity.login import totp
from vaxport.tenancy.schemas import TenantInfo

TABLES = {
    "accounts",
    "auth_sessions",
    "refresh_tokens",
    "recovery_codes",
    "login_throttles",
    "signing_keys",
}


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_0008_upgrades_and_downgrades(empty_db: Database) -> None:
    await migrate.upgrade(empty_db, "0008", metadata=METADATA)
    assert await _tables(empty_db) >= TABLES
    await migrate.downgrade(empty_db, "-1")
    tables = await _tables(empty_db)
    assert not tables & TABLES
    assert "data_keys" in tables  # the revision below is untouched
    await migrate.upgrade(empty_db, "head", metadata=METADATA)
    assert await _tables(empty_db) >= TABLES


@pytest.mark.skipif(not PG_URL, reason="row-level security exists only on PostgreSQL")
async def test_identity_tables_are_under_row_level_security(owner_db: Database) -> None:
    from sqlalchemy import text

    async with owner_db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relname = ANY(:t)"
                ),
                {"t": sorted(TABLES)},
            )
        ).all()
    secured = {r.relname for r in rows if r.relrowsecurity and r.relforcerowsecurity}
    # signing_keys belong to the installation (no tenant_id); everything else is walled.
    assert secured == TABLES - {"signing_keys"}


async def _cli(
    monkeypatch: pytest.MonkeyPatch, database_url: str, key_file: Path, *args: str
) -> tuple[int, str]:
    return await run_command(
        monkeypatch,
        *args,
        VAXPORT_DATABASE_URL=database_url,
        VAXPORT_KEY_FILE=str(key_file),
        VAXPORT_ENV="test",
    )


async def test_user_create_prints_a_working_activation_link(
    client: httpx.AsyncClient,
    tenant: TenantInfo,
    app_database_url: str,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out = await _cli(
        monkeypatch, app_database_url, key_file,
        "user", "create", "--tenant", tenant.code, "--username", "ops.lead",
        "--role", "national_admin",
    )  # fmt: skip
    assert code == 0, out
    link = out.strip().splitlines()[-1]
    assert link.startswith(f"http://127.0.0.1:8000/{tenant.code}/staff/activate?token=vxi_")
    token = link.split("token=")[1]
    r = await client.post(
        f"/api/v1/{tenant.code}/auth/activate", json={"token": token, "password": PASSWORD}
    )
    assert r.json()["status"] == "enrolment_required"

    code, out = await _cli(
        monkeypatch, app_database_url, key_file,
        "user", "create", "--tenant", tenant.code, "--username", "x", "--role", "region_admin",
    )  # fmt: skip
    assert code == 1
    assert "username" in out
    assert "Traceback" not in out


async def test_rotate_signing_command_keeps_the_old_key_published(
    client: httpx.AsyncClient,
    tenant: TenantInfo,
    app_database_url: str,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    code, out = await _cli(monkeypatch, app_database_url, key_file, "keys", "rotate-signing")
    assert code == 0, out
    assert "is active" in out
    from vaxport.identity.credentials import signing

    signing.forget(client._transport.app.state.ctx.db)  # type: ignore[attr-defined]
    after = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert before < after
    assert len(after) == 2


async def test_demo_staff_can_log_in_with_what_the_demo_prints(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo
) -> None:
    logins = await create_demo_staff(clean_db, tenant.code)
    assert [d.role for d in logins] == ["national_admin", "vaccinator"]
    for demo in logins:
        assert demo.totp_uri.startswith("otpauth://totp/")
        r = await client.post(
            f"/api/v1/{tenant.code}/auth/login",
            json={"username": demo.username, "password": demo.password},
        )
        assert r.json()["status"] == "totp_required"
        r = await client.post(
            f"/api/v1/{tenant.code}/auth/second-factor",
            json={
                "ticket": r.json()["ticket"],
                "code": totp.code_at(demo.totp_secret, clock.utcnow()),
            },
        )
        assert r.status_code == 200, r.text
    # Running the demo again refreshes the same accounts with new secrets.
    again = await create_demo_staff(clean_db, tenant.code)
    assert [d.username for d in again] == [d.username for d in logins]
    assert again[0].password != logins[0].password
