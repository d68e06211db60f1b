"""What the citizen booking pages read: open seats by centre, by day, and a day's slots.

A slot counts when a person could take it now: the slot and its session open, released
(no ``release_at`` to come), not started, within the tenant's ``booking.days_ahead``,
and with a seat left. ``product_id``/``dose_number`` narrow to the sessions giving that
product and dose (moving an appointment). Seat counts are read straight from the
database (the page is behind a sign-in and must match what booking will meet); the
booking itself is the only judge of a seat (``booking.py``).

The public, cached search (``search.py``) answers anonymous visitors; these reads are
deliberately small and uncached.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.scheduling.models import Session as SessionRow
from vaxport.scheduling.models import Slot
from vaxport.scheduling.reach import local_today
from vaxport.tenancy.service import TenantInfo

__all__ = ["OpenSlot", "SlotInfo", "open_days", "open_places", "open_slots", "slot_info"]

# Centres one place search lists at most (the page asks to narrow the area beyond).
PLACES_MAX = 50


@dataclass(frozen=True, slots=True)
class OpenSlot:
    """A slot someone could book now, and its free seats."""

    id: uuid.UUID
    starts_at: dt.datetime
    ends_at: dt.datetime
    product_id: str
    remaining: int


@dataclass(frozen=True, slots=True)
class SlotInfo:
    """A slot as the confirmation step shows it (whatever its state)."""

    id: uuid.UUID
    facility_id: uuid.UUID
    product_id: str
    day: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    dose_numbers: tuple[int, ...]
    remaining: int


def _window(tenant: TenantInfo) -> tuple[dt.date, dt.date]:
    today = local_today(tenant)
    return today, today + dt.timedelta(days=tenant.config.booking.days_ahead)


def _bookable(tenant: TenantInfo, product_id: str | None) -> list[Any]:
    """The conditions of a slot a person could take now (joined to its session)."""
    now = utcnow()
    first, last = _window(tenant)
    where: list[Any] = [
        Slot.tenant_id == tenant.id,
        Slot.day >= first,
        Slot.day <= last,
        Slot.status == "open",
        Slot.starts_at > now,
        Slot.booked < Slot.capacity,
        SessionRow.status == "open",
        or_(SessionRow.release_at.is_(None), SessionRow.release_at <= now),
    ]
    if product_id is not None:
        where.append(Slot.product_id == product_id)
    return where


def _gives(doses: Sequence[int] | None, dose_number: int | None) -> bool:
    return dose_number is None or not doses or dose_number in doses


async def _by_session(
    db: Database,
    tenant: TenantInfo,
    where: list[Any],
    dose_number: int | None,
) -> list[tuple[uuid.UUID, dt.date, int]]:
    """``(facility_id, day, free seats)`` per open session matching ``where``."""
    seats = func.sum(Slot.capacity - Slot.booked)
    stmt = (
        select(Slot.session_id, Slot.facility_id, Slot.day, seats)
        .join(SessionRow, SessionRow.id == Slot.session_id)
        .where(*where)
        .group_by(Slot.session_id, Slot.facility_id, Slot.day)
    )
    async with db.read(tenant_id=tenant.id) as session:
        rows = (await session.execute(stmt)).all()
        doses: dict[uuid.UUID, list[int]] = {}
        if dose_number is not None and rows:
            ids = [r[0] for r in rows]
            found = await session.execute(
                select(SessionRow.id, SessionRow.dose_numbers).where(SessionRow.id.in_(ids))
            )
            doses = {i: list(d or ()) for i, d in found.all()}
    return [
        (facility, day, int(free))
        for session_id, facility, day, free in rows
        if _gives(doses.get(session_id), dose_number)
    ]


async def open_places(
    *,
    db: Database,
    tenant: TenantInfo,
    region_codes: Sequence[str] | None = None,
    facility_ids: Sequence[uuid.UUID] | None = None,
    product_id: str | None = None,
    dose_number: int | None = None,
) -> dict[uuid.UUID, int]:
    """Free seats per centre over the booking window, for centres in ``region_codes``
    (a region subtree's codes) or among ``facility_ids``; the ``PLACES_MAX`` with most."""
    where = _bookable(tenant, product_id)
    if region_codes is not None:
        where.append(Slot.region_code.in_(list(region_codes)))
    if facility_ids is not None:
        where.append(Slot.facility_id.in_(list(facility_ids)))
    totals: dict[uuid.UUID, int] = {}
    for facility, _day, free in await _by_session(db, tenant, where, dose_number):
        totals[facility] = totals.get(facility, 0) + free
    best = sorted(totals.items(), key=lambda item: -item[1])[:PLACES_MAX]
    return dict(best)


async def open_days(
    *,
    db: Database,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    product_id: str | None = None,
    dose_number: int | None = None,
) -> list[tuple[dt.date, int]]:
    """The days of the booking window with free seats at ``facility_id``, and how many."""
    where = [*_bookable(tenant, product_id), Slot.facility_id == facility_id]
    days: dict[dt.date, int] = {}
    for _facility, day, free in await _by_session(db, tenant, where, dose_number):
        days[day] = days.get(day, 0) + free
    return sorted(days.items())


async def open_slots(
    *,
    db: Database,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    day: dt.date,
    product_id: str | None = None,
    dose_number: int | None = None,
) -> list[OpenSlot]:
    """The slots of ``day`` at ``facility_id`` with a free seat, in time order."""
    where = [*_bookable(tenant, product_id), Slot.facility_id == facility_id, Slot.day == day]
    stmt = (
        select(
            Slot.id,
            Slot.starts_at,
            Slot.ends_at,
            Slot.product_id,
            Slot.capacity - Slot.booked,
            SessionRow.dose_numbers,
        )
        .join(SessionRow, SessionRow.id == Slot.session_id)
        .where(*where)
        .order_by(Slot.starts_at, Slot.id)
    )
    async with db.read(tenant_id=tenant.id) as session:
        rows = (await session.execute(stmt)).all()
    return [
        OpenSlot(slot_id, starts, ends, product, int(free))
        for slot_id, starts, ends, product, free, doses in rows
        if _gives(doses, dose_number)
    ]


async def slot_info(*, db: Database, tenant: TenantInfo, slot_id: uuid.UUID) -> SlotInfo | None:
    """A slot of the tenant as the confirmation step shows it; None when there is none."""
    stmt = (
        select(
            Slot.facility_id,
            Slot.product_id,
            Slot.day,
            Slot.starts_at,
            Slot.ends_at,
            SessionRow.dose_numbers,
            Slot.capacity - Slot.booked,
            Slot.status,
            SessionRow.status,
        )
        .join(SessionRow, SessionRow.id == Slot.session_id)
        .where(Slot.tenant_id == tenant.id, Slot.id == slot_id)
    )
    async with db.read(tenant_id=tenant.id) as session:
        row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    facility, product, day, starts, ends, doses, free, status, session_status = row
    is_open = status == "open" and session_status == "open"
    return SlotInfo(
        slot_id,
        facility,
        product,
        day,
        starts,
        ends,
        tuple(doses or ()),
        int(free) if is_open else 0,
    )
