"""The demo's sessions: a week of them, from tomorrow, at every active demo centre.

Each open day (the centre's weekly hours, its dated exceptions) gets one session at the
start of its first opening interval (two hours at most), for one of the vaccines the
centre offers (taking turns day by day, so covid-mrna, covid-protein, mmr and hpv all
have seats somewhere), in slots of the tenant's ``booking.slot_minutes`` with a few
seats each: some 1,600 sessions and 19,000 slots for the demo's 300 centres, a couple of
seconds on SQLite. Written in bulk
(``publishing.write_sessions``), a few hundred sessions per transaction. Re-running adds
only the centre-days that have no session yet.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any

from sqlalchemy import select

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.scheduling import availability
from vaxport.scheduling.models import Session
from vaxport.scheduling.sessions.plans import (
    WEEKDAYS,
    Plan,
    Times,
    local_instant,
    local_today,
    max_dose_number,
    slot_times,
)
from vaxport.scheduling.sessions.publishing import Written, session_rows, write_sessions
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantConfig, TenantInfo, get_tenant_or_404

DAYS = 7
SEATS_PER_SLOT = 4
SESSION_LENGTH = dt.timedelta(hours=2)
_CHUNK = 300  # sessions per transaction


def _first_interval(hours: dict[str, Any], day: dt.date) -> tuple[str, str] | None:
    """The first opening interval of ``day`` (its exception's, else the weekday's)."""
    for exception in hours.get("exceptions") or []:
        if exception.get("date") == day.isoformat():
            intervals = exception.get("hours") or []
            break
    else:
        intervals = (hours.get("weekly") or {}).get(WEEKDAYS[day.weekday()]) or []
    if not intervals:
        return None
    first = min(intervals, key=lambda i: str(i.get("opens")))
    opens, closes = str(first.get("opens")), str(first.get("closes"))
    return (opens, "23:59" if closes == "24:00" else closes)


def _plan(
    config: TenantConfig, product_id: str, day: dt.date, opens: str, closes: str
) -> Plan | None:
    tz = zoneinfo.ZoneInfo(config.timezone)
    starts_at, ends_at = local_instant(tz, day, opens), local_instant(tz, day, closes)
    if starts_at is None or ends_at is None or ends_at <= starts_at:
        return None
    ends_at = min(ends_at, starts_at + SESSION_LENGTH)
    minutes = config.booking.slot_minutes
    slots = slot_times(starts_at, ends_at, minutes)
    if not slots:
        return None
    return Plan(
        product_id=product_id,
        dose_numbers=list(range(1, max_dose_number(config, product_id) + 1)),
        eligibility={},
        slot_minutes=minutes,
        capacity_per_slot=SEATS_PER_SLOT,
        note=None,
        series_id=None,
        sessions=(Times(day, starts_at, ends_at, slots),),
    )


async def _centres(db: Database, tenant: TenantInfo) -> list[Any]:
    """Every active centre of the tenant (the public directory, page by page)."""
    out: list[Any] = []
    cursor: str | None = None
    while True:
        query = facilities.DirectoryQuery(limit=100, cursor=cursor)
        page = await facilities.list_public(db=db, tenant=tenant, query=query)
        out += page.items
        cursor = page.next_cursor
        if cursor is None:
            return out


async def _covered(
    db: Database, tenant_id: uuid.UUID, first: dt.date, last: dt.date
) -> set[tuple[uuid.UUID, dt.date]]:
    async with db.read(tenant_id=tenant_id) as s:
        rows = await s.execute(
            select(Session.facility_id, Session.day)
            .where(Session.tenant_id == tenant_id, Session.day >= first, Session.day <= last)
            .distinct()
        )
        return {(f, d) for f, d in rows.all()}


async def load_demo_sessions(
    db: Database, cache: Cache, settings: Settings, tenant_code: str, url: str
) -> list[str]:
    """Publish the coming week's sessions at the demo centres; the banner's line."""
    tenant = await get_tenant_or_404(db=db, cache=cache, code=tenant_code)
    config = tenant.config
    now = utcnow()
    days = [local_today(config, now) + dt.timedelta(days=n) for n in range(1, DAYS + 1)]
    covered = await _covered(db, tenant.id, days[0], days[-1])
    written: list[Written] = []
    for centre in await _centres(db, tenant):
        products = [p for p in centre.vaccines if p in config.products]
        products = [p for p in products if config.products[p].active]
        for n, day in enumerate(days):
            hours = _first_interval(centre.opening_hours or {}, day)
            if not products or hours is None or (centre.id, day) in covered:
                continue
            planned = _plan(config, products[n % len(products)], day, *hours)
            if planned is not None:
                written += session_rows(
                    tenant.id, centre.id, centre.region_code, planned, created_by=None, now=now
                )
    for start in range(0, len(written), _CHUNK):
        async with db.transaction(tenant_id=tenant.id) as uow:
            await write_sessions(uow, written[start : start + _CHUNK], by=None, announce=False)
    if written:
        await availability.slots_changed(cache, tenant.id)
    slots = sum(len(w.slots) for w in written)
    return [
        f"  sessions    {len(written)} new sessions ({slots} slots) from "
        f"{days[0].isoformat()} to {days[-1].isoformat()}; {url}/{tenant_code}/staff/sessions"
    ]
