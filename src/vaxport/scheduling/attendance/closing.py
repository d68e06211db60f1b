"""Sessions close themselves once their day is over: the worker does what staff forgot.

A session still ``open`` after its local day (the tenant's time zone) has passed by
``booking.close_sessions_after_days`` (default :data:`CLOSE_AFTER_DAYS`) is closed as
staff close it (:func:`marks.close_in`: the session ``closed``, whoever is still booked a
``no_show``, the same events and messages), audited as the system. The job is a step of
the scheduling worker companion (``fairness/jobs.py``), which every worker runs: each
session is closed in its own transaction by the conditional UPDATE that serializes two
closers, so two workers close it once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import Conflict
from vaxport.core.principal import SYSTEM
from vaxport.scheduling.attendance.marks import close_in
from vaxport.scheduling.availability import slots_changed
from vaxport.scheduling.models import Session
from vaxport.scheduling.reach import local_today
from vaxport.tenancy.service import TenantInfo

CLOSE_AFTER_DAYS = 1
"""Days after its local day when an open session is closed, unless the tenant says
(``booking.close_sessions_after_days``): the next local day, so staff keep the evening of
the day to mark late arrivals and close it themselves."""
# Sessions closed per round (each in its own short transaction); the rest wait a round.
_BATCH = 100


def close_after_days(tenant: TenantInfo) -> int:
    """The tenant's ``booking.close_sessions_after_days``, or :data:`CLOSE_AFTER_DAYS`."""
    return tenant.config.booking.close_sessions_after_days or CLOSE_AFTER_DAYS


async def close_ended(
    *, db: Database, tenant: TenantInfo, cache: Cache | None = None, now: dt.datetime | None = None
) -> int:
    """Close the attendance of ``tenant``'s open sessions whose day is over; how many this
    call closed (another worker's are not counted)."""
    now = now or utcnow()
    due = (
        Session.tenant_id == tenant.id,
        Session.status == "open",
        Session.day <= local_today(tenant, now) - dt.timedelta(days=close_after_days(tenant)),
        Session.ends_at <= now,
    )
    # Every worker runs this every round: a read first, so a round with nothing to close
    # (almost every round) takes no write transaction (on SQLite, the one writer lock).
    async with db.read(tenant_id=tenant.id) as session:
        ids = list(
            (
                await session.scalars(
                    select(Session.id).where(*due).order_by(Session.day, Session.id).limit(_BATCH)
                )
            ).all()
        )
    closed = marked = 0
    for session_id in ids:
        try:
            async with db.transaction(tenant_id=tenant.id) as uow:
                row = await uow.session.scalar(
                    select(Session)
                    .where(*due, Session.id == session_id)
                    .execution_options(populate_existing=True)
                )
                if row is None:
                    continue  # closed or cancelled meanwhile
                flipped, no_shows = await close_in(uow, row, by=SYSTEM)
        except Conflict:
            continue  # cancelled between the read and the close: nothing to close
        closed += flipped
        marked += len(no_shows)
    # As staff's close does (the worker's companion holds no cache, and a past session's
    # slots are offered to nobody anyway).
    if marked and cache is not None:
        await slots_changed(cache, tenant.id)
    return closed
