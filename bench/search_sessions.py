"""Open sessions for the ``search`` scenario, written straight to the server's database.

``python -m bench.search_sessions TENANT DAYS`` (run by the scenario's setup with the
server's environment): for every active centre of ``TENANT``, one open session a day for
the next ``DAYS`` days (CoviGuard mRNA, doses 1 and 2, 9:00 to 12:00 local time in 10-minute
slots of 4 seats), then ``slots_changed`` so no cached search predates them. The sessions
context's own publishing is not needed to measure the search, only open seats.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import zoneinfo
from typing import Any

from sqlalchemy import insert, select

from vaxport.core.cache import cache_from_url
from vaxport.core.db import database_from_settings
from vaxport.core.ids import uuid7
from vaxport.facilities.models import Facility
from vaxport.scheduling.availability import slots_changed
from vaxport.scheduling.models import Session, Slot
from vaxport.settings import get_settings
from vaxport.tenancy.service import get_tenant_or_404

SLOTS = 18
MINUTES = 10
SEATS = 4


def _session(common: dict[str, Any], start: dt.datetime) -> dict[str, Any]:
    return common | {
        "id": uuid7(),
        "dose_numbers": [1, 2],
        "eligibility": {},
        "starts_at": start,
        "ends_at": start + dt.timedelta(minutes=MINUTES * SLOTS),
        "slot_minutes": MINUTES,
        "capacity": SEATS * SLOTS,
        "status": "open",
        "version": 1,
    }


def _slots(common: dict[str, Any], session_id: Any, start: dt.datetime) -> list[dict[str, Any]]:
    out = []
    for n in range(SLOTS):
        at = start + dt.timedelta(minutes=MINUTES * n)
        out.append(
            common
            | {
                "id": uuid7(),
                "session_id": session_id,
                "starts_at": at,
                "ends_at": at + dt.timedelta(minutes=MINUTES),
                "capacity": SEATS,
                "booked": 0,
                "status": "open",
                "version": 1,
            }
        )
    return out


async def publish(code: str, days: int) -> int:
    """Write the sessions; the number of slots written."""
    settings = get_settings()
    db = database_from_settings()
    cache = cache_from_url(settings.redis_url)
    try:
        tenant = await get_tenant_or_404(db=db, cache=cache, code=code)
        tenant_id, zone = tenant.id, zoneinfo.ZoneInfo(tenant.config.timezone)
        async with db.read(tenant_id=tenant_id) as session:
            centres = (
                await session.execute(
                    select(Facility.id, Facility.region_code).where(
                        Facility.tenant_id == tenant_id, Facility.active.is_(True)
                    )
                )
            ).all()
        today = dt.datetime.now(zone).date()
        sessions: list[dict[str, Any]] = []
        slots: list[dict[str, Any]] = []
        for facility_id, region in centres:
            for ahead in range(1, days + 1):
                day = today + dt.timedelta(days=ahead)
                start = dt.datetime.combine(day, dt.time(9, 0), tzinfo=zone).astimezone(dt.UTC)
                common = {
                    "tenant_id": tenant_id,
                    "facility_id": facility_id,
                    "region_code": region,
                    "product_id": "covid-mrna",
                    "day": day,
                }
                made = _session(common, start)
                sessions.append(made)
                slots += _slots(common, made["id"], start)
        async with db.transaction(tenant_id=tenant_id) as uow:
            for i in range(0, len(sessions), 1000):
                await uow.session.execute(insert(Session), sessions[i : i + 1000])
            for i in range(0, len(slots), 1000):
                await uow.session.execute(insert(Slot), slots[i : i + 1000])
        await slots_changed(cache, tenant_id)
        return len(slots)
    finally:
        await cache.close()
        await db.dispose()


if __name__ == "__main__":
    print(asyncio.run(publish(sys.argv[1], int(sys.argv[2]))))
