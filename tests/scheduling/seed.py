"""Sessions and slots written straight to the tables, for tests of what comes after them.

Tests of publishing go through the sessions service; tests of booking, search, messages
and the waitlist need open seats at a known place and time, and nothing more.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from vaxport.core.db import Database
from vaxport.core.ids import uuid7
from vaxport.scheduling.models import Session, Slot


@dataclass(frozen=True)
class Seeded:
    """A session and its slots' ids, in time order."""

    session_id: uuid.UUID
    slot_ids: tuple[uuid.UUID, ...]


async def open_session(
    db: Database,
    tenant_id: uuid.UUID,
    facility_id: uuid.UUID,
    *,
    region_code: str,
    day: dt.date,
    product_id: str = "covid-mrna",
    dose_numbers: tuple[int, ...] = (1, 2),
    slots: int = 1,
    seats: int = 10,
    minutes: int = 10,
    start: dt.time = dt.time(14, 0),
) -> Seeded:
    """An open session of ``slots`` slots with ``seats`` seats each, starting at ``start`` UTC."""
    first = dt.datetime.combine(day, start, tzinfo=dt.UTC)
    session_id = uuid7()
    ids: list[uuid.UUID] = []
    async with db.transaction(tenant_id=tenant_id) as uow:
        uow.session.add(
            Session(
                id=session_id,
                tenant_id=tenant_id,
                facility_id=facility_id,
                region_code=region_code,
                product_id=product_id,
                dose_numbers=list(dose_numbers),
                eligibility={},
                day=day,
                starts_at=first,
                ends_at=first + dt.timedelta(minutes=minutes * slots),
                slot_minutes=minutes,
                capacity=seats * slots,
                status="open",
            )
        )
        await uow.session.flush()
        for n in range(slots):
            slot_id = uuid7()
            ids.append(slot_id)
            uow.session.add(
                Slot(
                    id=slot_id,
                    tenant_id=tenant_id,
                    session_id=session_id,
                    facility_id=facility_id,
                    region_code=region_code,
                    product_id=product_id,
                    day=day,
                    starts_at=first + dt.timedelta(minutes=minutes * n),
                    ends_at=first + dt.timedelta(minutes=minutes * (n + 1)),
                    capacity=seats,
                    booked=0,
                    status="open",
                )
            )
    return Seeded(session_id, tuple(ids))
