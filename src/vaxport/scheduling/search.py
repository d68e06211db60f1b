"""The public slot search and the 7-day calendar per area (no login), served from the cache.

Both answer from the open slots of open sessions that start later than now, within the
booking horizon (today .. today + ``booking.days_ahead``, the tenant's local dates), with
at least one seat left. Filters: region (its subtree), postal code or a point and radius
(the facility directory's own search), dates, vaccine, dose number and age (see
``search_area.py``). Slots of a centre out of service are not shown.

Answers are serialised once and kept in two tiers under the tenant's availability token
(``answers.py``, which states the staleness bound). Pages of the search follow a cursor
on ``(start, id)``; a page reads at most :data:`SCAN_ROWS` rows, so a narrow filter over
a busy timetable answers a short page with a cursor rather than a long query.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import uuid
import zoneinfo
from typing import Any, TypeVarTuple

import orjson
from sqlalchemy import Select, and_, func, or_, select

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import invalid
from vaxport.core.i18n import N_
from vaxport.scheduling import search_area
from vaxport.scheduling.answers import Answer, cached_answer
from vaxport.scheduling.models import Session, Slot
from vaxport.scheduling.search_area import Area
from vaxport.scheduling.search_schemas import (
    CALENDAR_DAYS,
    AreaQuery,
    CalendarPage,
    CalendarQuery,
    CalendarRow,
    PlaceOut,
    ProductOut,
    SlotOut,
    SlotPage,
    SlotQuery,
)
from vaxport.tenancy.service import TenantInfo

__all__ = ["booking_path", "search_slots", "slot_calendar"]

Columns = TypeVarTuple("Columns")

# Rows one page of the search reads at most, in batches (dose and age are checked here).
SCAN_ROWS = 2000
_BATCH = 250
_IN_CHUNK = 1000


def booking_path(tenant_code: str, slot_id: uuid.UUID) -> str:
    """Where a person books ``slot_id`` (the citizen booking flow)."""
    return f"/{tenant_code}/book?slot={slot_id}"


def _window(
    tenant: TenantInfo, first: dt.date | None, last: dt.date | None
) -> tuple[dt.date, dt.date]:
    now = search_area.today(tenant)
    end = search_area.horizon(tenant, now)
    return max(first or now, now), min(last or end, end)


def _open(now: dt.datetime, first: dt.date, last: dt.date) -> list[Any]:
    return [
        Slot.day >= first,
        Slot.day <= last,
        Slot.status == "open",
        Session.status == "open",
        Slot.booked < Slot.capacity,
        Slot.starts_at > now,
    ]


def _narrowed(stmt: Select[*Columns], tenant_id: uuid.UUID, area: Area) -> Select[*Columns]:
    stmt = stmt.join(Session, Session.id == Slot.session_id).where(
        Slot.tenant_id == tenant_id, Session.tenant_id == tenant_id
    )
    if area.region_codes is not None:
        stmt = stmt.where(Slot.region_code.in_(area.region_codes))
    if area.places is not None:
        stmt = stmt.where(Slot.facility_id.in_(list(area.places)))
    if area.products is not None:
        stmt = stmt.where(Slot.product_id.in_(area.products))
    return stmt


# --- cursor ---------------------------------------------------------------------------


def _fingerprint(tenant: TenantInfo, query: SlotQuery) -> str:
    key = [str(tenant.id), query.model_dump(mode="json", exclude={"cursor", "limit"})]
    return hashlib.sha256(orjson.dumps(key, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _encode_cursor(fingerprint: str, starts_at: dt.datetime, slot_id: uuid.UUID) -> str:
    raw = orjson.dumps({"f": fingerprint, "k": [starts_at.isoformat(), str(slot_id)]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, fingerprint: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when, slot_id = doc["k"]
        after = (dt.datetime.fromisoformat(when), uuid.UUID(slot_id))
        theirs = doc["f"]
        if after[0].tzinfo is None:
            raise ValueError("naive")
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
        raise invalid("cursor", N_("is not a cursor this list gave out")) from exc
    if theirs != fingerprint:
        raise invalid("cursor", N_("belongs to a different search; start again without it"))
    return after


# --- the search -----------------------------------------------------------------------


def _product(tenant: TenantInfo, product_id: str) -> ProductOut:
    product = tenant.config.products.get(product_id)
    return ProductOut(id=product_id, name=product.name if product else product_id)


async def _rows(
    db: Database,
    tenant: TenantInfo,
    query: SlotQuery,
    *,
    area: Area,
    window: tuple[dt.date, dt.date],
    after: tuple[dt.datetime, uuid.UUID] | None,
) -> tuple[list[Any], tuple[dt.datetime, uuid.UUID] | None]:
    """Up to ``limit + 1`` admitted rows after ``after``; and where the scan stopped short."""
    now = utcnow()
    today = search_area.today(tenant)
    stmt = _narrowed(
        select(
            Slot.id,
            Slot.facility_id,
            Slot.product_id,
            Slot.day,
            Slot.starts_at,
            Slot.ends_at,
            Slot.capacity,
            Slot.booked,
            Session.dose_numbers,
            Session.eligibility,
            Session.release_at,
        ),
        tenant.id,
        area,
    ).where(*_open(now, *window))
    if query.facility_id is not None:
        stmt = stmt.where(Slot.facility_id == query.facility_id)
    kept: list[Any] = []
    scanned = 0
    # A page without dose or age admits every row: its first read is the page. With them,
    # each further read is twice as long, up to the batch.
    batch = query.limit + 1
    async with db.read(tenant_id=tenant.id) as session:
        while scanned < SCAN_ROWS:
            page = stmt
            if after is not None:
                later = and_(Slot.starts_at == after[0], Slot.id > after[1])
                page = page.where(or_(Slot.starts_at > after[0], later))
            page = page.order_by(Slot.starts_at, Slot.id).limit(batch)
            rows = (await session.execute(page)).all()
            for row in rows:
                scanned += 1
                after = (row.starts_at, row.id)
                if search_area.session_admits(
                    row.dose_numbers, row.eligibility, dose=query.dose, age=query.age, on=today
                ):
                    kept.append(row)
                    if len(kept) > query.limit:
                        return kept, None
            if len(rows) < batch:
                return kept, None
            batch = min(batch * 2, _BATCH)
    return kept, after  # the scan's end: the next page goes on from there


async def _build_slots(
    db: Database, cache: Cache, tenant: TenantInfo, query: SlotQuery, fingerprint: str
) -> bytes:
    window = _window(tenant, query.date_from, query.date_to)
    after = _decode_cursor(query.cursor, fingerprint) if query.cursor else None
    area = await search_area.resolve(db, cache, tenant, query, search_area.today(tenant))
    items: list[SlotOut] = []
    next_cursor = None
    if window[0] <= window[1]:
        rows, stopped = await _rows(db, tenant, query, area=area, window=window, after=after)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        if more:
            next_cursor = _encode_cursor(fingerprint, rows[-1].starts_at, rows[-1].id)
        elif stopped is not None:
            next_cursor = _encode_cursor(fingerprint, *stopped)
        items = await _slot_items(db, cache, tenant, area, rows)
    page = SlotPage(items=items, next_cursor=next_cursor, date_from=window[0], date_to=window[1])
    return orjson.dumps(page.model_dump(mode="json"))


async def _slot_items(
    db: Database, cache: Cache, tenant: TenantInfo, area: Area, rows: list[Any]
) -> list[SlotOut]:
    zone = zoneinfo.ZoneInfo(tenant.config.timezone)
    places: dict[uuid.UUID, dict[str, Any] | None] = {}
    items = []
    for row in rows:
        if row.facility_id not in places:
            places[row.facility_id] = await search_area.place(
                db, cache, tenant, area, row.facility_id
            )
        where = places[row.facility_id]
        if where is None:
            continue  # out of service since: its slots are not offered
        opens = row.release_at if row.release_at and row.release_at > utcnow() else None
        items.append(
            SlotOut(
                id=row.id,
                start=row.starts_at.astimezone(zone),
                end=row.ends_at.astimezone(zone),
                day=row.day,
                remaining=row.capacity - row.booked,
                capacity=row.capacity,
                product=_product(tenant, row.product_id),
                dose_numbers=sorted(int(n) for n in row.dose_numbers or ()),
                facility=PlaceOut.model_validate(where),
                opens_at=opens.astimezone(zone) if opens else None,
                booking_url=booking_path(tenant.code, row.id),
            )
        )
    return items


async def search_slots(
    *, db: Database, cache: Cache, tenant: TenantInfo, query: SlotQuery
) -> Answer:
    """A page of open slots as served (JSON bytes and ETag), from the cache while fresh."""
    search_area.check(tenant, query)
    fingerprint = _fingerprint(tenant, query)
    if query.cursor:
        _decode_cursor(query.cursor, fingerprint)  # a bad cursor is a 422, never cached
    key = {"slots": query.model_dump(mode="json"), "today": str(search_area.today(tenant))}
    return await cached_answer(
        cache=cache,
        tenant_id=tenant.id,
        key=key,
        build=lambda: _build_slots(db, cache, tenant, query, fingerprint),
    )


# --- the calendar ---------------------------------------------------------------------


async def _seats_by_day(
    db: Database, tenant: TenantInfo, query: AreaQuery, area: Area, days: list[dt.date]
) -> dict[tuple[uuid.UUID, str], list[int]]:
    """Open seats per (centre, its region) on each of ``days`` (within the horizon)."""
    now = utcnow()
    today = search_area.today(tenant)
    last = min(days[-1], search_area.horizon(tenant, today))
    found: dict[tuple[uuid.UUID, str], list[int]] = {}
    if days[0] > last:
        return found
    left = func.sum(Slot.capacity - Slot.booked)
    stmt = _narrowed(
        select(Slot.facility_id, Slot.region_code, Slot.day, Slot.session_id, left),
        tenant.id,
        area,
    ).where(*_open(now, days[0], last))
    stmt = stmt.group_by(Slot.facility_id, Slot.region_code, Slot.day, Slot.session_id)
    async with db.read(tenant_id=tenant.id) as session:
        groups = (await session.execute(stmt)).all()
        admitted: set[uuid.UUID] | None = None
        if query.dose is not None or query.age is not None:
            admitted = set()
            ids = sorted({g.session_id for g in groups})
            for i in range(0, len(ids), _IN_CHUNK):
                chosen = select(Session.id, Session.dose_numbers, Session.eligibility).where(
                    Session.tenant_id == tenant.id, Session.id.in_(ids[i : i + _IN_CHUNK])
                )
                for s in (await session.execute(chosen)).all():
                    if search_area.session_admits(
                        s.dose_numbers, s.eligibility, dose=query.dose, age=query.age, on=today
                    ):
                        admitted.add(s.id)
    for facility_id, region, day, session_id, seats in groups:
        if admitted is not None and session_id not in admitted:
            continue
        row = found.setdefault((facility_id, region), [0] * len(days))
        row[(day - days[0]).days] += int(seats or 0)
    return found


async def _build_calendar(
    db: Database, cache: Cache, tenant: TenantInfo, query: CalendarQuery
) -> bytes:
    today = search_area.today(tenant)
    first = max(query.start or today, today)
    days = [first + dt.timedelta(days=n) for n in range(CALENDAR_DAYS)]
    area = await search_area.resolve(db, cache, tenant, query, today)
    seats = await _seats_by_day(db, tenant, query, area, days)
    if area.places is not None:
        order = {facility_id: n for n, facility_id in enumerate(area.places)}
        keys = sorted(seats, key=lambda k: order.get(k[0], len(order)))
    else:
        keys = sorted(seats, key=lambda k: (k[1], str(k[0])))
    start = (query.page - 1) * query.limit
    chosen = keys[start : start + query.limit]
    rows = []
    for facility_id, region in chosen:
        where = await search_area.place(db, cache, tenant, area, facility_id)
        if where is not None:
            counts = seats[(facility_id, region)]
            place = PlaceOut.model_validate(where)
            rows.append(CalendarRow(facility=place, seats=counts, total=sum(counts)))
    more = len(keys) > start + query.limit
    page = CalendarPage(
        days=days, facilities=rows, page=query.page, next_page=query.page + 1 if more else None
    )
    return orjson.dumps(page.model_dump(mode="json"))


async def slot_calendar(
    *, db: Database, cache: Cache, tenant: TenantInfo, query: CalendarQuery
) -> Answer:
    """Open seats per centre and day over 7 days, as served (JSON bytes and ETag)."""
    search_area.check(tenant, query)
    key = {"calendar": query.model_dump(mode="json"), "today": str(search_area.today(tenant))}
    return await cached_answer(
        cache=cache,
        tenant_id=tenant.id,
        key=key,
        build=lambda: _build_calendar(db, cache, tenant, query),
    )
