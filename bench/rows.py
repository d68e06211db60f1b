"""Rows the write scenarios' prefills write straight to the tables (run in the server's
environment by ``python -m bench.booking fill`` / ``python -m bench.doses fill``): a
centre, people, a lot, recorded doses. Registering people, publishing sessions and
recording doses are measured by their own scenarios, not by the setups.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

BATCH = 500  # rows per transaction


async def centre(db: Any, cache: Any, tenant: Any) -> uuid.UUID:
    """A new centre in region CEN-01-01, through facilities' service."""
    from vaxport.facilities import service as facilities
    from vaxport.facilities.schemas import FacilityCreate

    data = FacilityCreate.model_validate(
        {
            "code": f"BOOK-{uuid.uuid4().hex[:6].upper()}",
            "name": {"en": "Bench Booking Centre"},
            "type": "public",
            "region_code": "CEN-01-01",
            "address": "1 Bench Road",
            "location": {"lat": 45.42, "lon": -75.69},
        }
    )
    made = await facilities.create(db=db, cache=cache, tenant=tenant, data=data)
    return made.id


async def slots(
    db: Any, tenant_id: uuid.UUID, centre: uuid.UUID, day: dt.date, count: int, seats: int
) -> list[str]:
    """``count`` open slots of ``seats`` seats, 100 per session, from 08:00 UTC on ``day``."""
    from vaxport.core.ids import uuid7
    from vaxport.scheduling.models import Session, Slot

    ids: list[str] = []
    per_session = 100
    for first in range(0, count, per_session):
        n = min(per_session, count - first)
        start = dt.datetime.combine(day, dt.time(8, 0), tzinfo=dt.UTC)
        session_id = uuid7()
        async with db.transaction(tenant_id=tenant_id) as uow:
            uow.session.add(
                Session(
                    id=session_id, tenant_id=tenant_id, facility_id=centre,
                    region_code="CEN-01-01", product_id="covid-mrna", dose_numbers=[1, 2],
                    eligibility={}, day=day, starts_at=start,
                    ends_at=start + dt.timedelta(minutes=n), slot_minutes=1,
                    capacity=n * seats, status="open",
                )
            )  # fmt: skip
            await uow.session.flush()
            for k in range(n):
                slot_id = uuid7()
                ids.append(str(slot_id))
                uow.session.add(
                    Slot(
                        id=slot_id, tenant_id=tenant_id, session_id=session_id,
                        facility_id=centre, region_code="CEN-01-01", product_id="covid-mrna",
                        day=day, starts_at=start + dt.timedelta(minutes=k),
                        ends_at=start + dt.timedelta(minutes=k + 1), capacity=seats, booked=0,
                        status="open",
                    )
                )  # fmt: skip
    return ids


async def people(
    db: Any,
    tenant_id: uuid.UUID,
    count: int,
    *,
    name: str = "Bench",
    facility: uuid.UUID | None = None,
    created_via: str = "staff",
) -> list[uuid.UUID]:
    """``count`` adults without an account in CEN-01-01 (names and birth dates encrypted),
    registered at ``facility`` when given, in batches."""
    from vaxport.core.ids import short_code, uuid7
    from vaxport.registration.models import Beneficiary

    ids: list[uuid.UUID] = []
    for first in range(0, count, BATCH):
        async with db.transaction(tenant_id=tenant_id) as uow:
            for n in range(first, min(count, first + BATCH)):
                person = Beneficiary(
                    id=uuid7(), tenant_id=tenant_id, reference=short_code(8), status="active",
                    birth_year=1950 + n % 50, sex="female", region_code="CEN-01-01",
                    facility_id=facility, created_via=created_via, version=1,
                )  # fmt: skip
                person.given_name = f"{name}{n}"
                person.birth_date = dt.date(1950 + n % 50, 1 + n % 12, 1 + n % 28)
                uow.session.add(person)
                ids.append(person.id)
    return ids


async def lot(db: Any, tenant_id: uuid.UUID, number: str) -> uuid.UUID:
    """The covid-mrna lot ``number`` (made once, expiring in a year)."""
    from sqlalchemy import select

    from vaxport.immunization.models import Lot

    async with db.transaction(tenant_id=tenant_id) as uow:
        found = await uow.session.scalar(
            select(Lot.id).where(Lot.tenant_id == tenant_id, Lot.lot_number == number)
        )
        if found is not None:
            return found
        row = Lot(
            tenant_id=tenant_id, product_id="covid-mrna", lot_number=number,
            manufacturer="Demoland Biologics",
            expires_on=dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365),
        )  # fmt: skip
        uow.session.add(row)
        await uow.session.flush()
        return row.id


async def doses(
    db: Any, tenant_id: uuid.UUID, persons: list[uuid.UUID], *, lot_id: uuid.UUID, centre: uuid.UUID
) -> list[uuid.UUID]:
    """Dose 1 of covid-mrna recorded yesterday for each of ``persons``: their ids."""
    from vaxport.core.ids import uuid7
    from vaxport.immunization.models import Dose

    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    ids: list[uuid.UUID] = []
    for first in range(0, len(persons), BATCH):
        async with db.transaction(tenant_id=tenant_id) as uow:
            for person in persons[first : first + BATCH]:
                row = Dose(
                    id=uuid7(), tenant_id=tenant_id, beneficiary_id=person,
                    product_id="covid-mrna", series="covid-19", dose_number=1, lot_id=lot_id,
                    administered_at=at, day=at.date(), facility_id=centre,
                    region_code="CEN-01-01", site="left-arm", route="IM", overridden=False,
                    status="recorded", source="online", version=1, created_at=at,
                    updated_at=at,
                )  # fmt: skip
                row.notes = None
                uow.session.add(row)
                ids.append(row.id)
    return ids


async def appointments(
    db: Any, tenant_id: uuid.UUID, centre: uuid.UUID, persons: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Each of ``persons`` booked today at ``centre`` for covid-19 dose 1 (slots of 100
    seats): the appointments' ids, in the same order."""
    from vaxport.scheduling.appointments import Seat, book_in

    day = dt.datetime.now(dt.UTC).date()  # a dose completes an appointment of any day
    seats = 100
    slot_ids = await slots(db, tenant_id, centre, day, len(persons) // seats + 1, seats)
    ids: list[uuid.UUID] = []
    for first in range(0, len(persons), BATCH):
        async with db.transaction(tenant_id=tenant_id) as uow:
            for n, person in enumerate(persons[first : first + BATCH], first):
                seat = Seat(person, None, "covid-19", 1, None)
                row = await book_in(uow, tenant_id, uuid.UUID(slot_ids[n // seats]), seat)
                if row is None:
                    raise RuntimeError("a bench slot was full")
                ids.append(row.id)
    return ids
