"""A small country map for the search: three centres in two provinces, and their days."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update

from tests.facilities.helpers import body as facility_body
from tests.scheduling.seed import Seeded, open_session
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


@dataclass(frozen=True)
class Timetable:
    hill: Seeded  # tomorrow, covid-mrna doses 1-2, 3 slots of 5 seats
    river: Seeded  # in 2 days, mmr dose 1, 2 slots of 4 seats
    city: Seeded  # in 3 days, covid-mrna dose 3, 60 and over, 2 slots of 2 seats


@pytest.fixture
async def timetable(clean_db: Database, tenant: TenantInfo, centres: Centres) -> Timetable:
    hill = await open_session(
        clean_db,
        tenant.id,
        centres.hill,
        region_code="NOR-01-01",
        day=day(tenant, 1),
        slots=3,
        seats=5,
    )
    river = await open_session(
        clean_db,
        tenant.id,
        centres.river,
        region_code="NOR-02-01",
        day=day(tenant, 2),
        product_id="mmr",
        dose_numbers=(1,),
        slots=2,
        seats=4,
        start=dt.time(15, 0),
    )
    city = await open_session(
        clean_db,
        tenant.id,
        centres.city,
        region_code="CEN-01-01",
        day=day(tenant, 3),
        dose_numbers=(3,),
        slots=2,
        seats=2,
    )
    await narrow(clean_db, tenant.id, city.session_id, min_age=60)
    # Beyond the booking horizon (28 days): never offered.
    await open_session(
        clean_db, tenant.id, centres.hill, region_code="NOR-01-01", day=day(tenant, 40)
    )
    return Timetable(hill, river, city)  # fmt: skip
