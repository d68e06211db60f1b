"""Ending sessions: close one to new bookings, cancel one (or one slot), and cancel a
closed-down centre's sessions.

- **Close** (its day is over, or the manager stops bookings early): the session is
  ``closed`` and its slots take no new seat; the appointments it holds stand (they are
  vaccinated, or marked no-show, as planned). A slot has two statuses (``open`` and
  ``cancelled``, the one that refuses a seat in ``seats.take``), so a closed session's
  slots are stored ``cancelled`` and shown ``closed`` (``present.slot_status``).
- **Cancel** (before it ends): the session and its slots are ``cancelled`` and every live
  appointment is ended through ``appointments.end`` as ``released`` (reason
  ``session_cancelled``, event ``appointment.released``: the person is told and offered
  to rebook); its seats return. The slots are marked first, so a booking racing the
  cancellation either committed before (and is released here) or finds the slot shut.
- **Cancel a slot**: the same for one slot of a session that is not cancelled.
- A centre's ``facility.deactivated`` event cancels its sessions that have not ended.

The session row is locked while it changes (``FOR NO KEY UPDATE``: a booking's
foreign-key check takes ``KEY SHARE`` on it, which ``FOR UPDATE`` would block while the
booking holds its slot, the very slot the cancellation waits for: a deadlock), so two
managers' acts on one session run one after the other; each act emits its ``session.*``
event and an audit entry, and once committed tells cached searches that seats changed.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

from sqlalchemy import ColumnElement, and_, select, update

from vaxport.core import audit
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, NotFound
from vaxport.core.i18n import N_
from vaxport.core.principal import SYSTEM, Principal
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor
from vaxport.scheduling import availability
from vaxport.scheduling.appointments import end
from vaxport.scheduling.events import (
    APPOINTMENT_RELEASED,
    SESSION_CANCELLED,
    SESSION_CHANGED,
    SESSION_CLOSED,
    session_event,
)
from vaxport.scheduling.models import LIVE_STATUSES, Appointment, Session, Slot
from vaxport.scheduling.sessions import present
from vaxport.scheduling.sessions.reach import NO_SESSION, WRITE, reaches_session
from vaxport.scheduling.sessions.reads import slots_of
from vaxport.scheduling.sessions.schemas import EndedOut
from vaxport.tenancy.service import TenantInfo, get_tenant_by_id

RELEASE_REASON = "session_cancelled"
# Passes over a session's live appointments: one that changed under us is read again.
_RELEASE_PASSES = 3
NO_SLOT = N_("slot not found")


def _seats_changed(uow: UnitOfWork, cache: Cache, tenant_id: uuid.UUID) -> None:
    async def changed() -> None:
        await availability.slots_changed(cache, tenant_id)

    uow.after_commit(changed)


async def _locked(uow: UnitOfWork, tenant_id: uuid.UUID, session_id: uuid.UUID) -> Session | None:
    found: Session | None = await uow.session.scalar(
        select(Session)
        .where(Session.tenant_id == tenant_id, Session.id == session_id)
        .with_for_update(key_share=True)
    )
    return found


async def _in_reach(uow: UnitOfWork, actor: Actor, session_id: uuid.UUID) -> Session:
    assert uow.tenant_id is not None
    row = await _locked(uow, uow.tenant_id, session_id)
    if row is None or not reaches_session(actor, WRITE, row):
        raise NotFound(NO_SESSION)
    return row


def _touch(row: Session, status: str, now: dt.datetime) -> None:
    row.status = status
    row.closed_at = row.closed_at or now
    row.updated_at = now
    row.version += 1


async def _shut_slots(uow: UnitOfWork, row: Session, *only: ColumnElement[bool]) -> None:
    """Slots of ``row`` (those matching ``only``) take no seat from now on."""
    await uow.session.execute(
        update(Slot)
        .where(Slot.tenant_id == row.tenant_id, Slot.session_id == row.id, *only)
        .values(status="cancelled", version=Slot.version + 1)
        .execution_options(synchronize_session=False)
    )


async def release(uow: UnitOfWork, tenant_id: uuid.UUID, where: ColumnElement[bool]) -> int:
    """End every live appointment matching ``where`` as released; how many were."""
    released = 0
    for _ in range(_RELEASE_PASSES):
        live = list(
            await uow.session.scalars(
                select(Appointment)
                .where(
                    Appointment.tenant_id == tenant_id,
                    where,
                    Appointment.status.in_(LIVE_STATUSES),
                )
                .order_by(Appointment.id)
                .execution_options(populate_existing=True)
            )
        )
        if not live:
            break
        for appointment in live:
            if await end(
                uow, appointment, "released", reason=RELEASE_REASON, event=APPOINTMENT_RELEASED
            ):
                released += 1
    return released


async def cancel_in(uow: UnitOfWork, row: Session, *, by: Principal, cause: str) -> int:
    """Cancel ``row`` (locked, not cancelled) in ``uow``; the appointments released."""
    await _shut_slots(uow, row, Slot.status != "cancelled")
    _touch(row, "cancelled", utcnow())
    # By centre and day first: that is the index appointments have (none by session).
    of_session = and_(
        Appointment.facility_id == row.facility_id,
        Appointment.day == row.day,
        Appointment.session_id == row.id,
    )
    released = await release(uow, row.tenant_id, of_session)
    await session_event(uow, SESSION_CANCELLED, row.id)
    await audit.record(
        uow,
        by=by,
        action="session.cancel",
        object_type="session",
        object_id=row.id,
        details={"released": released, "cause": cause},
    )
    return released


async def _answer(uow: UnitOfWork, tenant: TenantInfo, row: Session, released: int) -> EndedOut:
    tz = zoneinfo.ZoneInfo(tenant.config.timezone)
    slots = await slots_of(uow.session, row)
    out: EndedOut = present.with_slots(row, slots, tz, out=EndedOut, released=released)
    return out


async def close_session(
    *, db: Database, cache: Cache, tenant: TenantInfo, actor: Actor, session_id: uuid.UUID
) -> EndedOut:
    """Stop new bookings of a session; its appointments stand. Closing twice is a no-op."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await _in_reach(uow, actor, session_id)
        if row.status == "cancelled":
            raise Conflict(N_("the session was cancelled: there is nothing to close"))
        if row.status == "open":
            await _shut_slots(uow, row, Slot.status == "open")
            _touch(row, "closed", utcnow())
            await session_event(uow, SESSION_CLOSED, row.id)
            await audit.record(
                uow,
                by=actor.principal,
                action="session.close",
                object_type="session",
                object_id=row.id,
            )
            _seats_changed(uow, cache, tenant.id)
        return await _answer(uow, tenant, row, 0)


async def cancel_session(
    *, db: Database, cache: Cache, tenant: TenantInfo, actor: Actor, session_id: uuid.UUID
) -> EndedOut:
    """Cancel a session that has not ended: its appointments are released (and their
    people told). Cancelling twice is a no-op."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await _in_reach(uow, actor, session_id)
        released = 0
        if row.status != "cancelled":
            if row.ends_at <= utcnow():
                raise Conflict(N_("the session is over: close it instead of cancelling it"))
            released = await cancel_in(uow, row, by=actor.principal, cause="staff")
            _seats_changed(uow, cache, tenant.id)
        return await _answer(uow, tenant, row, released)


async def cancel_slot(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    actor: Actor,
    session_id: uuid.UUID,
    slot_id: uuid.UUID,
) -> EndedOut:
    """Cancel one slot of a session (its appointments released); a no-op once done."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await _in_reach(uow, actor, session_id)
        slot = await uow.session.scalar(
            select(Slot).where(
                Slot.tenant_id == tenant.id, Slot.session_id == row.id, Slot.id == slot_id
            )
        )
        if slot is None:
            raise NotFound(NO_SLOT)
        released = 0
        if row.status != "cancelled":
            if slot.ends_at <= utcnow():
                raise Conflict(N_("the slot is over: there is nothing to cancel"))
            await _shut_slots(uow, row, Slot.id == slot.id, Slot.status != "cancelled")
            released = await release(uow, tenant.id, Appointment.slot_id == slot.id)
            row.updated_at = utcnow()
            row.version += 1
            await session_event(uow, SESSION_CHANGED, row.id)
            await audit.record(
                uow,
                by=actor.principal,
                action="session.cancel_slot",
                object_type="session",
                object_id=row.id,
                details={"slot_id": str(slot.id), "released": released},
            )
            _seats_changed(uow, cache, tenant.id)
        return await _answer(uow, tenant, row, released)


async def cancel_at_facility(
    *, db: Database, cache: Cache, tenant_id: uuid.UUID, facility_id: uuid.UUID
) -> int:
    """Cancel the sessions of a deactivated centre that have not ended; how many.

    Nothing happens if the centre is active again (the event arrived late), and a second
    delivery finds nothing left to cancel.
    """
    tenant = await get_tenant_by_id(db=db, cache=cache, tenant_id=tenant_id)
    try:
        centre = await facilities.get(db=db, tenant=tenant, facility_id=facility_id)
    except NotFound:
        return 0
    if centre.active:
        return 0
    async with db.transaction(tenant_id=tenant_id) as uow:
        rows = list(
            await uow.session.scalars(
                select(Session)
                .where(
                    Session.tenant_id == tenant_id,
                    Session.facility_id == facility_id,
                    Session.status.in_(("open", "closed")),
                    Session.ends_at > utcnow(),
                )
                .order_by(Session.day, Session.id)
                .with_for_update(key_share=True)
            )
        )
        for row in rows:
            await cancel_in(uow, row, by=SYSTEM, cause="facility_deactivated")
        if rows:
            _seats_changed(uow, cache, tenant_id)
    return len(rows)
