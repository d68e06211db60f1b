"""The draw of a released session: its waiting tickets decided in a random order.

Once the release window of a session has closed (:mod:`vaxport.scheduling.release`),
:func:`draw` orders its waiting tickets by a cryptographically random shuffle
(``secrets.SystemRandom``; a seeded ``random.Random`` in tests) and gives seats in that
order through :func:`appointments.book_in`, earliest slot first, re-checking each person
(a ticket whose person booked elsewhere meanwhile loses as ``ineligible``). Losers join
the waitlist for the session's place, day and vaccine when they asked to, and are told
(``release.ticket_lost``). The draw is recorded in ``scheduling_release_draws``: booking
is first come, first served from then on.

Safe to run twice at once on any number of workers: the session row is locked for the
draw (PostgreSQL; SQLite serializes writers), only ``waiting`` tickets are decided, each
by a conditional update, and a second run finds none left. A ticket that committed just
after a draw read the queue is decided by the next round, among such late tickets.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import uuid

from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork, affected
from vaxport.core.outbox import emit
from vaxport.registration.service import person_facts
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.scheduling.availability import slots_changed
from vaxport.scheduling.events import RELEASE_DRAWN, RELEASE_TICKET_LOST
from vaxport.scheduling.fairness.eligibility import eligible
from vaxport.scheduling.models import (
    ReleaseDraw,
    ReleaseTicket,
    Session,
    Slot,
)
from vaxport.scheduling.reach import local_today
from vaxport.scheduling.release import fairness_of, window_end
from vaxport.scheduling.waitlist import Holder, join_in
from vaxport.tenancy.service import TenantInfo

_DUE_BATCH = 50


def new_rng() -> random.Random:
    """The draw's randomness: the operating system's (``secrets``), never a seed."""
    return secrets.SystemRandom()


async def draw_due(
    *,
    db: Database,
    cache: Cache | None,
    tenant: TenantInfo,
    now: dt.datetime | None = None,
    rng: random.Random | None = None,
) -> int:
    """Draw every session of ``tenant`` whose window has closed and that has tickets left
    undecided (or was never drawn); the number of sessions drawn. ``cache``: see
    :func:`draw`."""
    now = now or utcnow()
    closed_before = now - dt.timedelta(seconds=fairness_of(tenant).release_window_seconds)
    drawn = exists().where(ReleaseDraw.session_id == Session.id)
    waiting = exists().where(
        ReleaseTicket.session_id == Session.id, ReleaseTicket.status == "waiting"
    )
    query = (
        select(Session.id)
        .where(
            Session.tenant_id == tenant.id,
            Session.release_at.is_not(None),
            Session.release_at <= closed_before,
            Session.day >= local_today(tenant, now) - dt.timedelta(days=1),
            or_(~drawn, waiting),
        )
        .order_by(Session.release_at)
        .limit(_DUE_BATCH)
    )
    async with db.read(tenant_id=tenant.id) as session:
        due = list((await session.scalars(query)).all())
    count = 0
    for session_id in due:
        if await draw(db=db, cache=cache, tenant=tenant, session_id=session_id, now=now, rng=rng):
            count += 1
    return count


async def draw(
    *,
    db: Database,
    cache: Cache | None,
    tenant: TenantInfo,
    session_id: uuid.UUID,
    now: dt.datetime | None = None,
    rng: random.Random | None = None,
) -> bool:
    """Decide the waiting tickets of one session in a random order (see the module
    docstring); False when there was nothing to do (not due, or drawn already).

    With ``cache`` the public search goes stale at once; the worker's job has none and
    leaves it to the ``release.drawn`` subscriber (its process's cache is the app's).
    """
    now = now or utcnow()
    rng = rng or new_rng()
    async with db.transaction(tenant_id=tenant.id) as uow:
        session = await uow.session.scalar(
            select(Session)
            .where(Session.tenant_id == tenant.id, Session.id == session_id)
            .with_for_update()
        )
        end = window_end(tenant, session) if session is not None else None
        if session is None or end is None or now < end:
            return False
        tickets = list(
            (
                await uow.session.scalars(
                    select(ReleaseTicket)
                    .where(
                        ReleaseTicket.tenant_id == tenant.id,
                        ReleaseTicket.session_id == session.id,
                        ReleaseTicket.status == "waiting",
                    )
                    .order_by(ReleaseTicket.id)
                )
            ).all()
        )
        record = await uow.session.get(ReleaseDraw, session.id)
        if record is not None and not tickets:
            return False
        rng.shuffle(tickets)
        winners = await _allocate(uow, tenant, session, tickets, now)
        if record is None:
            uow.session.add(
                ReleaseDraw(
                    session_id=session.id,
                    tenant_id=tenant.id,
                    drawn_at=now,
                    tickets=len(tickets),
                    winners=winners,
                )
            )
        else:
            record.tickets += len(tickets)
            record.winners += winners
        await emit(
            uow,
            RELEASE_DRAWN,
            {"session_id": str(session.id), "tickets": len(tickets), "winners": winners},
        )

        if cache is not None:
            seats_cache = cache

            async def changed() -> None:
                await slots_changed(seats_cache, tenant.id)

            uow.after_commit(changed)
    return True


async def _allocate(
    uow: UnitOfWork,
    tenant: TenantInfo,
    session: Session,
    tickets: list[ReleaseTicket],
    now: dt.datetime,
) -> int:
    """Seats to tickets in the drawn order, earliest slot first; the winners."""
    slots = list(
        (
            await uow.session.scalars(
                select(Slot.id)
                .where(
                    Slot.tenant_id == tenant.id,
                    Slot.session_id == session.id,
                    Slot.status == "open",
                    Slot.booked < Slot.capacity,
                )
                .order_by(Slot.starts_at, Slot.id)
            )
        ).all()
    )
    winners = 0
    for position, ticket in enumerate(tickets, start=1):
        appointment_id, lost_as = await _seat_for(uow, tenant, session, ticket=ticket, slots=slots)
        if appointment_id is not None:
            await _decide(
                uow,
                ticket,
                status="won",
                outcome="booked",
                position=position,
                now=now,
                appointment_id=appointment_id,
            )
            winners += 1
            continue
        entry_id = None
        if lost_as == "full" and ticket.wants_waitlist:
            holder = Holder(
                ticket.beneficiary_id,
                ticket.account_id,
                ticket.home_region_code,
                ticket.home_facility_id,
            )
            entry_id, _ = await join_in(
                uow,
                tenant,
                holder,
                region_code=session.region_code,
                product_id=session.product_id,
                from_day=session.day,
                to_day=session.day,
                requested_by=ticket.requested_by,
                now=now,
            )
            if entry_id is not None:
                lost_as = "waitlisted"
        await _decide(
            uow,
            ticket,
            status="lost",
            outcome=lost_as,
            position=position,
            now=now,
            entry_id=entry_id,
        )
        await emit(
            uow,
            RELEASE_TICKET_LOST,
            {
                "ticket_id": str(ticket.id),
                "session_id": str(session.id),
                "beneficiary_id": str(ticket.beneficiary_id),
                "outcome": lost_as,
            },
        )
    return winners


async def _seat_for(
    uow: UnitOfWork,
    tenant: TenantInfo,
    session: Session,
    *,
    ticket: ReleaseTicket,
    slots: list[uuid.UUID],
) -> tuple[uuid.UUID | None, str]:
    """``(appointment id, "booked")`` for a seat given to the ticket's person, else
    ``(None, "full")`` (no seat left) or ``(None, "ineligible")`` (they may no longer
    have this dose: booked elsewhere meanwhile, limits, erased)."""
    if not slots:
        return None, "full"
    person = await person_facts(uow.session, tenant.id, ticket.beneficiary_id)
    if person is None:
        return None, "ineligible"
    verdict = await eligible(
        uow,
        tenant,
        person,
        product_id=session.product_id,
        day=session.day,
        dose_numbers=session.dose_numbers,
        session_rules=session.eligibility,
        excluding=(ticket.id,),
    )
    if not verdict.ok:
        return None, "ineligible"
    seat = Seat(
        person.id, person.account_id, verdict.series, verdict.dose_number, ticket.requested_by
    )
    while slots:
        try:
            async with uow.savepoint():
                made = await book_in(uow, tenant.id, slots[0], seat)
        except IntegrityError:
            # A live appointment for this dose appeared meanwhile (booked elsewhere).
            return None, "ineligible"
        if made is not None:
            return made.id, "booked"
        slots.pop(0)  # that slot is full now
    return None, "full"


async def _decide(
    uow: UnitOfWork,
    ticket: ReleaseTicket,
    *,
    status: str,
    outcome: str,
    position: int,
    now: dt.datetime,
    appointment_id: uuid.UUID | None = None,
    entry_id: uuid.UUID | None = None,
) -> None:
    """Close a waiting ticket at the version read (the session lock makes it ours)."""
    result = await uow.session.execute(
        update(ReleaseTicket)
        .where(
            ReleaseTicket.id == ticket.id,
            ReleaseTicket.status == "waiting",
            ReleaseTicket.version == ticket.version,
        )
        .values(
            status=status,
            outcome=outcome,
            draw_position=position,
            appointment_id=appointment_id,
            waitlist_entry_id=entry_id,
            decided_at=now,
            version=ReleaseTicket.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if affected(result) != 1:
        # Never with the session row locked; if it happens, nothing of this draw stays.
        raise RuntimeError(f"release ticket {ticket.id} was decided by someone else")
