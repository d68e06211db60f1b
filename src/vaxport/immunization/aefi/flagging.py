"""Serious reports per lot, and the flag when they reach the tenant's threshold.

Counted in the report's own transaction with the lot's row locked first: two serious
reports on one lot committing together are counted one after the other, so the lot is
flagged exactly once, by the report that reached the threshold (PostgreSQL re-reads the
locked row and the count after the other transaction commits; SQLite has one writer).
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import UnitOfWork
from vaxport.core.outbox import emit
from vaxport.core.principal import Principal
from vaxport.immunization.aefi.models import AefiReport
from vaxport.immunization.lots.events import LOT_FLAGGED
from vaxport.immunization.models import Lot
from vaxport.tenancy.service import TenantInfo

# The configuration's default; without an ``immunization.aefi`` section no symptom code is
# known, so no report can be made and this is never reached in practice.
DEFAULT_SERIOUS_THRESHOLD = 3


def threshold(tenant: TenantInfo) -> int:
    """Serious reports on one lot that flag it (the configured value, or the default)."""
    section = tenant.config.immunization
    if section is None or section.aefi is None:
        return DEFAULT_SERIOUS_THRESHOLD
    return section.aefi.serious_threshold_per_lot


async def lock_lot(uow: UnitOfWork, lot_id: uuid.UUID) -> Lot | None:
    """The lot's row, locked until the transaction ends (call before writing the report)."""
    locked: Lot | None = await uow.session.scalar(
        select(Lot).where(Lot.tenant_id == uow.tenant_id, Lot.id == lot_id).with_for_update()
    )
    return locked


async def flag_if_reached(
    uow: UnitOfWork, *, tenant: TenantInfo, lot: Lot, region_code: str, by: Principal
) -> bool:
    """Flag ``lot`` (locked by :func:`lock_lot`) when its serious reports reach the
    threshold and it is not flagged yet; whether this call flagged it."""
    if lot.flagged_at is not None:
        return False
    await uow.session.flush()
    count = await uow.session.scalar(
        select(func.count())
        .select_from(AefiReport)
        .where(
            AefiReport.tenant_id == tenant.id,
            AefiReport.lot_id == lot.id,
            AefiReport.serious.is_(True),
        )
    )
    if (count or 0) < threshold(tenant):
        return False
    lot.flagged_at = utcnow()
    lot.version += 1
    lot.updated_at = lot.flagged_at
    await audit.record(
        uow,
        by=by,
        action="lot.flag",
        object_type="lot",
        object_id=lot.id,
        details={"serious_reports": count, "threshold": threshold(tenant)},
    )
    await emit(
        uow,
        LOT_FLAGGED,
        {"lot_id": str(lot.id), "product_id": lot.product_id, "region_code": region_code},
    )
    return True
