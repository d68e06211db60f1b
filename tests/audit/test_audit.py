"""Audit log: entries in the act's transaction, the sealed hash chain, tamper detection."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.core.helpers import auditor, make_tenant, new_id, record_entries, tamper
from tests.support.cli import run_command
from vaxport.audit.service import list_entries
from vaxport.core import audit
from vaxport.core.audit import hashing
from vaxport.core.audit.chain import verify
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.core.errors import ValidationFailed
from vaxport.core.logging import request_id_var
from vaxport.core.principal import ANONYMOUS, SYSTEM, Principal


async def test_entry_is_written_with_the_act_and_holds_no_raw_ip(clean_db: Database) -> None:
    tenant = await make_tenant(clean_db)
    actor = new_id()
    token = request_id_var.set("req-123")
    try:
        async with clean_db.transaction(tenant_id=tenant.id) as uow:
            entry_id = await audit.record(
                uow,
                by=Principal(actor, "vaccinator", "staff"),
                action="dose.record",
                object_type="dose",
                object_id="0190a3b2-7c4e-7def-8123-456789abcdef",
                client_ip="203.0.113.7",
                details={"dose_number": 2, "vaccine": "mr"},
            )
    finally:
        request_id_var.reset(token)
    page = await list_entries(db=clean_db, actor=auditor(tenant))
    [entry] = page.items
    assert entry.id == entry_id
    assert (entry.actor_id, entry.action, entry.outcome) == (actor, "dose.record", "success")
    assert entry.actor_role == "vaccinator"
    assert entry.request_id == "req-123"
    assert entry.details == {"dose_number": 2, "vaccine": "mr"}
    assert entry.client_ip_hash is not None
    assert "203.0.113.7" not in entry.client_ip_hash
    assert entry.client_ip_hash == hashing.client_ip_hash("203.0.113.7", "")
    assert entry.chain_position is None  # written unsealed; the sealer links it


async def test_entry_vanishes_when_the_act_rolls_back(clean_db: Database) -> None:
    tenant = await make_tenant(clean_db)

    async def failing_act() -> None:
        async with clean_db.transaction(tenant_id=tenant.id) as uow:
            await audit.record(uow, by=SYSTEM, action="x.y", object_type="x", object_id=None)
            raise RuntimeError("the act failed")

    with pytest.raises(RuntimeError, match="act failed"):
        await failing_act()
    assert (await list_entries(db=clean_db, actor=auditor(tenant))).items == []


@pytest.mark.parametrize(
    ("details", "fragment"),
    [
        ({"email": "x"}, "personal"),
        ({"note": "call +254712345678"}, "personal"),
        ({"note": "mail a.b@example.org"}, "personal"),
        ({"ratio": 0.5}, "float"),
        ({"Bad Key": 1}, "keys"),
        ({"n": 2**60}, "range"),
        ({"blob": "x" * 300}, "short"),
    ],
)
async def test_record_refuses_personal_or_unsafe_details(
    clean_db: Database, details: dict[str, object], fragment: str
) -> None:
    tenant = await make_tenant(clean_db)
    with pytest.raises(ValueError, match=fragment):
        await record_entries(clean_db, tenant.id, details=details)
    assert (await list_entries(db=clean_db, actor=auditor(tenant))).items == []


async def test_record_refuses_malformed_slugs_outcome_role_and_unscoped_work(
    clean_db: Database,
) -> None:
    tenant = await make_tenant(clean_db)
    for bad in (
        {"action": "Dose Record"},
        {"outcome": "maybe"},
        {"object_id": "a@b.example"},
        {"by": Principal(None, "Not A Role", "system")},
    ):
        with pytest.raises(ValueError, match="audit"):
            await record_entries(clean_db, tenant.id, **bad)
    # The entry's tenant is the unit of work's: one without a tenant cannot audit.
    with pytest.raises(ValueError, match="scoped to a tenant"):
        async with clean_db.transaction(tenant_id=None) as uow:
            await audit.record(uow, by=SYSTEM, action="x.y", object_type="x", object_id=None)
    assert (await list_entries(db=clean_db, actor=auditor(tenant))).items == []


async def test_standalone_entry_commits_on_its_own_in_its_tenant(clean_db: Database) -> None:
    tenant, other = await make_tenant(clean_db), await make_tenant(clean_db)
    await audit.record_standalone(
        clean_db,
        tenant_id=tenant.id,
        by=ANONYMOUS,
        action="auth.login",
        object_type="account",
        object_id=None,
        outcome="failure",
    )
    [entry] = (await list_entries(db=clean_db, actor=auditor(tenant))).items
    assert (entry.actor_id, entry.actor_role, entry.outcome) == (None, "anonymous", "failure")
    assert (await list_entries(db=clean_db, actor=auditor(other))).items == []


async def test_list_filters_and_cursor_pagination(clean_db: Database) -> None:
    tenant, other = await make_tenant(clean_db), await make_tenant(clean_db)
    alice, bob, target = new_id(), new_id(), new_id()
    await record_entries(clean_db, tenant.id, n=3, actor_id=alice)
    await record_entries(clean_db, tenant.id, n=2, actor_id=bob, action="dose.void")
    await record_entries(clean_db, tenant.id, actor_id=bob, object_type="person", object_id=target)
    await record_entries(clean_db, other.id, n=2, actor_id=alice)
    midpoint = dt.datetime.now(dt.UTC)
    await record_entries(clean_db, tenant.id, actor_id=alice)

    async def ids(**kw: object) -> list[uuid.UUID]:
        page = await list_entries(db=clean_db, actor=auditor(tenant), limit=200, **kw)  # type: ignore[arg-type]
        return [e.id for e in page.items]

    assert len(await ids()) == 7
    assert len(await ids(actor_id=alice)) == 4
    assert len(await ids(action="dose.void")) == 2
    assert len(await ids(object_type="person", object_id=str(target))) == 1
    assert len(await ids(since=midpoint)) == 1
    assert len(await ids(until=midpoint)) == 6

    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        page = await list_entries(db=clean_db, actor=auditor(tenant), limit=3, cursor=cursor)
        seen += [e.id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == await ids()  # every entry once, newest first
    assert seen == sorted(seen, reverse=True)

    for bad in ({"cursor": "not-a-cursor"}, {"limit": 201}, {"limit": 0}):
        with pytest.raises(ValidationFailed):
            await list_entries(db=clean_db, actor=auditor(tenant), **bad)  # type: ignore[arg-type]


async def test_audit_route_requires_authentication(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/xx/audit")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


async def test_cli_verify_names_the_first_broken_entry(
    clean_db: Database, owner_db: Database, app_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def _cli(*args: str) -> tuple[int, str]:
        return await run_command(monkeypatch, *args, VAXPORT_DATABASE_URL=app_database_url)

    tenant = await make_tenant(clean_db)
    ids = [i for _ in range(3) for i in await record_entries(clean_db, tenant.id)]
    code, out = await _cli("audit", "seal", "--tenant", tenant.code)
    assert (code, "sealed 3 entries") == (0, out.strip().splitlines()[-1])
    code, out = await _cli("audit", "verify", "--tenant", tenant.code)
    assert code == 0
    assert "ok: 3 sealed" in out
    await tamper(
        owner_db,
        "audit_entries",
        update(AuditEntry).where(AuditEntry.id == ids[1]).values(object_type="forged"),
    )
    code, out = await _cli("audit", "verify", "--tenant", tenant.code)
    assert code == 1
    assert f"position 2, entry {ids[1]}" in out
    code, _ = await _cli("audit", "verify", "--tenant", "nope")
    assert code == 2


async def test_the_worker_sealer_loop_seals_every_tenant_until_stopped(
    clean_db: Database,
) -> None:
    from vaxport.audit.runner import run_sealer

    tenants = [await make_tenant(clean_db), await make_tenant(clean_db)]
    for t in tenants:
        await record_entries(clean_db, t.id, n=2)
    stop = asyncio.Event()
    loop = asyncio.create_task(run_sealer(db=clean_db, stop=stop, interval_seconds=0.01))
    try:
        for t in tenants:
            while (await verify(db=clean_db, tenant_id=t.id)).sealed < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # the loop has no event to await: poll the data
    finally:
        stop.set()
        await asyncio.wait_for(loop, timeout=30)
    assert loop.done()
    for t in tenants:
        result = await verify(db=clean_db, tenant_id=t.id)
        assert (result.ok, result.sealed, result.unsealed) == (True, 2, 0)


def test_audit_route_declares_the_audit_read_permission(settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.routing import APIRoute

    from vaxport.app import create_app
    from vaxport.core.http.dependencies import route_permission

    def walk(routes: list[Any]) -> list[Any]:
        # FastAPI >= 0.160 nests included routers instead of copying their routes.
        out = []
        for r in routes:
            inner = getattr(r, "original_router", None)
            out += walk(inner.routes) if inner is not None else [r]
        return out

    app = create_app(settings)
    [route] = [r for r in walk(app.routes) if isinstance(r, APIRoute) and r.path.endswith("/audit")]
    assert route.path == "/api/v1/{tenant}/audit"
    assert route_permission(route) == ("audit:read", False)
