"""write_batch's guards: conditional UPDATEs beside its query that the rows written
``if_found`` also depend on, each answered as a flag on the query's rows."""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest
from sqlalchemy import Integer, Table, Uuid, bindparam, func, select, update

from vaxport.core.db import Database, Rows, write_batch
from vaxport.core.outbox import OutboxEvent, emit, event_row

OUTBOX = cast(Table, OutboxEvent.__table__)


def _bump(name: str, *, at: bool = False) -> Any:
    """attempts + 1 on the event ``name`` (only at ``name_at`` attempts when ``at``)."""
    o = OutboxEvent
    where = [o.id == bindparam(name, None, type_=Uuid())]
    if at:
        where.append(o.attempts == bindparam(f"{name}_at", None, type_=Integer()))
    return update(o).where(*where).values(attempts=o.attempts + 1).returning(o.id)


async def _count(db: Database, event_type: str) -> int:
    query = select(func.count()).where(OutboxEvent.event_type == event_type)
    async with db.read() as s:
        return int(await s.scalar(query) or 0)


@pytest.mark.parametrize(("attempts", "hits"), [(0, True), (5, False)], ids=["hit", "miss"])
async def test_rows_are_written_only_when_the_query_and_every_guard_find_a_row(
    clean_db: Database, attempts: int, hits: bool
) -> None:
    tenant = uuid.uuid4()
    async with clean_db.transaction(tenant_id=tenant) as uow:
        first = await emit(uow, "test.first", {"n": 1})
        second = await emit(uow, "test.second", {"n": 2})
    kind = f"test.guarded-{uuid.uuid4().hex[:8]}"

    async with clean_db.transaction(tenant_id=tenant) as uow:
        found = await write_batch(
            uow,
            [Rows(OUTBOX, [event_row(uow, kind, {"n": 3})], if_found=True)],
            query=_bump("q"),
            params={"q": first, "g": second, "g_at": attempts},
            guards=[_bump("g", at=True)],
        )

    assert [tuple(r) for r in found] == [(first, hits)]
    assert await _count(clean_db, kind) == (1 if hits else 0)
