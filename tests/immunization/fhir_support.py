"""Set-up for the FHIR tests: people registered through the API, lots and doses as rows.

Dose recording has its own use case (``immunization/recording.py``); these tests write
the rows it would write, through the ORM and the encrypting session, so the FHIR reads
are tested on the schema whatever path recorded them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx

from tests.registration.helpers import member
from vaxport.core.db import Database
from vaxport.immunization.models import Dose, Lot
from vaxport.tenancy.schemas import TenantInfo

FHIR_JSON = "application/fhir+json"


def fhir(tenant: TenantInfo, suffix: str) -> str:
    return f"/fhir/{tenant.code}{suffix}"


async def register(
    client: httpx.AsyncClient, tenant: TenantInfo, headers: dict[str, str], **changes: Any
) -> uuid.UUID:
    """A person registered through the API by whoever ``headers`` authenticate."""
    r = await client.post(
        f"/api/v1/{tenant.code}/beneficiaries", json=member(**changes), headers=headers
    )
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


async def add_lot(
    db: Database,
    tenant: TenantInfo,
    *,
    product_id: str = "covid-mrna",
    lot_number: str = "AB1234",
    expires_on: dt.date = dt.date(2027, 6, 30),
) -> uuid.UUID:
    async with db.transaction(tenant_id=tenant.id) as uow:
        lot = Lot(
            tenant_id=tenant.id,
            product_id=product_id,
            lot_number=lot_number,
            manufacturer="Demoland Biologics",
            expires_on=expires_on,
            doses_per_vial=6,
        )
        uow.session.add(lot)
        await uow.session.flush()
        return lot.id


async def add_dose(
    db: Database,
    tenant: TenantInfo,
    person: uuid.UUID,
    *,
    product_id: str = "covid-mrna",
    series: str = "covid-19",
    dose_number: int = 1,
    lot_id: uuid.UUID | None = None,
    facility_id: uuid.UUID | None = None,
    region_code: str = "CEN-01-01",
    at: dt.datetime = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC),
    site: str | None = "left-arm",
    route: str | None = "IM",
    status: str = "recorded",
) -> uuid.UUID:
    """A dose record as recording (or a void, with ``status="voided"``) leaves it."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        dose = Dose(
            tenant_id=tenant.id,
            beneficiary_id=person,
            product_id=product_id,
            series=series,
            dose_number=dose_number,
            lot_id=lot_id,
            administered_at=at,
            day=at.date(),
            facility_id=facility_id,
            region_code=region_code,
            site=site,
            route=route,
            status=status,
        )
        if status == "voided":
            dose.voided_at = at
        dose.notes = "arm sore"
        uow.session.add(dose)
        await uow.session.flush()
        return dose.id
