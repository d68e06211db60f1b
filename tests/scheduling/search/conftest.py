"""A small country map for the search: three centres in two provinces, and their days."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update

from tests.facilities.helpers import body as facility_body
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.facilities.schemas import FacilityCreate
from vaxport.scheduling.models import Session
from vaxport.scheduling.search_area import today
from vaxport.tenancy.schemas import TenantInfo


@dataclass(frozen=True)
class Centres:
    """Hillcrest (NOR-01-01), Rivermouth (NOR-02-01), Demopolis (CEN-01-01)."""

    hill: uuid.UUID
    river: uuid.UUID
    city: uuid.UUID


PLACES: dict[str, dict[str, Any]] = {
    "hill": {"code": "S-HILL", "region_code": "NOR-01-01", "postal_code": "D1A 1AA",
             "location": {"lat": 48.40, "lon": -79.60}, "name": {"en": "Hill Clinic"}},
    "river": {"code": "S-RIVER", "region_code": "NOR-02-01", "postal_code": "D1B 2BB",
              "location": {"lat": 48.50, "lon": -79.50}, "name": {"en": "River Clinic"}},
    "city": {"code": "S-CITY", "region_code": "CEN-01-01", "postal_code": "D2A 9ZZ",
             "location": {"lat": 46.00, "lon": -77.00}, "name": {"en": "City Clinic"}},
}  # fmt: skip


@pytest.fixture
async def centres(clean_db: Database, cache: Cache, tenant: TenantInfo) -> Centres:
    ids = {}
    for name, fields in PLACES.items():
        data = FacilityCreate.model_validate(facility_body(**fields))
        ids[name] = (await facilities.create(db=clean_db, cache=cache, tenant=tenant, data=data)).id
    return Centres(**ids)


def day(tenant: TenantInfo, ahead: int) -> dt.date:
    """The tenant's local date ``ahead`` days from today."""
    return today(tenant) + dt.timedelta(days=ahead)


async def narrow(db: Database, tenant_id: uuid.UUID, session_id: uuid.UUID, **rule: Any) -> None:
    """Give a seeded session an eligibility rule (``min_age``/``max_age``...)."""
    async with db.transaction(tenant_id=tenant_id) as uow:
        await uow.session.execute(
            update(Session).where(Session.id == session_id).values(eligibility=rule)
        )
