"""The demo's lots: two per active product, one of them on hold; a second run adds none."""

from __future__ import annotations

from sqlalchemy import select

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.immunization.lots.demo import load_demo_lots
from vaxport.immunization.models import Lot
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def test_demo_lots_are_registered_once(
    clean_db: Database, cache: Cache, settings: Settings, tenant: TenantInfo
) -> None:
    first = await load_demo_lots(clean_db, cache, settings, tenant.code, "http://x")
    again = await load_demo_lots(clean_db, cache, settings, tenant.code, "http://x")
    assert first
    assert again == []
    async with clean_db.read(tenant_id=tenant.id) as session:
        held = list(await session.scalars(select(Lot.on_hold).where(Lot.tenant_id == tenant.id)))
    active = [p for p in tenant.config.vaccines if p.active]
    assert len(held) == 2 * len(active)
    assert sum(held) == len(active)
