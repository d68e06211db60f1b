"""Immunization test data: lots through the API, doses written as recording will write them.

Dose recording is built beside lots and AEFI; until its use case lands, tests put dose
rows in the table directly (the schema is the contract between the two).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx

from vaxport.core.db import Database
from vaxport.immunization.models import Dose
from vaxport.tenancy.schemas import TenantInfo


def lot_body(**changes: Any) -> dict[str, Any]:
    """A valid lot of the demo country's mRNA product."""
    body: dict[str, Any] = {
        "product_id": "covid-mrna",
        "lot_number": f"fh{uuid.uuid4().hex[:6]}",
        "expires_on": "2030-06-30",
        "doses_per_vial": 6,
    }
    body.update(changes)
    return body


async def make_lot(
    client: httpx.AsyncClient, tenant: TenantInfo, headers: dict[str, str], **changes: Any
) -> dict[str, Any]:
    """A lot registered through the API by ``headers`` (an admin)."""
    answer = await client.post(
        f"/api/v1/{tenant.code}/lots", json=lot_body(**changes), headers=headers
    )
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def make_dose(
    db: Database,
    tenant: TenantInfo,
    *,
    beneficiary_id: uuid.UUID,
    lot_id: uuid.UUID | None,
    region_code: str,
    facility_id: uuid.UUID | None = None,
    dose_number: int = 1,
    product_id: str = "covid-mrna",
) -> uuid.UUID:
    """A recorded dose of ``beneficiary_id`` from ``lot_id``."""
    now = dt.datetime.now(dt.UTC)
    async with db.transaction(tenant_id=tenant.id) as uow:
        dose = Dose(
            tenant_id=tenant.id,
            beneficiary_id=beneficiary_id,
            product_id=product_id,
            series="covid-19",
            dose_number=dose_number,
            lot_id=lot_id,
            administered_at=now,
            day=now.date(),
            facility_id=facility_id,
            region_code=region_code,
            status="recorded",
            source="online",
            overridden=False,
            version=1,
        )
        uow.session.add(dose)
        await uow.session.flush()
        return dose.id


async def register(
    client: httpx.AsyncClient, tenant: TenantInfo, headers: dict[str, str], **changes: Any
) -> uuid.UUID:
    """A person registered through the API (by staff in their region, or a citizen)."""
    from tests.registration.helpers import member

    answer = await client.post(
        f"/api/v1/{tenant.code}/beneficiaries", json=member(**changes), headers=headers
    )
    assert answer.status_code == 201, answer.text
    return uuid.UUID(answer.json()["id"])


def aefi_body(dose_id: uuid.UUID | None, **changes: Any) -> dict[str, Any]:
    """A mild report: fever and headache since an hour ago."""
    onset = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    body: dict[str, Any] = {
        "dose_id": str(dose_id) if dose_id else None,
        "symptoms": ["10037660", "10019211"],
        "onset_at": onset.isoformat(),
        "outcome": "recovering",
        "narrative": "Fever 38.5 the evening after the dose",
    }
    body.update(changes)
    return body


SERIOUS = {"serious": True, "criteria": ["hospitalisation"]}
