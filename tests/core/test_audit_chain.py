"""Audit chain: sealing in commit order, concurrency, and detection of every kind of tampering."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from tests.conftest import requires_postgres
from tests.core.helpers import auditor, make_tenant, new_id, record_entries, tamper
from vaxport.audit.service import list_entries
from vaxport.core import audit
from vaxport.core.audit import hashing
from vaxport.core.audit.chain import seal, verify
from vaxport.core.audit.models import AuditChainLink, AuditEntry
from vaxport.core.db import Database
from vaxport.core.principal import SYSTEM


async def test_sealing_links_entries_in_order_and_verify_accepts_the_chain(
    clean_db: Database,
) -> None:
    tenant, other = await make_tenant(clean_db), await make_tenant(clean_db)
    first = await record_entries(clean_db, tenant.id, n=3)  # one transaction, three entries
    await record_entries(clean_db, other.id, n=2)
    second = await record_entries(clean_db, tenant.id, n=2)
    assert await seal(db=clean_db, tenant_id=tenant.id, batch_size=2) == 5  # 3 batches
    assert await seal(db=clean_db, tenant_id=tenant.id) == 0
    third = await record_entries(clean_db, tenant.id)

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
    page = await list_entries(db=clean_db, actor=auditor(tenant), limit=1)
    assert page.items[0].id == third[0]
    assert page.items[0].chain_position == 6
    # The other tenant's chain is its own.
    assert await seal(db=clean_db, tenant_id=other.id) == 2
    assert (await verify(db=clean_db, tenant_id=other.id)).sealed == 2


async def _sealed_chain(db: Database, n: int = 5) -> tuple[uuid.UUID, list[uuid.UUID]]:
    tenant = await make_tenant(db)
    ids = [i for _ in range(n) for i in await record_entries(db, tenant.id)]
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
    [late] = await record_entries(clean_db, tenant_id)
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
    written = await asyncio.gather(
        *(record_entries(clean_db, tenant.id, n=2) for _ in range(writers))
    )
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
                uow, by=SYSTEM, action="slow.write", object_type="x", object_id=None
            )
            a_wrote.set()
            await a_may_commit.wait()
        return [entry]

    task = asyncio.create_task(slow_writer())
    await a_wrote.wait()
    b = await record_entries(clean_db, tenant.id)
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
