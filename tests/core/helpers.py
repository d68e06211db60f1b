"""Helpers shared by the audit and RLS tests: tenants, and owner-side tampering."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from tests.support.tenants import load_tenant
from vaxport.core import audit
from vaxport.core.db import Database
from vaxport.core.ids import uuid7
from vaxport.core.principal import Principal
from vaxport.identity.access.actor import Actor
from vaxport.tenancy.service import TenantInfo


async def make_tenant(db: Database, code: str | None = None) -> TenantInfo:
    """A tenant loaded through the real configuration loader."""
    return await load_tenant(db, code=code)


async def tamper(owner: Database, table: str, statement: Any) -> int:
    """Run ``statement`` as the owner with the table's append-only guard lifted.

    What an attacker with the owner's credentials (or a DBA) could do; the hash chain
    must reveal it. Returns the number of rows changed.
    """
    async with owner.engine.begin() as conn:
        if owner.is_postgres:
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            result = await conn.execute(statement)
            await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            triggers = (
                await conn.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name=:t"
                    ),
                    {"t": table},
                )
            ).all()
            for name, _ in triggers:
                await conn.execute(text(f'DROP TRIGGER "{name}"'))
            result = await conn.execute(statement)
            for _, sql in triggers:
                await conn.execute(text(sql))
    return int(getattr(result, "rowcount", 0) or 0)


def new_id() -> uuid.UUID:
    """A fresh UUIDv7."""
    return uuid7()


async def record_entries(
    db: Database,
    tenant_id: uuid.UUID,
    n: int = 1,
    *,
    actor_id: uuid.UUID | None = None,
    **kw: object,
) -> list[uuid.UUID]:
    """``n`` audit entries of a tenant in one transaction, by a vaccinator (``actor_id``,
    a new one for each entry if None); their ids."""
    ids = []
    async with db.transaction(tenant_id=tenant_id) as uow:
        for _ in range(n):
            args: dict[str, object] = {
                "by": Principal(actor_id or new_id(), "vaccinator", "staff"),
                "action": "dose.record",
                "object_type": "dose",
                "object_id": new_id(),
            }
            args.update(kw)
            ids.append(await audit.record(uow, **args))  # type: ignore[arg-type]
    return ids


def auditor(tenant: TenantInfo) -> Actor:
    """A national auditor of ``tenant`` (the audit log's readers)."""
    from vaxport.core.clock import utcnow

    return Actor(
        account_id=uuid7(),
        tenant_id=tenant.id,
        tenant_code=tenant.code,
        kind="staff",
        role="auditor",
        region_code=None,
        facility_id=None,
        auth_time=utcnow(),
    )
