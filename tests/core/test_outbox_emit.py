"""emit(): events exist exactly when the use case's transaction commits; dedup keys."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.core.outbox_support import count, get_event
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.outbox import PENDING, OutboxEvent, emit
from vaxport.tenancy.models import Tenant


async def test_emit_in_committed_transaction_writes_a_pending_event(clean_db: Database) -> None:
    tenant = uuid.uuid4()
    dose = uuid.uuid4()
    async with clean_db.transaction(tenant_id=tenant) as uow:
        event_id = await emit(uow, "immunization.dose_recorded", {"dose_id": dose})
    row = await get_event(clean_db, event_id)
    assert row.state == PENDING
    assert row.tenant_id == tenant  # taken from the unit of work
    assert row.payload == {"dose_id": str(dose)}  # what the handler will read back
    assert row.attempts == 0
    assert row.available_at <= utcnow()
    assert row.dedup_key is None


async def test_emit_inside_rolled_back_transaction_leaves_no_event(clean_db: Database) -> None:
    async def use_case() -> None:
        async with clean_db.transaction() as uow:
            await emit(uow, "test.thing", {"n": 1})
            await emit(uow, "test.thing", {"n": 2}, dedup_key="rolled-back")
            await uow.session.flush()
            raise RuntimeError("use case failed")

    with pytest.raises(RuntimeError):
        await use_case()
    assert await count(clean_db, OutboxEvent) == 0


async def test_event_rolls_back_with_the_use_case_rows(clean_db: Database) -> None:
    # A constraint violation in the use case's own rows takes its event with it.
    async with clean_db.transaction() as uow:
        uow.session.add(Tenant(code="xx", name="X", config={}, config_hash="h"))

    async def use_case() -> None:
        async with clean_db.transaction() as uow:
            await emit(uow, "tenancy.tenant_created", {"code": "xx"})
            uow.session.add(Tenant(code="xx", name="X again", config={}, config_hash="h"))

    with pytest.raises(IntegrityError):
        await use_case()
    assert await count(clean_db, OutboxEvent) == 0


async def test_explicit_tenant_and_schedule_are_kept(clean_db: Database) -> None:
    tenant = uuid.uuid4()
    later = utcnow() + dt.timedelta(days=2)
    async with clean_db.transaction() as uow:
        event_id = await emit(uow, "test.reminder", {}, tenant_id=tenant, available_at=later)
    row = await get_event(clean_db, event_id)
    assert row.tenant_id == tenant
    assert abs((row.available_at - later).total_seconds()) < 0.001


async def test_second_emit_with_same_dedup_key_returns_the_first_id(clean_db: Database) -> None:
    async with clean_db.transaction() as uow:
        first = await emit(uow, "test.once", {"n": 1}, dedup_key="cert:42")
        again = await emit(uow, "test.once", {"n": 2}, dedup_key="cert:42")
    async with clean_db.transaction() as uow:
        later = await emit(uow, "test.once", {"n": 3}, dedup_key="cert:42")
    assert first == again == later
    assert await count(clean_db, OutboxEvent) == 1
    assert (await get_event(clean_db, first)).payload == {"n": 1}


async def test_concurrent_emits_with_same_dedup_key_make_one_event(clean_db: Database) -> None:
    async def use_case(n: int) -> uuid.UUID:
        async with clean_db.transaction() as uow:
            event_id = await emit(uow, "test.once", {"n": n}, dedup_key="race")
            await asyncio.sleep(0.02)  # keep the transactions open together
            return event_id

    ids = await asyncio.gather(*(use_case(n) for n in range(10)))
    assert len(set(ids)) == 1
    async with clean_db.read() as session:
        rows = (await session.execute(select(OutboxEvent.id))).scalars().all()
    assert rows == [ids[0]]


async def test_dedup_key_freed_by_a_rolled_back_emit(clean_db: Database) -> None:
    async def use_case() -> None:
        async with clean_db.transaction() as uow:
            await emit(uow, "test.once", {}, dedup_key="retry-me")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await use_case()
    async with clean_db.transaction() as uow:
        event_id = await emit(uow, "test.once", {}, dedup_key="retry-me")
    assert (await get_event(clean_db, event_id)).dedup_key == "retry-me"


class _NotJson:
    pass


@pytest.mark.parametrize(
    ("event_type", "payload", "kwargs", "error"),
    [
        ("test.x", {"row": _NotJson()}, {}, TypeError),
        ("test.x", ["not", "a", "dict"], {}, TypeError),
        ("test.x", {"blob": "x" * 20_000}, {}, ValueError),
        ("Bad Type", {}, {}, ValueError),
        ("", {}, {}, ValueError),
        ("test.x", {}, {"available_at": dt.datetime(2030, 1, 1)}, ValueError),
        ("test.x", {}, {"dedup_key": ""}, ValueError),
    ],
)
async def test_emit_refuses_what_a_handler_could_not_use(
    clean_db: Database, event_type: str, payload: object, kwargs: dict[str, object], error: type
) -> None:
    async def use_case() -> None:
        async with clean_db.transaction() as uow:
            await emit(uow, event_type, payload, **kwargs)  # type: ignore[arg-type]

    with pytest.raises(error):
        await use_case()
    assert await count(clean_db, OutboxEvent) == 0
