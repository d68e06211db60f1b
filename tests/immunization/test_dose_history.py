"""Where scheduling's doses come from: recorded doses (those merged into the person too),
never a completed appointment alone, never a voided record."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import update

from tests.immunization.support import person_at
from tests.scheduling.booking.support import given, record_given
from vaxport.core.db import Database
from vaxport.immunization.models import Dose
from vaxport.registration import service as registration
from vaxport.registration.models import Beneficiary
from vaxport.scheduling import service as scheduling
from vaxport.scheduling.models import Appointment
from vaxport.tenancy.schemas import TenantInfo

FIRST = dt.date.today() - dt.timedelta(days=40)


async def _doses(db: Database, tenant: TenantInfo, person: uuid.UUID) -> list[tuple[str, int]]:
    async with db.transaction(tenant_id=tenant.id) as uow:
        facts = await registration.person_facts(uow.session, tenant.id, person)
        assert facts is not None
        history = await scheduling.history_of(uow, tenant.id, facts)
    return sorted((d.product_id, d.number or 0) for d in history.doses)


async def test_a_completed_appointment_without_a_dose_record_is_not_a_dose(
    clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    person = await person_at(clean_db, tenant, centre)
    seen = await given(
        clean_db, tenant, centre, person, product_id="covid-mrna", day=FIRST, status="booked"
    )
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Appointment).where(Appointment.id == seen).values(status="completed")
        )

    assert await _doses(clean_db, tenant, person) == []
    await record_given(clean_db, tenant, centre, person, product_id="covid-mrna", day=FIRST)
    assert await _doses(clean_db, tenant, person) == [("covid-mrna", 1)]


async def test_a_voided_record_is_not_a_dose_and_merged_records_count_for_the_survivor(
    clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    survivor = await person_at(clean_db, tenant, centre)
    merged = await person_at(clean_db, tenant, centre)
    voided = await record_given(clean_db, tenant, centre, survivor, product_id="mmr", day=FIRST)
    await record_given(clean_db, tenant, centre, merged, product_id="covid-mrna", day=FIRST)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(update(Dose).where(Dose.id == voided).values(status="voided"))
        await uow.session.execute(
            update(Beneficiary)
            .where(Beneficiary.id == merged)
            .values(status="merged", merged_into_id=survivor)
        )

    assert await _doses(clean_db, tenant, survivor) == [("covid-mrna", 1)]
