"""Issuance test data: a tenant's certificate keys, doses recorded through immunization's
use case or given as recording and voiding leave them (rows and their outbox event in one
transaction), the worker, stored rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, update

from tests.facilities.helpers import body as facility_body
from tests.identity.helpers import actor_for
from tests.immunization.support import add_lot, body
from tests.scheduling.booking.support import add_people
from tests.scheduling.conftest import REGION
from vaxport import wiring
from vaxport.certificates import keys
from vaxport.certificates.issuance.models import Certificate
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.ids import uuid7
from vaxport.core.outbox import Worker, emit
from vaxport.facilities import service as facilities
from vaxport.facilities.service import FacilityCreate
from vaxport.immunization import service as immunization
from vaxport.immunization.events import dose_payload
from vaxport.immunization.models import Dose
from vaxport.immunization.service import DoseIn, DoseOut
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

VERIFY = "/api/v1/verify"


async def with_keys(db: Database, tenant: TenantInfo) -> None:
    """The tenant's CSCA, DSC and SHC issuer key, as ``vaxport keys init-*`` make them."""
    await keys.init_csca(
        db, tenant_id=tenant.id, country="CA", organisation="Ministry", common_name="CSCA"
    )
    await keys.init_dsc(db, tenant_id=tenant.id, common_name="DSC", validity_days=365)
    await keys.init_shc(db, tenant_id=tenant.id, validity_days=365)


async def person(db: Database, tenant: TenantInfo, **kwargs: Any) -> uuid.UUID:
    """A registered person (name ``Person0``, born 1980-01-01 unless told otherwise)."""
    [person_id] = await add_people(db, tenant, 1, **kwargs)
    return person_id


async def centre_with_lot(db: Database, cache: Cache, tenant: TenantInfo) -> uuid.UUID:
    """A centre in ``REGION`` (code HC-1, named in each of the tenant's languages) and a
    lot EX1234 of covid-mrna to give there."""
    name = dict.fromkeys(tenant.config.locales, "Hillcrest Health Centre")
    data = FacilityCreate.model_validate(facility_body(code="HC-1", region_code=REGION, name=name))
    centre = (await facilities.create(db=db, cache=cache, tenant=tenant, data=data)).id
    await add_lot(db, tenant, "covid-mrna", "EX1234")
    return centre


async def record(
    db: Database, tenant: TenantInfo, person_id: uuid.UUID, centre: uuid.UUID, *, days_ago: int
) -> DoseOut:
    """The schedule's next dose of covid-mrna given ``days_ago``, recorded by a vaccinator
    of ``centre`` through immunization's use case (the person must be in its reach)."""
    given_at = utcnow() - dt.timedelta(days=days_ago)
    return await immunization.record_dose(
        db=db,
        tenant=tenant,
        actor=actor_for(tenant, "vaccinator", facility_id=centre),
        body=DoseIn.model_validate(body(person_id, administered_at=given_at.isoformat())),
    )


async def give(
    db: Database,
    tenant: TenantInfo,
    person_id: uuid.UUID,
    *,
    number: int,
    days_ago: int,
    product_id: str = "covid-mrna",
    series: str = "covid-19",
    lot_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A dose recorded with its ``dose.recorded`` event, as recording leaves them."""
    day = dt.date.today() - dt.timedelta(days=days_ago)
    async with db.transaction(tenant_id=tenant.id) as uow:
        dose = Dose(
            id=uuid7(),
            tenant_id=tenant.id,
            beneficiary_id=person_id,
            product_id=product_id,
            series=series,
            dose_number=number,
            lot_id=lot_id,
            administered_at=dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC),
            day=day,
            region_code=REGION,
            status="recorded",
            source="online",
            overridden=False,
            version=1,
        )
        uow.session.add(dose)
        await uow.session.flush()
        await emit(uow, "dose.recorded", dose_payload(dose))
    return dose.id


async def change_dose(
    db: Database, tenant: TenantInfo, dose_id: uuid.UUID, event: str, **values: Any
) -> None:
    """A void or correction of a dose: its row changed and its event (the contract)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(update(Dose).where(Dose.id == dose_id).values(**values))
        row = await uow.session.scalar(select(Dose).where(Dose.id == dose_id))
        assert row is not None
        await emit(uow, event, dose_payload(row))


async def work(db: Database, cache: Cache, settings: Settings) -> None:
    """Deliver every pending outbox event (the worker, in this process)."""
    worker = Worker(
        db, cache, settings, subscriptions=wiring.event_subscriptions(), worker_id="issuance"
    )
    for _ in range(5):
        if not await worker.run(asyncio.Event(), once=True):
            break


async def stored(db: Database, tenant: TenantInfo, person_id: uuid.UUID) -> list[Certificate]:
    """The person's certificate rows, oldest first (payloads decrypted while open)."""
    async with db.read(tenant_id=tenant.id) as s:
        rows = list(
            await s.scalars(
                select(Certificate)
                .where(Certificate.tenant_id == tenant.id, Certificate.beneficiary_id == person_id)
                .order_by(Certificate.issued_at, Certificate.id)
            )
        )
        for row in rows:
            _ = row.payload
            s.expunge(row)
        return rows


def qr(row: Certificate) -> str:
    """The QR text of a stored certificate."""
    assert isinstance(row.payload, dict)
    text = row.payload["qr"]
    assert isinstance(text, str)
    return text
