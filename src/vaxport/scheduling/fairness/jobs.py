"""The worker's side of fairness: the waitlist's subscriber and the periodic jobs.

- :data:`SUBSCRIBERS`: a seat freed (``appointment.cancelled``, ``.released``,
  ``.hold_expired``), published (``session.published``) or left after a draw
  (``release.drawn``) is offered to the waitlist;
  the place an ended offer belonged to is settled first (declined, lapsed, or waiting
  again when its session was cancelled). Idempotent: a redelivered event finds no free
  seat, or offers one that is free.
- :func:`run_fairness_jobs` (a worker companion, scheduling's): every few seconds, per
  tenant, draws the released sessions whose window closed, ends lapsed holds, closes
  places whose days have passed and closes the attendance of sessions whose day is over
  (:mod:`vaxport.scheduling.attendance.closing`). Every worker may run it: each step is
  safe to run twice at once, and reads before it writes.
  A companion has no cache: the seats a draw or an expiry changed make the public search
  stale through their events' subscriber (here), whose cache is the process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.logging import get_logger
from vaxport.core.outbox import Event, HandlerContext, Subscriber
from vaxport.scheduling import hold_expiry, holds, release_draw
from vaxport.scheduling.attendance import closing
from vaxport.scheduling.availability import slots_changed
from vaxport.scheduling.events import (
    APPOINTMENT_CANCELLED,
    APPOINTMENT_HOLD_EXPIRED,
    APPOINTMENT_RELEASED,
    RELEASE_DRAWN,
    SESSION_PUBLISHED,
)
from vaxport.scheduling.models import Appointment, Slot
from vaxport.tenancy.service import TenantInfo, get_tenant_by_id, get_tenant_in, tenant_ids

log = get_logger(__name__)

FREEING_EVENTS = (
    APPOINTMENT_CANCELLED,
    APPOINTMENT_RELEASED,
    APPOINTMENT_HOLD_EXPIRED,
    SESSION_PUBLISHED,
    RELEASE_DRAWN,
)
# What becomes of the place whose offer ended, by the event that ended it.
_SETTLED = {
    APPOINTMENT_CANCELLED: "declined",
    APPOINTMENT_HOLD_EXPIRED: "lapsed",
    APPOINTMENT_RELEASED: "waiting",
}


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def _freed_slots(
    db: Database, tenant: TenantInfo, event: Event, now: dt.datetime
) -> list[uuid.UUID]:
    """The slots whose seats the event may have freed (settling an ended offer's place)."""
    if event.event_type in (SESSION_PUBLISHED, RELEASE_DRAWN):
        session_id = _uuid(event.payload.get("session_id"))
        async with db.read(tenant_id=tenant.id) as s:
            rows = await s.scalars(
                select(Slot.id)
                .where(Slot.tenant_id == tenant.id, Slot.session_id == session_id)
                .order_by(Slot.starts_at, Slot.id)
            )
            return list(rows.all())
    appointment_id = _uuid(event.payload.get("appointment_id"))
    async with db.transaction(tenant_id=tenant.id) as uow:
        ended = await uow.session.scalar(
            select(Appointment).where(
                Appointment.tenant_id == tenant.id, Appointment.id == appointment_id
            )
        )
        if ended is None:
            return []
        status = _SETTLED[event.event_type]
        if ended.ended_reason == "hold_expired":
            status = "lapsed"
        await hold_expiry.settle_place(uow, ended.id, status, now)
        return [ended.slot_id]


# Seats changed by the worker's jobs, which hold no cache (see the module docstring).
_SEATS_CHANGED_BY_JOBS = (RELEASE_DRAWN, APPOINTMENT_HOLD_EXPIRED)


async def offer_freed_seats(event: Event, ctx: HandlerContext) -> None:
    """Offer the seats an event freed to the waitlist (see the module docstring)."""
    if event.tenant_id is None:
        return
    tenant = await get_tenant_by_id(db=ctx.db, cache=ctx.cache, tenant_id=event.tenant_id)
    now = utcnow()
    slots = await _freed_slots(ctx.db, tenant, event, now)
    if slots:
        await holds.offer_seats(db=ctx.db, cache=ctx.cache, tenant=tenant, slot_ids=slots, now=now)
    if event.event_type in _SEATS_CHANGED_BY_JOBS:
        await slots_changed(ctx.cache, tenant.id)


SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber.each("scheduling.waitlist-offer", FREEING_EVENTS, offer_freed_seats),
)


@dataclass(frozen=True, slots=True)
class Round:
    """What one round of the jobs did, across tenants."""

    drawn: int = 0
    expired: int = 0
    closed: int = 0
    sessions_closed: int = 0


async def run_once(
    *,
    db: Database,
    cache: Cache | None = None,
    now: dt.datetime | None = None,
    rng: random.Random | None = None,
) -> Round:
    """One round of the jobs over every tenant (``rng``: a seeded one in tests only)."""
    now = now or utcnow()
    drawn = expired = closed = sessions_closed = 0
    for tenant_id in await tenant_ids(db):
        async with db.read(tenant_id=tenant_id) as session:
            tenant = await get_tenant_in(session=session, tenant_id=tenant_id)
        drawn += await release_draw.draw_due(db=db, cache=cache, tenant=tenant, now=now, rng=rng)
        expired += await hold_expiry.expire_holds(db=db, cache=cache, tenant=tenant, now=now)
        closed += await hold_expiry.close_passed(db=db, tenant=tenant, now=now)
        sessions_closed += await closing.close_ended(db=db, cache=cache, tenant=tenant, now=now)
    return Round(drawn, expired, closed, sessions_closed)


async def run_fairness_jobs(
    db: Database, stop: asyncio.Event, interval_seconds: float = 2.0
) -> None:
    """Run :func:`run_once` every ``interval_seconds`` until ``stop`` (a worker companion).

    Errors are logged and retried next round; they never end the loop.
    """
    while not stop.is_set():
        try:
            done = await run_once(db=db)
            if done.drawn or done.expired or done.closed or done.sessions_closed:
                log.info(
                    "scheduling.fairness_round",
                    drawn=done.drawn,
                    expired=done.expired,
                    closed=done.closed,
                    sessions_closed=done.sessions_closed,
                )
        except Exception:
            log.exception("scheduling.fairness_round_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
