"""Serious reports on one lot arriving together flag it exactly once.

Meaningful on PostgreSQL (real parallel transactions, each locking the lot before it
counts); on SQLite writers queue, and the same outcome must hold.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import func, select

from tests.identity.helpers import actor_for
from tests.immunization.conftest import REGION
from tests.immunization.helpers import make_dose
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.core.outbox.models import OutboxEvent
from vaxport.immunization.aefi import reporting
from vaxport.immunization.aefi.schemas import AefiIn
from vaxport.immunization.lots.schemas import LotIn
from vaxport.immunization.lots.service import create
from vaxport.immunization.models import Lot
from vaxport.tenancy.schemas import TenantInfo


async def test_ten_parallel_serious_reports_flag_the_lot_once(
    clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    admin = actor_for(tenant, "national_admin")
    lot = await create(
        db=clean_db,
        tenant=tenant,
        actor=admin,
        body=LotIn(product_id="covid-mrna", lot_number="RACE1", expires_on=dt.date(2030, 1, 1)),
    )
    doses = [
        await make_dose(
            clean_db,
            tenant,
            beneficiary_id=uuid.uuid4(),
            lot_id=lot.id,
            region_code=REGION,
            facility_id=centre,
        )
        for _ in range(10)
    ]
    vaccinator = actor_for(tenant, "vaccinator", facility_id=centre)
    onset = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)

    async def report(dose: uuid.UUID) -> object:
        body = AefiIn(
            dose_id=dose,
            symptoms=["10002198"],
            onset_at=onset,
            serious=True,
            criteria=["life-threatening"],
        )
        return await reporting.report_as_staff(
            db=clean_db, tenant=tenant, actor=vaccinator, body=body
        )

    results = await asyncio.gather(*(report(d) for d in doses), return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    async with clean_db.read(tenant_id=tenant.id) as session:
        flagged = await session.scalar(select(Lot.flagged_at).where(Lot.id == lot.id))
        events = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.event_type == "lot.flagged")
        )
        flags = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "lot.flag")
        )
        serious = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.event_type == "aefi.serious")
        )
    assert flagged is not None
    assert (events, flags, serious) == (1, 1, 10)
