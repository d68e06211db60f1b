"""Reading sessions: one with its slots and seats left, and the staff list within reach.

The list runs by local day, then start time (then id), with a cursor of the last row's
``(day, starts_at, id)``; each page's booked and remaining seats come from one grouped
query over its sessions' slots. No personal data is read, so nothing is audited.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
import zoneinfo
from collections.abc import Sequence

import orjson
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.db import Database
from vaxport.core.errors import NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor
from vaxport.scheduling.models import Session, Slot
from vaxport.scheduling.sessions import present
from vaxport.scheduling.sessions.reach import NO_SESSION, READ, reaches_session, session_filter
from vaxport.scheduling.sessions.schemas import ListQuery, SessionOut, SessionPage
from vaxport.tenancy.service import TenantInfo

BAD_CURSOR = N_("is not a cursor this list gave out: start from the first page")


async def slots_of(session: AsyncSession, session_row: Session) -> list[Slot]:
    """A session's slots in time order."""
    rows = await session.scalars(
        select(Slot)
        .where(Slot.tenant_id == session_row.tenant_id, Slot.session_id == session_row.id)
        .order_by(Slot.starts_at, Slot.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def seat_totals(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """``(booked, remaining)`` of each session in ``ids`` (remaining: open slots only)."""
    if not ids:
        return {}
    remaining = case((Slot.status == "open", Slot.capacity - Slot.booked), else_=0)
    rows = await session.execute(
        select(Slot.session_id, func.sum(Slot.booked), func.sum(remaining))
        .where(Slot.tenant_id == tenant_id, Slot.session_id.in_(list(ids)))
        .group_by(Slot.session_id)
    )
    return {sid: (int(b or 0), int(r or 0)) for sid, b, r in rows.all()}


async def get_session(
    *, db: Database, tenant: TenantInfo, actor: Actor, session_id: uuid.UUID
) -> SessionOut:
    """One session in reach with its slots and the seats left in each; 404 otherwise."""
    tz = zoneinfo.ZoneInfo(tenant.config.timezone)
    async with db.read(tenant_id=tenant.id) as s:
        row = await s.scalar(
            select(Session).where(Session.tenant_id == tenant.id, Session.id == session_id)
        )
        if row is None or not reaches_session(actor, READ, row):
            raise NotFound(NO_SESSION)
        slots = await slots_of(s, row)
        out: SessionOut = present.with_slots(row, slots, tz)
    return out


def _encode(row: Session) -> str:
    raw = orjson.dumps([row.day.isoformat(), row.starts_at.isoformat(), str(row.id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[dt.date, dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        day, starts, sid = orjson.loads(raw)
        after = dt.datetime.fromisoformat(starts)
        if after.tzinfo is None:
            raise ValueError("naive")
        return dt.date.fromisoformat(day), after, uuid.UUID(sid)
    except (ValueError, TypeError, AttributeError, orjson.JSONDecodeError) as exc:
        raise invalid("cursor", BAD_CURSOR) from exc


async def list_sessions(
    *, db: Database, tenant: TenantInfo, actor: Actor, query: ListQuery
) -> SessionPage:
    """Sessions in the actor's reach by day and start, filtered; ``limit`` per page."""
    if query.from_day and query.to_day and query.to_day < query.from_day:
        raise invalid("to_day", N_("is before the first day: choose a later date"))
    tz = zoneinfo.ZoneInfo(tenant.config.timezone)
    stmt = select(Session).where(Session.tenant_id == tenant.id, session_filter(actor))
    if query.facility_id is not None:
        stmt = stmt.where(Session.facility_id == query.facility_id)
    if query.from_day is not None:
        stmt = stmt.where(Session.day >= query.from_day)
    if query.to_day is not None:
        stmt = stmt.where(Session.day <= query.to_day)
    if query.status is not None:
        stmt = stmt.where(Session.status == query.status)
    if query.cursor is not None:
        day, starts_at, last = _decode(query.cursor)
        stmt = stmt.where(
            or_(
                Session.day > day,
                and_(Session.day == day, Session.starts_at > starts_at),
                and_(Session.day == day, Session.starts_at == starts_at, Session.id > last),
            )
        )
    stmt = stmt.order_by(Session.day, Session.starts_at, Session.id).limit(query.limit + 1)
    async with db.read(tenant_id=tenant.id) as s:
        rows = list(await s.scalars(stmt))
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        totals = await seat_totals(s, tenant.id, [r.id for r in rows])
        items = [
            present.session_out(
                r, tz, booked=totals.get(r.id, (0, 0))[0], remaining=totals.get(r.id, (0, 0))[1]
            )
            for r in rows
        ]
        next_cursor = _encode(rows[-1]) if more and rows else None
    return SessionPage(items=items, next_cursor=next_cursor)
