"""Randomized release: a session opens at ``release_at`` to a queue, not to the fastest.

Requests during the tenant's release window (``booking.fairness.release_window_seconds``
from ``release_at``) become tickets, one per person and session; once the window has
closed the worker draws them (:mod:`vaxport.scheduling.release_draw`), and from then on
the session books first come, first served. :func:`release_state` says which regime a
session is in at a moment: booking asks it before taking a seat, and the waitlist
offers no seat of a session before its draw.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, NotFound
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, Resource, authorize
from vaxport.registration.service import PersonFacts, person_facts
from vaxport.scheduling.fairness.eligibility import eligible, not_eligible
from vaxport.scheduling.fairness.schemas import TicketOut
from vaxport.scheduling.models import (
    Appointment,
    ReleaseDraw,
    ReleaseTicket,
    Session,
)
from vaxport.tenancy.service import BookingFairness, TenantInfo

READ = "appointments:read"
WRITE = "appointments:write"
ReleaseState = Literal["first-come", "not-yet", "queue", "drawing"]


class ReleaseNotOpen(Conflict):
    """The session opens to the release queue at ``opens_at``; not before."""

    slug = "release-not-open"
    title = N_("Booking is not open yet")


class ReleaseClosed(Conflict):
    """The release window is over (the draw is being made, or was): book directly."""

    slug = "release-window-closed"
    title = N_("The release queue has closed")


class NotReleased(Conflict):
    """The session has no release time: it books first come, first served."""

    slug = "not-released"
    title = N_("This session is not released by draw")


def fairness_of(tenant: TenantInfo) -> BookingFairness:
    """The tenant's ``booking.fairness`` (its defaults when the file gives none)."""
    return tenant.config.booking.fairness or BookingFairness()


def window_end(tenant: TenantInfo, session: Session) -> dt.datetime | None:
    """When the session's release window closes (None: not released by draw)."""
    if session.release_at is None:
        return None
    return session.release_at + dt.timedelta(seconds=fairness_of(tenant).release_window_seconds)


async def release_state(
    db_session: AsyncSession, tenant: TenantInfo, session: Session, *, now: dt.datetime
) -> ReleaseState:
    """How ``session`` may be booked at ``now``: ``first-come`` (booking takes seats),
    ``not-yet`` (before ``release_at``), ``queue`` (tickets only), ``drawing`` (the window
    closed, the draw is not done: nobody takes a seat, try again shortly)."""
    end = window_end(tenant, session)
    if end is None or session.release_at is None:
        return "first-come"
    if now < session.release_at:
        return "not-yet"
    if now < end:
        return "queue"
    drawn = await db_session.get(ReleaseDraw, session.id)
    return "first-come" if drawn is not None else "drawing"


def _ticket_resource(ticket: ReleaseTicket) -> Resource:
    return Resource(
        tenant_id=ticket.tenant_id,
        region_code=ticket.home_region_code,
        facility_id=ticket.home_facility_id,
        owner_id=ticket.account_id,
    )


async def _ticket_out(
    db_session: AsyncSession, tenant: TenantInfo, ticket: ReleaseTicket, session: Session
) -> TicketOut:
    code = None
    if ticket.appointment_id is not None:
        code = await db_session.scalar(
            select(Appointment.booking_code).where(
                Appointment.tenant_id == ticket.tenant_id, Appointment.id == ticket.appointment_id
            )
        )
    end = window_end(tenant, session)
    assert end is not None
    return TicketOut(
        id=ticket.id,
        session_id=ticket.session_id,
        beneficiary_id=ticket.beneficiary_id,
        status=ticket.status,
        outcome=ticket.outcome,
        draw_at=end,
        appointment_id=ticket.appointment_id,
        booking_code=code,
        waitlist_entry_id=ticket.waitlist_entry_id,
        requested_at=ticket.created_at,
        decided_at=ticket.decided_at,
    )


async def _session(
    db_session: AsyncSession, tenant_id: uuid.UUID, session_id: uuid.UUID
) -> Session:
    found = await db_session.scalar(
        select(Session).where(Session.tenant_id == tenant_id, Session.id == session_id)
    )
    if found is None or found.status != "open":
        raise NotFound(N_("session not found"))
    return found


async def _person_for(
    uow: UnitOfWork, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID
) -> PersonFacts:
    person = await person_facts(uow.session, tenant.id, beneficiary_id)
    if person is None:
        raise NotFound(N_("beneficiary not found"))
    authorize(actor, WRITE, person.resource, what="beneficiary")
    return person


async def request_ticket(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    session_id: uuid.UUID,
    beneficiary_id: uuid.UUID,
    waitlist: bool = True,
    now: dt.datetime | None = None,
) -> TicketOut:
    """A ticket in the release queue of ``session_id`` for a person in the actor's reach.

    Asking again for the same person answers the same ticket. Refused before the
    release time (409 ``release-not-open``), after the window (409
    ``release-window-closed``), for a session not released by draw (409
    ``not-released``) and for a person who may not have this dose here (422
    ``not-eligible``, tickets and waitlist places counting toward ``booking.limits``).
    """
    now = now or utcnow()
    async with db.transaction(tenant_id=tenant.id) as uow:
        session = await _session(uow.session, tenant.id, session_id)
        person = await _person_for(uow, tenant, actor, beneficiary_id)
        state = await release_state(uow.session, tenant, session, now=now)
        if session.release_at is None:
            raise NotReleased(N_("this session is booked first come, first served"))
        if state == "not-yet":
            raise ReleaseNotOpen(
                N_("booking for this session opens at {opens_at}"),
                params={"opens_at": session.release_at.isoformat()},
                opens_at=session.release_at.isoformat(),
            )
        if state != "queue":
            raise ReleaseClosed(N_("the release queue has closed: book a free slot directly"))
        ticket = await uow.session.scalar(
            select(ReleaseTicket).where(
                ReleaseTicket.tenant_id == tenant.id,
                ReleaseTicket.session_id == session.id,
                ReleaseTicket.beneficiary_id == person.id,
            )
        )
        if ticket is None:
            verdict = await eligible(
                uow,
                tenant,
                person,
                product_id=session.product_id,
                day=session.day,
                dose_numbers=session.dose_numbers,
                session_rules=session.eligibility,
            )
            if not verdict.ok:
                raise not_eligible(verdict, seat_field="session_id")
            ticket = await _add_ticket(
                uow, tenant, actor, session=session, person=person, waitlist=waitlist, now=now
            )
        await audit.record(
            uow,
            by=actor.principal,
            action="release.ticket_request",
            object_type="beneficiary",
            object_id=person.id,
            details={"ticket_id": str(ticket.id), "session_id": str(session.id)},
        )
        return await _ticket_out(uow.session, tenant, ticket, session)


async def _add_ticket(
    uow: UnitOfWork,
    tenant: TenantInfo,
    actor: Actor,
    *,
    session: Session,
    person: PersonFacts,
    waitlist: bool,
    now: dt.datetime,
) -> ReleaseTicket:
    ticket = ReleaseTicket(
        tenant_id=tenant.id,
        session_id=session.id,
        beneficiary_id=person.id,
        account_id=person.account_id,
        home_region_code=person.region_code,
        home_facility_id=person.facility_id,
        requested_by=actor.account_id,
        wants_waitlist=waitlist,
        status="waiting",
        version=1,
        created_at=now,
    )
    try:
        async with uow.savepoint():
            uow.session.add(ticket)
    except IntegrityError:
        # The same person's ticket, asked for at the same moment: answer that one.
        found = await uow.session.scalar(
            select(ReleaseTicket).where(
                ReleaseTicket.tenant_id == tenant.id,
                ReleaseTicket.session_id == session.id,
                ReleaseTicket.beneficiary_id == person.id,
            )
        )
        if found is None:
            raise
        return found
    return ticket


async def get_ticket(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    session_id: uuid.UUID,
    ticket_id: uuid.UUID,
) -> TicketOut:
    """One ticket, for its person's account or staff reaching the person (else 404)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        ticket = await uow.session.scalar(
            select(ReleaseTicket).where(
                ReleaseTicket.tenant_id == tenant.id,
                ReleaseTicket.session_id == session_id,
                ReleaseTicket.id == ticket_id,
            )
        )
        if ticket is None:
            raise NotFound(N_("ticket not found"))
        authorize(actor, READ, _ticket_resource(ticket), what="ticket")
        session = await uow.session.get(Session, ticket.session_id)
        assert session is not None
        if actor.kind != "citizen":
            await audit.record(
                uow,
                by=actor.principal,
                action="release.ticket_read",
                object_type="beneficiary",
                object_id=ticket.beneficiary_id,
                details={"ticket_id": str(ticket.id)},
            )
        return await _ticket_out(uow.session, tenant, ticket, session)
