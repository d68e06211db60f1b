"""Ending waitlist offers nobody answered, and places whose days have passed.

The expiry job (a worker companion, :mod:`vaxport.scheduling.fairness.jobs`) ends every
held appointment whose ``hold_expires_at`` has passed, through
:func:`appointments.end` (``released``, reason ``hold_expired``, event
``appointment.hold_expired``: the waitlist's subscriber then offers the seat to the next
place) and marks its place ``lapsed``. Each hold is ended at the version read, so two
workers never give a seat back twice; an accept that won the race leaves nothing to end.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork, affected
from vaxport.scheduling.appointments import end
from vaxport.scheduling.availability import slots_changed
from vaxport.scheduling.events import (
    APPOINTMENT_HOLD_EXPIRED,
)
from vaxport.scheduling.models import Appointment, WaitlistEntry
from vaxport.scheduling.reach import local_today
from vaxport.tenancy.service import TenantInfo

# Holds ended per round of the job (each in its own short transaction).
_EXPIRE_BATCH = 200


async def expire_holds(
    *, db: Database, cache: Cache | None, tenant: TenantInfo, now: dt.datetime | None = None
) -> int:
    """End the holds of ``tenant`` that lapsed unanswered (each ``appointment.hold_expired``,
    which offers the seat to the next place); how many. Without ``cache`` (the worker's
    job) the event's subscriber makes the public search stale."""
    now = now or utcnow()
    async with db.read(tenant_id=tenant.id) as session:
        due = list(
            (
                await session.scalars(
                    select(Appointment.id)
                    .where(
                        Appointment.tenant_id == tenant.id,
                        Appointment.status == "held",
                        Appointment.hold_expires_at <= now,
                    )
                    .order_by(Appointment.hold_expires_at)
                    .limit(_EXPIRE_BATCH)
                )
            ).all()
        )
    ended = 0
    for appointment_id in due:
        async with db.transaction(tenant_id=tenant.id) as uow:
            held = await uow.session.scalar(
                select(Appointment).where(
                    Appointment.tenant_id == tenant.id,
                    Appointment.id == appointment_id,
                    Appointment.status == "held",
                    Appointment.hold_expires_at <= now,
                )
            )
            if held is None:
                continue  # accepted or ended meanwhile
            if await end(
                uow, held, "released", reason="hold_expired", event=APPOINTMENT_HOLD_EXPIRED
            ):
                await settle_place(uow, held.id, "lapsed", now)
                ended += 1
    if ended and cache is not None:
        await slots_changed(cache, tenant.id)
    return ended


async def settle_place(
    uow: UnitOfWork, appointment_id: uuid.UUID, status: str, now: dt.datetime
) -> None:
    """The place offered this appointment moves to ``status`` (``lapsed``, ``declined``;
    ``waiting`` again when its seat was taken away by a cancelled session)."""
    values: dict[str, object] = {
        "status": status,
        "updated_at": now,
        "version": WaitlistEntry.version + 1,
    }
    if status == "waiting":
        values["appointment_id"] = None
    else:
        values["ended_reason"] = status
    await uow.session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.appointment_id == appointment_id, WaitlistEntry.status == "offered")
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def close_passed(*, db: Database, tenant: TenantInfo, now: dt.datetime | None = None) -> int:
    """Close the waiting places whose last day has passed; how many."""
    now = now or utcnow()
    passed = (
        WaitlistEntry.tenant_id == tenant.id,
        WaitlistEntry.status == "waiting",
        WaitlistEntry.to_day < local_today(tenant, now),
    )
    # Every worker runs this every round: a read first, so a round with nothing to close
    # takes no write transaction (on SQLite, the database's one writer lock).
    async with db.read(tenant_id=tenant.id) as session:
        if await session.scalar(select(WaitlistEntry.id).where(*passed).limit(1)) is None:
            return 0
    async with db.transaction(tenant_id=tenant.id) as uow:
        result = await uow.session.execute(
            update(WaitlistEntry)
            .where(*passed)
            .values(
                status="closed",
                ended_reason="days-passed",
                updated_at=now,
                version=WaitlistEntry.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return affected(result)
