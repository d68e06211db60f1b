"""Audit log: entries in the act's transaction, the sealed hash chain, tamper detection."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from tests.conftest import ROOT, requires_postgres
from tests.core.helpers import make_tenant, new_id, tamper
from vaxport.core import audit
from vaxport.core.audit import hashing
from vaxport.core.audit.chain import seal, verify
from vaxport.core.audit.models import AuditChainLink, AuditEntry
from vaxport.core.audit.service import list_entries
from vaxport.core.db import Database
from vaxport.core.errors import ValidationFailed
from vaxport.core.logging import request_id_var


async def _record(db: Database, tenant_id: uuid.UUID, n: int = 1, **kw: object) -> list[uuid.UUID]:
    ids = []
    async with db.transaction(tenant_id=tenant_id) as uow:
        for _ in range(n):
            args: dict[str, object] = {
                "actor_id": new_id(),
                "actor_role": "vaccinator",
                "action": "dose.record",
                "object_type": "dose",
                "object_id": new_id(),
                "tenant_id": tenant_id,
            }
            args.update(kw)
            ids.append(await audit.record(uow, **args))  # type: ignore[arg-type]
    return ids


async def test_entry_is_written_with_the_act_and_holds_no_raw_ip(clean_db: Database) -> None:
    tenant = await make_tenant(clean_db)
    actor = new_id()
    token = request_id_var.set("req-123")
    try:
        async with clean_db.transaction(tenant_id=tenant.id) as uow:
            entry_id = await audit.record(
                uow,
                actor_id=actor,
                actor_role="vaccinator",
                action="dose.record",
                object_type="dose",
                object_id="0190a3b2-7c4e-7def-8123-456789abcdef",
                tenant_id=tenant.id,
                client_ip="203.0.113.7",
                details={"dose_number": 2, "vaccine": "mr"},
            )
    finally:
        request_id_var.reset(token)
    page = await list_entries(db=clean_db, tenant_id=tenant.id)
    [entry] = page.items
    assert entry.id == entry_id
    assert (entry.actor_id, entry.action, entry.outcome) == (actor, "dose.record", "success")
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
            await audit.record(
                uow,
                actor_id=None,
                actor_role="system",
                action="x.y",
                object_type="x",
                object_id=None,
                tenant_id=tenant.id,
            )
            raise RuntimeError("the act failed")

    with pytest.raises(RuntimeError, match="act failed"):
        await failing_act()
    assert (await list_entries(db=clean_db, tenant_id=tenant.id)).items == []


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
        await _record(clean_db, tenant.id, details=details)
    assert (await list_entries(db=clean_db, tenant_id=tenant.id)).items == []


async def test_record_refuses_malformed_slugs_outcome_and_foreign_tenant(
    clean_db: Database,
) -> None:
    tenant, other = await make_tenant(clean_db), await make_tenant(clean_db)
    for bad in ({"action": "Dose Record"}, {"outcome": "maybe"}, {"object_id": "a@b.example"}):
        with pytest.raises(ValueError, match="audit"):
            await _record(clean_db, tenant.id, **bad)
    for scope in (other.id, None):
        with pytest.raises(ValueError, match="scoped to its own tenant"):
            async with clean_db.transaction(tenant_id=scope) as uow:
                await audit.record(
                    uow,
                    actor_id=None,
                    actor_role="system",
                    action="x.y",
                    object_type="x",
                    object_id=None,
                    tenant_id=tenant.id,
                )


async def test_sealing_links_entries_in_order_and_verify_accepts_the_chain(
    clean_db: Database,
) -> None:
    tenant, other = await make_tenant(clean_db), await make_tenant(clean_db)
    first = await _record(clean_db, tenant.id, n=3)  # one transaction, three entries
    await _record(clean_db, other.id, n=2)
    second = await _record(clean_db, tenant.id, n=2)
    assert await seal(db=clean_db, tenant_id=tenant.id, batch_size=2) == 5  # 3 batches
    assert await seal(db=clean_db, tenant_id=tenant.id) == 0
    third = await _record(clean_db, tenant.id)

    result = await verify(db=clean_db, tenant_id=tenant.id)
    assert result.ok, result.broken
    assert (result.sealed, result.unsealed) == (5, 1)

    async with clean_db.read(tenant_id=tenant.id) as s:
        links = (
            await s.execute(
                select(AuditChainLink.position, AuditChainLink.entry_id)
                .where(AuditChainLink.tenant_id == tenant.id)
                .order_by(AuditChainLink.position)
            )
        ).all()
    assert [p for p, _ in links] == [1, 2, 3, 4, 5]
    assert [e for _, e in links] == first + second  # commit order, then id order

    assert await seal(db=clean_db, tenant_id=tenant.id) == 1
    result = await verify(db=clean_db, tenant_id=tenant.id)
    assert result.ok
    assert (result.sealed, result.unsealed) == (6, 0)
    page = await list_entries(db=clean_db, tenant_id=tenant.id, limit=1)
    assert page.items[0].id == third[0]
    assert page.items[0].chain_position == 6
    # The other tenant's chain is its own.
    assert await seal(db=clean_db, tenant_id=other.id) == 2
    assert (await verify(db=clean_db, tenant_id=other.id)).sealed == 2


async def _sealed_chain(db: Database, n: int = 5) -> tuple[uuid.UUID, list[uuid.UUID]]:
    tenant = await make_tenant(db)
    ids = [i for _ in range(n) for i in await _record(db, tenant.id)]
    assert await seal(db=db, tenant_id=tenant.id) == n
    assert (await verify(db=db, tenant_id=tenant.id)).ok
    return tenant.id, ids


async def test_editing_a_sealed_entry_is_detected_at_that_entry(
    clean_db: Database, owner_db: Database
) -> None:
    tenant_id, ids = await _sealed_chain(clean_db)
    changed = await tamper(
        owner_db,
        "audit_entries",
        update(AuditEntry).where(AuditEntry.id == ids[2]).values(action="dose.forged"),
    )
    assert changed == 1
    result = await verify(db=clean_db, tenant_id=tenant_id)
    assert result.broken is not None
    assert (result.broken.position, result.broken.entry_id) == (3, ids[2])
    assert result.broken.reason == "entry content altered"


async def test_rehashing_an_edited_entry_is_still_detected(
    clean_db: Database, owner_db: Database
) -> None:
    tenant_id, ids = await _sealed_chain(clean_db)
    await tamper(
        owner_db,
        "audit_entries",
        update(AuditEntry).where(AuditEntry.id == ids[1]).values(entry_hash="f" * 64),
    )
    result = await verify(db=clean_db, tenant_id=tenant_id)
    assert result.broken is not None
    assert result.broken.entry_id == ids[1]


async def test_deleting_a_sealed_entry_is_detected_at_that_entry(
    clean_db: Database, owner_db: Database
) -> None:
    tenant_id, ids = await _sealed_chain(clean_db)
    await tamper(owner_db, "audit_entries", delete(AuditEntry).where(AuditEntry.id == ids[3]))
    result = await verify(db=clean_db, tenant_id=tenant_id)
    assert result.broken is not None
    assert (result.broken.position, result.broken.entry_id) == (4, ids[3])
    assert result.broken.reason == "entry deleted"


async def test_deleting_an_entry_and_its_link_leaves_a_gap_that_is_detected(
    clean_db: Database, owner_db: Database
) -> None:
    tenant_id, ids = await _sealed_chain(clean_db)
    await tamper(owner_db, "audit_entries", delete(AuditEntry).where(AuditEntry.id == ids[1]))
    await tamper(
        owner_db, "audit_chain", delete(AuditChainLink).where(AuditChainLink.entry_id == ids[1])
    )
    result = await verify(db=clean_db, tenant_id=tenant_id)
    assert result.broken is not None
    assert result.broken.position == 2


async def test_a_rewritten_chain_tail_is_caught_by_the_anchor(
    clean_db: Database, owner_db: Database
) -> None:
    tenant_id, ids = await _sealed_chain(clean_db, n=3)
    head = await verify(db=clean_db, tenant_id=tenant_id)
    # Truncation of the last entry and its link: the chain itself still verifies...
    await tamper(owner_db, "audit_entries", delete(AuditEntry).where(AuditEntry.id == ids[2]))
    await tamper(
        owner_db, "audit_chain", delete(AuditChainLink).where(AuditChainLink.entry_id == ids[2])
    )
    assert (await verify(db=clean_db, tenant_id=tenant_id)).ok
    # ...but not against the head recorded outside the database before.
    anchored = await verify(
        db=clean_db, tenant_id=tenant_id, anchor=(head.head_position, head.head_hash)
    )
    assert anchored.broken is not None
    assert anchored.broken.position == 3


async def test_tampered_unsealed_entry_is_detected_and_never_sealed(
    clean_db: Database, owner_db: Database
) -> None:
    tenant_id, _ = await _sealed_chain(clean_db, n=2)
    [late] = await _record(clean_db, tenant_id)
    await tamper(
        owner_db,
        "audit_entries",
        update(AuditEntry).where(AuditEntry.id == late).values(outcome="denied"),
    )
    result = await verify(db=clean_db, tenant_id=tenant_id)
    assert result.broken is not None
    assert (result.broken.entry_id, result.broken.reason) == (
        late,
        "unsealed entry content altered",
    )
    assert await seal(db=clean_db, tenant_id=tenant_id) == 0  # refuses to bless it


async def test_entry_smuggled_in_behind_the_seal_horizon_is_detected(
    clean_db: Database, owner_db: Database
) -> None:
    tenant_id, _ = await _sealed_chain(clean_db, n=2)
    forged = new_id()
    content = {
        "format": 1,
        "id": forged,
        "tenant_id": tenant_id,
        "occurred_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        "actor_id": None,
        "actor_role": "system",
        "action": "dose.record",
        "object_type": "dose",
        "object_id": None,
        "outcome": "success",
        "request_id": None,
        "client_ip_hash": None,
        "details": {},
    }
    async with owner_db.engine.begin() as conn:
        await conn.execute(
            insert(AuditEntry).values(
                **content, entry_hash=hashing.entry_hash(**content), txn_seq=0
            )
        )
    result = await verify(db=clean_db, tenant_id=tenant_id)
    assert result.broken is not None
    assert result.broken.entry_id == forged
    assert "never sealed" in result.broken.reason


async def test_audit_rows_refuse_update_and_delete_even_from_the_owner(
    clean_db: Database, owner_db: Database
) -> None:
    tenant_id, ids = await _sealed_chain(clean_db, n=1)
    for db in {id(clean_db): clean_db, id(owner_db): owner_db}.values():
        for stmt in (
            update(AuditEntry).where(AuditEntry.id == ids[0]).values(action="x.y"),
            delete(AuditEntry).where(AuditEntry.id == ids[0]),
            update(AuditChainLink).values(prev_hash="0" * 64),
            delete(AuditChainLink),
        ):
            with pytest.raises(DBAPIError, match=r"append-only|permission denied"):
                async with db.transaction(tenant_id=tenant_id) as uow:
                    await uow.session.execute(stmt)
    assert (await verify(db=clean_db, tenant_id=tenant_id)).ok


@requires_postgres
async def test_app_role_is_refused_update_and_delete_by_privilege(clean_db: Database) -> None:
    tenant_id, _ = await _sealed_chain(clean_db, n=1)
    for sql in (
        "UPDATE audit_entries SET action = 'x.y'",
        "DELETE FROM audit_entries",
        "DELETE FROM audit_chain",
        "TRUNCATE audit_entries",
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with clean_db.transaction(tenant_id=tenant_id) as uow:
                await uow.session.execute(text(sql))


async def test_concurrent_writers_and_sealers_build_one_gapless_chain(
    clean_db: Database,
) -> None:
    tenant = await make_tenant(clean_db)
    writers = 12 if clean_db.is_postgres else 6
    stop = asyncio.Event()

    async def sealer() -> None:
        while not stop.is_set():
            await seal(db=clean_db, tenant_id=tenant.id, batch_size=3)
            await asyncio.sleep(0)

    sealers = [asyncio.create_task(sealer()) for _ in range(2)]
    written = await asyncio.gather(*(_record(clean_db, tenant.id, n=2) for _ in range(writers)))
    stop.set()
    await asyncio.gather(*sealers)
    await seal(db=clean_db, tenant_id=tenant.id)
    result = await verify(db=clean_db, tenant_id=tenant.id)
    assert result.ok, result.broken
    assert (result.sealed, result.unsealed) == (2 * writers, 0)
    async with clean_db.read(tenant_id=tenant.id) as s:
        sealed_ids = set((await s.scalars(select(AuditChainLink.entry_id))).all())
    assert sealed_ids == {i for batch in written for i in batch}


@requires_postgres
async def test_an_entry_committed_after_later_ones_were_sealed_is_not_skipped(
    clean_db: Database,
) -> None:
    # Transaction A writes first but commits last; B's entry is sealed in between. The
    # sealer must still pick A's entry up (its txn id is below B's).
    tenant = await make_tenant(clean_db)
    a_wrote, a_may_commit = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> list[uuid.UUID]:
        async with clean_db.transaction(tenant_id=tenant.id) as uow:
            entry = await audit.record(
                uow,
                actor_id=None,
                actor_role="system",
                action="slow.write",
                object_type="x",
                object_id=None,
                tenant_id=tenant.id,
            )
            a_wrote.set()
            await a_may_commit.wait()
        return [entry]

    task = asyncio.create_task(slow_writer())
    await a_wrote.wait()
    b = await _record(clean_db, tenant.id)
    assert await seal(db=clean_db, tenant_id=tenant.id) == 1  # B only: A is invisible yet
    a_may_commit.set()
    a = await task
    assert await seal(db=clean_db, tenant_id=tenant.id) == 1
    async with clean_db.read(tenant_id=tenant.id) as s:
        order = (
            await s.scalars(select(AuditChainLink.entry_id).order_by(AuditChainLink.position))
        ).all()
    assert list(order) == b + a
    assert (await verify(db=clean_db, tenant_id=tenant.id)).ok


async def test_list_filters_and_cursor_pagination(clean_db: Database) -> None:
    tenant, other = await make_tenant(clean_db), await make_tenant(clean_db)
    alice, bob, target = new_id(), new_id(), new_id()
    await _record(clean_db, tenant.id, n=3, actor_id=alice)
    await _record(clean_db, tenant.id, n=2, actor_id=bob, action="dose.void")
    await _record(clean_db, tenant.id, actor_id=bob, object_type="person", object_id=target)
    await _record(clean_db, other.id, n=2, actor_id=alice)
    midpoint = dt.datetime.now(dt.UTC)
    await _record(clean_db, tenant.id, actor_id=alice)

    async def ids(**kw: object) -> list[uuid.UUID]:
        page = await list_entries(db=clean_db, tenant_id=tenant.id, limit=200, **kw)  # type: ignore[arg-type]
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
        page = await list_entries(db=clean_db, tenant_id=tenant.id, limit=3, cursor=cursor)
        seen += [e.id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == await ids()  # every entry once, newest first
    assert seen == sorted(seen, reverse=True)

    for bad in ({"cursor": "not-a-cursor"}, {"limit": 201}, {"limit": 0}):
        with pytest.raises(ValidationFailed):
            await list_entries(db=clean_db, tenant_id=tenant.id, **bad)  # type: ignore[arg-type]


async def test_audit_route_requires_authentication(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/xx/audit")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


async def _cli(database_url: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "VAXPORT_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT / "src")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from vaxport.cli import main; main()",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_cli_verify_names_the_first_broken_entry(
    clean_db: Database, owner_db: Database, app_database_url: str
) -> None:
    tenant = await make_tenant(clean_db)
    ids = [i for _ in range(3) for i in await _record(clean_db, tenant.id)]
    code, out = await _cli(app_database_url, "audit", "seal", "--tenant", tenant.code)
    assert (code, "sealed 3 entries") == (0, out.strip().splitlines()[-1])
    code, out = await _cli(app_database_url, "audit", "verify", "--tenant", tenant.code)
    assert code == 0
    assert "ok: 3 sealed" in out
    await tamper(
        owner_db,
        "audit_entries",
        update(AuditEntry).where(AuditEntry.id == ids[1]).values(object_type="forged"),
    )
    code, out = await _cli(app_database_url, "audit", "verify", "--tenant", tenant.code)
    assert code == 1
    assert f"position 2, entry {ids[1]}" in out
    code, _ = await _cli(app_database_url, "audit", "verify", "--tenant", "nope")
    assert code == 2


async def test_the_worker_sealer_loop_seals_every_tenant_until_stopped(
    clean_db: Database,
) -> None:
    from vaxport.core.audit.runner import run_sealer

    tenants = [await make_tenant(clean_db), await make_tenant(clean_db)]
    for t in tenants:
        await _record(clean_db, t.id, n=2)
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
    from vaxport.core.http import route_permission

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
