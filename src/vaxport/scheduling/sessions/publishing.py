"""Publishing sessions: a request checked, then its sessions and slots written in bulk.

:func:`publish` is the use case (a centre's manager, or an admin whose region holds the
centre); :func:`write_sessions` the writer it shares with the demo: every session, slot,
``session.published`` event, audit entry (and the Idempotency-Key's kept answer) of one
request in one :func:`~vaxport.core.db.write_batch`, so a series of a hundred sessions
costs a few statements and commits or vanishes whole. Once committed, cached searches are
told seats changed (``availability.slots_changed``).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, Rows, UnitOfWork, write_batch
from vaxport.core.idempotency import Claim, Keep, kept_created
from vaxport.core.ids import uuid7
from vaxport.core.outbox import OutboxEvent, event_row
from vaxport.core.principal import Principal
from vaxport.identity.service import Actor
from vaxport.scheduling import availability
from vaxport.scheduling.events import SESSION_PUBLISHED
from vaxport.scheduling.models import Session, Slot
from vaxport.scheduling.sessions import present
from vaxport.scheduling.sessions.plans import Plan, plan
from vaxport.scheduling.sessions.reach import centre_in_reach
from vaxport.scheduling.sessions.schemas import PublishedOut, SeriesItem, SessionIn
from vaxport.tenancy.service import TenantInfo

SESSIONS = cast(Table, Session.__table__)
SLOTS = cast(Table, Slot.__table__)
OUTBOX = cast(Table, OutboxEvent.__table__)


@dataclass(frozen=True, slots=True)
class Written:
    """One session written, and its slots in time order (as rows)."""

    session: dict[str, Any]
    slots: list[dict[str, Any]]


def session_rows(
    tenant_id: uuid.UUID,
    facility_id: uuid.UUID,
    region_code: str,
    planned: Plan,
    *,
    created_by: uuid.UUID | None,
    now: dt.datetime,
) -> list[Written]:
    """The rows of every session of ``planned`` at a centre (nothing written yet)."""
    out = []
    for times in planned.sessions:
        session_id = uuid7()
        common = {
            "tenant_id": tenant_id,
            "session_id": session_id,
            "facility_id": facility_id,
            "region_code": region_code,
            "product_id": planned.product_id,
            "day": times.day,
        }
        slots = [
            {
                "id": uuid7(),
                **common,
                "starts_at": start,
                "ends_at": end,
                "capacity": planned.capacity_per_slot,
                "booked": 0,
                "status": "open",
                "version": 1,
            }
            for start, end in times.slots
        ]
        session = {
            "id": session_id,
            "tenant_id": tenant_id,
            "facility_id": facility_id,
            "region_code": region_code,
            "product_id": planned.product_id,
            "dose_numbers": list(planned.dose_numbers),
            "eligibility": dict(planned.eligibility),
            "day": times.day,
            "starts_at": times.starts_at,
            "ends_at": times.ends_at,
            "slot_minutes": planned.slot_minutes,
            "capacity": planned.capacity_per_slot * len(slots),
            "status": "open",
            "release_at": None,
            "series_id": planned.series_id,
            "note": planned.note,
            "created_by": created_by,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
        }
        out.append(Written(session, slots))
    return out


async def write_sessions(
    uow: UnitOfWork,
    written: Sequence[Written],
    *,
    by: Principal | None,
    first: Sequence[Rows] = (),
    announce: bool = True,
) -> None:
    """Insert ``written`` with a ``session.published`` event each (and, with ``by``, an
    audit entry each) in ``uow``'s transaction; ``first``: rows to insert before them.

    ``announce=False`` writes no events: for loading sample data (the demo), which nobody
    can be waiting for and which would otherwise queue an event per session ahead of the
    first visitor's sign-in code."""
    events = [
        event_row(uow, SESSION_PUBLISHED, {"session_id": str(w.session["id"])})
        for w in written
        if announce
    ]
    writes = [
        *first,
        Rows(SESSIONS, [w.session for w in written]),
        Rows(SLOTS, [s for w in written for s in w.slots]),
        Rows(OUTBOX, events),
    ]
    if by is not None:
        table, entries = audit.entry_rows(
            uow,
            by=by,
            entries=[
                {
                    "action": "session.publish",
                    "object_type": "session",
                    "object_id": w.session["id"],
                    "details": {
                        "facility_id": str(w.session["facility_id"]),
                        "product_id": w.session["product_id"],
                        "slots": len(w.slots),
                        "capacity": w.session["capacity"],
                    },
                }
                for w in written
            ],
        )
        writes.append(Rows(table, entries))
    await write_batch(uow, writes)


def answer(written: Sequence[Written], tz: zoneinfo.ZoneInfo) -> PublishedOut:
    """The answer of a publish: the first session with its slots, and every session."""
    head = written[0]
    session = Session(**head.session)
    slots = [Slot(**s) for s in head.slots]
    out: PublishedOut = present.with_slots(
        session,
        slots,
        tz,
        out=PublishedOut,
        sessions=[SeriesItem(id=w.session["id"], day=w.session["day"]) for w in written],
    )
    return out


def kept_answer(claim: Claim | None, location: str) -> Keep[PublishedOut] | None:
    """The request's Idempotency-Key kept with the sessions: the answer as sent (201, body,
    ``Location`` = ``location`` + the first session's id)."""
    return kept_created(claim, location, lambda _out: None)


async def publish(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    actor: Actor,
    body: SessionIn,
    keep: Keep[PublishedOut] | None = None,
) -> PublishedOut:
    """Publish a session (or, with ``repeat``, a series) at a centre in the actor's reach.

    404 when the centre is unknown, inactive or out of reach; 422 with every problem of
    the request; else every session and slot is written in one transaction.
    """
    centre = await centre_in_reach(db, tenant, actor, body.facility_id)
    now = utcnow()
    planned = plan(body, config=tenant.config, offered=centre.vaccines, now=now)
    written = session_rows(
        tenant.id,
        centre.id,
        centre.region_code,
        planned,
        created_by=actor.account_id,
        now=now,
    )
    out = answer(written, zoneinfo.ZoneInfo(tenant.config.timezone))
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            first: list[Rows] = []
            if keep is not None:
                first.append(await uow.run_sync(lambda s: keep.render(s, out)))
            await write_sessions(uow, written, by=actor.principal, first=first)
            if keep is not None:
                keep.claim.kept_with(uow)
            _seats_changed(uow, cache, tenant.id)
    except IntegrityError as exc:
        taken = keep.claim.refused(exc) if keep is not None else None
        if taken is None:
            raise
        raise taken from None
    return out


def _seats_changed(uow: UnitOfWork, cache: Cache, tenant_id: uuid.UUID) -> None:
    async def changed() -> None:
        await availability.slots_changed(cache, tenant_id)

    uow.after_commit(changed)
