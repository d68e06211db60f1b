"""Marking the day: a person seen (``completed``), a session closed (the rest ``no_show``).

Both go through :func:`vaxport.scheduling.appointments.end`, the one way an appointment
ends (at the version read; a live one's seat goes back to its slot in the same
transaction). :func:`complete_in` is the seam dose recording calls inside its own
transaction (issue 15): today staff mark a person seen by hand, later the recorded dose
does it. Closing is idempotent: the session's status changes once (a conditional UPDATE
that also serializes two closers), and a retry finds nothing left to mark. Staff close a
session by hand (:func:`close_session`); the worker closes the sessions whose day is over
(:mod:`vaxport.scheduling.attendance.closing`) through the same :func:`close_in`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from vaxport.core import audit
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork, affected
from vaxport.core.errors import Conflict, NotFound, ValidationFailed
from vaxport.core.i18n import N_
from vaxport.core.principal import Principal
from vaxport.identity.service import Actor
from vaxport.scheduling.appointments import end
from vaxport.scheduling.attendance import reach
from vaxport.scheduling.attendance.day import normalise_code, session_view, status_counts
from vaxport.scheduling.attendance.schemas import AppointmentOut, ClosedOut
from vaxport.scheduling.availability import slots_changed
from vaxport.scheduling.events import (
    APPOINTMENT_COMPLETED,
    APPOINTMENT_NO_SHOW,
    SESSION_CLOSED,
    session_event,
)
from vaxport.scheduling.models import Appointment, Session
from vaxport.scheduling.reach import local_today
from vaxport.tenancy.service import TenantInfo

# A no-show may still be seen (a late arrival after the session closed).
COMPLETABLE = ("booked", "no_show")
CHANGED_MEANWHILE = N_("the appointment changed meanwhile: reload and try again")


async def appointment_in(
    uow: UnitOfWork, tenant_id: uuid.UUID, appointment_id: uuid.UUID
) -> Appointment | None:
    """The appointment with this id, as it stands in ``uow``'s transaction."""
    return await uow.session.scalar(
        select(Appointment)
        .where(Appointment.tenant_id == tenant_id, Appointment.id == appointment_id)
        .execution_options(populate_existing=True)
    )


async def appointment_by_code_in(
    uow: UnitOfWork, tenant_id: uuid.UUID, code: str
) -> Appointment | None:
    """The appointment with this booking code (as read aloud: any case, O for 0...);
    None when there is none, or ``code`` cannot be a booking code."""
    try:
        wanted = normalise_code(code)
    except ValidationFailed:
        return None
    return await uow.session.scalar(
        select(Appointment)
        .where(Appointment.tenant_id == tenant_id, Appointment.booking_code == wanted)
        .execution_options(populate_existing=True)
    )


async def complete_in(uow: UnitOfWork, appointment: Appointment) -> bool:
    """Mark ``appointment`` completed (the person was seen) in the caller's transaction.

    True when this call marked it, False when it already was (or someone marked it since
    it was read). 409 when it cannot be: a held seat not yet booked, an ended booking
    (cancelled, released), or another change since it was read. Emits
    ``appointment.completed``.
    """
    if appointment.status == "completed":
        return False
    if appointment.status not in COMPLETABLE:
        raise Conflict(
            N_("only a booked appointment (or a no-show who came late) can be marked seen"),
            appointment_status=appointment.status,
        )
    if await end(uow, appointment, "completed", event=APPOINTMENT_COMPLETED):
        return True
    now = await appointment_in(uow, appointment.tenant_id, appointment.id)
    if now is not None and now.status == "completed":
        return False  # another member of staff marked them seen first
    raise Conflict(CHANGED_MEANWHILE)


async def complete(
    *, db: Database, cache: Cache, tenant: TenantInfo, actor: Actor, appointment_id: uuid.UUID
) -> AppointmentOut:
    """Staff mark a person seen at their centre (on or after the appointment's day)."""
    reach.staff_only(actor)
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await appointment_in(uow, tenant.id, appointment_id)
        if row is None:
            raise NotFound(reach.NO_APPOINTMENT)
        where = reach.located(tenant.id, row.region_code, row.facility_id)
        reach.check(actor, reach.WRITE, where, reach.NO_APPOINTMENT)
        if row.day > local_today(tenant):
            raise Conflict(
                N_("this appointment is on {day}: mark it seen on that day"),
                params={"day": row.day.isoformat()},
            )
        was_live = row.status == "booked"
        if await complete_in(uow, row):
            await audit.record(
                uow,
                by=actor.principal,
                action="appointment.completed",
                object_type="appointment",
                object_id=row.id,
                details={"beneficiary_id": str(row.beneficiary_id)},
            )
            if was_live:
                uow.after_commit(lambda: slots_changed(cache, tenant.id))
            row = await appointment_in(uow, tenant.id, appointment_id) or row
        return AppointmentOut.model_validate(row)


async def _flip_to_closed(uow: UnitOfWork, session: Session) -> bool:
    """Close an open session (conditional on its status); False when it was not open."""
    now = utcnow()
    result = await uow.session.execute(
        update(Session)
        .where(
            Session.tenant_id == session.tenant_id,
            Session.id == session.id,
            Session.status == "open",
        )
        .values(status="closed", closed_at=now, updated_at=now, version=Session.version + 1)
        .execution_options(synchronize_session=False)
    )
    return affected(result) == 1


async def _mark_no_shows(uow: UnitOfWork, session: Session) -> list[Appointment]:
    """End every still-booked appointment of ``session`` as ``no_show``; those marked."""
    booked = list(
        await uow.session.scalars(
            select(Appointment)
            .where(
                Appointment.tenant_id == session.tenant_id,
                Appointment.session_id == session.id,
                Appointment.status == "booked",
            )
            .order_by(Appointment.id)
        )
    )
    # A row someone else ended since it was read (seen just now) is not a no-show.
    return [row for row in booked if await end(uow, row, "no_show", event=APPOINTMENT_NO_SHOW)]


async def close_in(
    uow: UnitOfWork, session: Session, *, by: Principal
) -> tuple[bool, list[Appointment]]:
    """Close ``session``'s attendance in the caller's transaction: the session ``closed``
    (once: ``session.closed``), each still-booked appointment a ``no_show``
    (``appointment.no_show``), audited as ``by``. ``(whether this call closed it, the
    appointments it marked)``; 409 when the session is cancelled."""
    flipped = await _flip_to_closed(uow, session)
    if flipped:
        await session_event(uow, SESSION_CLOSED, session.id)
    else:
        await uow.session.refresh(session)
        if session.status != "closed":  # cancelled meanwhile
            raise Conflict(N_("a cancelled session has no attendance to close"))
    marked = await _mark_no_shows(uow, session)
    if flipped or marked:
        await _audit_close(uow, by, session, marked)
    return flipped, marked


async def close_session(
    *, db: Database, cache: Cache, tenant: TenantInfo, actor: Actor, session_id: uuid.UUID
) -> ClosedOut:
    """Close a session's attendance on or after its day: the people still booked are
    marked ``no_show`` and the session ``closed``. A retry changes nothing more."""
    reach.staff_only(actor)
    async with db.transaction(tenant_id=tenant.id) as uow:
        session = await uow.session.scalar(
            select(Session)
            .where(Session.tenant_id == tenant.id, Session.id == session_id)
            .execution_options(populate_existing=True)
        )
        if session is None:
            raise NotFound(reach.NO_SESSION)
        where = reach.located(tenant.id, session.region_code, session.facility_id)
        reach.check(actor, reach.WRITE, where, reach.NO_SESSION)
        if session.status == "cancelled":
            raise Conflict(N_("a cancelled session has no attendance to close"))
        if session.day > local_today(tenant):
            raise Conflict(
                N_("a session is closed on or after its day ({day})"),
                params={"day": session.day.isoformat()},
            )
        _, marked = await close_in(uow, session, by=actor.principal)
        if marked:
            uow.after_commit(lambda: slots_changed(cache, tenant.id))
        await uow.session.refresh(session)
        counts = await status_counts(uow.session, tenant.id, [session.id])
        view = session_view(session, counts[session.id])
    return ClosedOut(**view.model_dump(), marked_no_show=len(marked))


async def _audit_close(
    uow: UnitOfWork, by: Principal, session: Session, marked: list[Appointment]
) -> None:
    entries: list[audit.EntryFields] = [
        {
            "action": "session.attendance_closed",
            "object_type": "session",
            "object_id": session.id,
            "details": {"facility_id": str(session.facility_id), "no_shows": len(marked)},
        }
    ]
    entries += [
        {
            "action": "appointment.no_show",
            "object_type": "appointment",
            "object_id": row.id,
            "details": {"beneficiary_id": str(row.beneficiary_id)},
        }
        for row in marked
    ]
    await audit.record_many(uow, by=by, entries=entries)
