"""The demo's lots: two for each active product, expiring in a year (and one on hold),
so a vaccinator can pick a lot when recording a dose. Re-running adds only what is
missing."""

from __future__ import annotations

import datetime as dt

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.principal import SYSTEM
from vaxport.immunization.lots import writes
from vaxport.immunization.lots.service import find_lot
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404

LOTS_PER_PRODUCT = 2


def _number(product_id: str, n: int) -> str:
    letters = "".join(c for c in product_id.upper() if c.isalnum())[:4]
    return f"DEMO-{letters}-{n:03d}"


async def load_demo_lots(
    db: Database, cache: Cache, settings: Settings, tenant_code: str, url: str
) -> list[str]:
    """Register the demo's lots; the banner's line."""
    tenant = await get_tenant_or_404(db=db, cache=cache, code=tenant_code)
    now = utcnow()
    expires = (now + dt.timedelta(days=365)).date()
    made = 0
    async with db.transaction(tenant_id=tenant.id) as uow:
        for product in (p for p in tenant.config.vaccines if p.active):
            for n in range(1, LOTS_PER_PRODUCT + 1):
                number = _number(product.id, n)
                if await find_lot(uow.session, tenant.id, product_id=product.id, lot_number=number):
                    continue
                checked = writes.NewLot(product.id, number, product.manufacturer, expires, 10)
                lot = writes.new_row(tenant.id, checked, by=SYSTEM, now=now)
                if n == LOTS_PER_PRODUCT:
                    lot.on_hold, lot.hold_reason = True, "Demo: a lot on hold (quality check)"
                uow.session.add(lot)
                made += 1
    return [f"  lots: {made} registered ({url}/{tenant_code}/staff/lots)"] if made else []
