"""Sessions and slots as answers: local times in the tenant's zone, seats left.

A closed session's slots take no bookings (stored as ``cancelled``, the one slot status
that refuses a seat; see ``ending``): they are shown as ``closed``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any

from vaxport.scheduling.models import Session, Slot
from vaxport.scheduling.sessions.schemas import SessionOut, SlotOut


def hhmm(instant: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """``instant`` as local "HH:MM"."""
    return instant.astimezone(tz).strftime("%H:%M")


def slot_status(session_status: str, slot: Slot) -> str:
    """What a slot is to readers: open, closed (its session was) or cancelled."""
    if slot.status == "cancelled" and session_status == "closed":
        return "closed"
    return slot.status


def slot_out(slot: Slot, session_status: str, tz: zoneinfo.ZoneInfo) -> SlotOut:
    """One slot, with the seats left (none once it takes no bookings)."""
    status = slot_status(session_status, slot)
    return SlotOut(
        id=slot.id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        start_time=hhmm(slot.starts_at, tz),
        capacity=slot.capacity,
        booked=slot.booked,
        remaining=slot.capacity - slot.booked if status == "open" else 0,
        status=status,
    )


def session_out(
    session: Session,
    tz: zoneinfo.ZoneInfo,
    *,
    booked: int,
    remaining: int,
    slots: Sequence[Slot] | None = None,
    out: type[SessionOut] = SessionOut,
    **extra: Any,
) -> Any:
    """The staff answer for ``session`` (``slots`` given: listed with their seats)."""
    return out(
        id=session.id,
        facility_id=session.facility_id,
        region_code=session.region_code,
        product_id=session.product_id,
        dose_numbers=list(session.dose_numbers),
        eligibility=dict(session.eligibility or {}),
        day=session.day,
        start_time=hhmm(session.starts_at, tz),
        end_time=hhmm(session.ends_at, tz),
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        slot_minutes=session.slot_minutes,
        capacity=session.capacity,
        booked=booked,
        remaining=remaining,
        status=session.status,
        series_id=session.series_id,
        note=session.note,
        version=session.version,
        created_at=session.created_at,
        updated_at=session.updated_at,
        closed_at=session.closed_at,
        slots=None if slots is None else [slot_out(s, session.status, tz) for s in slots],
        **extra,
    )


def with_slots(
    session: Session, slots: Sequence[Slot], tz: zoneinfo.ZoneInfo, **kwargs: Any
) -> Any:
    """:func:`session_out` with every slot and the seat totals counted from them."""
    shown = [slot_out(s, session.status, tz) for s in slots]
    return session_out(
        session,
        tz,
        booked=sum(s.booked for s in shown),
        remaining=sum(s.remaining for s in shown),
        slots=slots,
        **kwargs,
    )
