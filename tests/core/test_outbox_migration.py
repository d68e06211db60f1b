"""Migration 0011 (outbox deliveries): up, down with unfinished deliveries, and its access."""

from __future__ import annotations

import uuid

from sqlalchemy import func, insert, inspect, select, text

from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.outbox import OutboxDelivery, OutboxEvent


async def _indexes(db: Database) -> set[str] | None:
    def read(conn):  # type: ignore[no-untyped-def]
        insp = inspect(conn)
        if "outbox_deliveries" not in insp.get_table_names():
            return None
        return {ix["name"] for ix in insp.get_indexes("outbox_deliveries")}

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def test_0011_upgrade_then_downgrade_gives_unfinished_events_back(
    empty_db: Database,
) -> None:
    await migrate.upgrade(empty_db, "0011_outbox_deliveries", metadata=METADATA)
    indexes = await _indexes(empty_db)
    assert indexes is not None  # PostgreSQL also lists the unique constraint's index
    assert {
        "ix_outbox_deliveries_due",
        "ix_outbox_deliveries_delivered",
        "ix_outbox_deliveries_dead",
    } <= indexes
    done, unfinished = uuid.uuid4(), uuid.uuid4()
    now = utcnow()
    async with empty_db.engine.begin() as conn:
        for event_id, state in ((done, "delivered"), (unfinished, "dead")):
            await conn.execute(
                insert(OutboxEvent).values(
                    id=event_id,
                    event_type="x.happened",
                    payload={},
                    state="delivered",  # fanned out
                    attempts=0,
                    available_at=now,
                    created_at=now,
                    delivered_at=now,
                )
            )
            await conn.execute(
                insert(OutboxDelivery).values(
                    id=uuid.uuid4(),
                    event_id=event_id,
                    subscriber="test.sub",
                    event_type="x.happened",
                    state=state,
                    attempts=1,
                    available_at=now,
                    created_at=now,
                )
            )

    await migrate.downgrade(empty_db, "-1")
    assert await _indexes(empty_db) is None
    async with empty_db.engine.connect() as conn:
        rows = await conn.execute(select(OutboxEvent.id, OutboxEvent.state))
        states = {r.id: r.state for r in rows}
    # The release before delivers events whole: the one a subscriber never had is pending.
    assert states == {
        done: "delivered",
        unfinished: "pending",
    }


async def test_the_app_role_works_on_deliveries_of_every_tenant(
    clean_db: Database, owner_db: Database
) -> None:
    # Cross-tenant like the events (ids only): the worker fans out and claims for every
    # tenant, so no tenant policy may hide rows from it; the app role still owns nothing.
    now = utcnow()
    async with clean_db.transaction() as uow:  # no tenant scope: what the worker has
        for tenant_id in (uuid.uuid4(), uuid.uuid4()):
            await uow.session.execute(
                insert(OutboxDelivery).values(
                    id=uuid.uuid4(),
                    event_id=uuid.uuid4(),
                    subscriber="test.sub",
                    tenant_id=tenant_id,
                    event_type="x.happened",
                    state="pending",
                    attempts=0,
                    available_at=now,
                    created_at=now,
                )
            )
    async with clean_db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxDelivery)) == 2
    if not owner_db.is_postgres:
        return
    async with owner_db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT c.relrowsecurity, r.rolname = current_user AS owned_by_owner "
                    "FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                    "WHERE c.relname = 'outbox_deliveries'"
                )
            )
        ).one()
    assert (row.relrowsecurity, row.owned_by_owner) == (False, True)
