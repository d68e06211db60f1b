"""HTTP routes of the release queue, the waitlist and waitlist offers.

- ``POST /api/v1/{tenant}/sessions/{session_id}/tickets`` ``{beneficiary_id}``: 202 with
  the ticket (the draw decides it when the release window closes);
  ``GET .../tickets/{ticket_id}``: waiting, won (appointment and booking code) or lost.
- ``POST/GET /api/v1/{tenant}/waitlist``, ``DELETE .../waitlist/{entry_id}``.
- ``POST /api/v1/{tenant}/appointments/{appointment_id}/accept``: a held offer becomes
  a booking.

Citizens act for the people of their account, staff for the people they reach; anything
else is 404. Writes are of the ``write`` rate class.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from vaxport.core.http.dependencies import Ctx, RouteClass, requires
from vaxport.core.idempotency import answer_concerns
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.scheduling.service import (
    AcceptedOut,
    TicketIn,
    TicketOut,
    WaitlistEntryOut,
    WaitlistIn,
    WaitlistPage,
    WaitlistQuery,
    accept_offer,
    get_ticket,
    join_waitlist,
    leave_waitlist,
    list_waitlist,
    request_ticket,
)

router = APIRouter(tags=["fairness"])

# INTEGRATION POINT: booking may add a class of its own for the routes that take seats;
# these join it then.
RATE: RouteClass = "write"
READ = requires("appointments:read")
WRITE = requires("appointments:write", rate=RATE)
TICKETS = "/api/v1/{tenant}/sessions/{session_id}/tickets"
WAITLIST = "/api/v1/{tenant}/waitlist"
_REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such session or person in your reach"},
    409: {"description": "Not open yet, closed, or not released by draw"},
    422: {"description": "The person is not eligible (each reason in errors)"},
}


@router.post(
    TICKETS,
    dependencies=[WRITE],
    status_code=202,
    operation_id="request_ticket",
    summary="Join the release queue of a session",
    responses=_REFUSALS,
)
async def create_ticket(
    *,
    tenant: PathTenant,
    session_id: uuid.UUID,
    body: TicketIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> TicketOut:
    """The same person asking again gets the same ticket."""
    ticket = await request_ticket(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        session_id=session_id,
        beneficiary_id=body.beneficiary_id,
        waitlist=body.waitlist,
    )
    answer_concerns(request, ticket.beneficiary_id)
    response.headers["Location"] = (
        f"/api/v1/{tenant.code}/sessions/{session_id}/tickets/{ticket.id}"
    )
    return ticket


@router.get(
    TICKETS + "/{ticket_id}",
    dependencies=[READ],
    operation_id="get_ticket",
    summary="A ticket of the release queue",
)
async def read_ticket(
    tenant: PathTenant, session_id: uuid.UUID, ticket_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> TicketOut:
    """Waiting for the draw, won (with the booking) or lost (waitlisted or full)."""
    return await get_ticket(
        db=ctx.db, tenant=tenant, actor=actor, session_id=session_id, ticket_id=ticket_id
    )


@router.post(
    WAITLIST,
    dependencies=[WRITE],
    status_code=201,
    operation_id="join_waitlist",
    summary="Wait for a seat in an area, between two days, for a vaccine",
    responses={
        404: {"description": "No such person in your reach"},
        409: {"description": "Already waiting for this vaccine"},
        422: {"description": "Bad request, or the person is not eligible"},
    },
)
async def create_waitlist_entry(
    *,
    tenant: PathTenant,
    body: WaitlistIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> WaitlistEntryOut:
    """First come, first served: a freed seat is held for the first place that fits."""
    entry = await join_waitlist(db=ctx.db, tenant=tenant, actor=actor, body=body)
    answer_concerns(request, entry.beneficiary_id)
    response.headers["Location"] = f"/api/v1/{tenant.code}/waitlist/{entry.id}"
    return entry


@router.get(
    WAITLIST,
    dependencies=[READ],
    operation_id="list_waitlist",
    summary="Waitlist places: your family's, or those of the people you reach",
)
async def read_waitlist(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, query: Annotated[WaitlistQuery, Query()]
) -> WaitlistPage:
    """Oldest first; an offered place shows its held appointment and until when."""
    return await list_waitlist(
        db=ctx.db, tenant=tenant, actor=actor, cursor=query.cursor, limit=query.limit
    )


@router.delete(
    WAITLIST + "/{entry_id}",
    dependencies=[WRITE],
    status_code=204,
    operation_id="leave_waitlist",
    summary="Leave the waitlist (a held seat is passed on)",
)
async def delete_waitlist_entry(
    tenant: PathTenant, entry_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> Response:
    """A place already over is left as it is."""
    await leave_waitlist(db=ctx.db, cache=ctx.cache, tenant=tenant, actor=actor, entry_id=entry_id)
    return Response(status_code=204)


@router.post(
    "/api/v1/{tenant}/appointments/{appointment_id}/accept",
    dependencies=[WRITE],
    operation_id="accept_offer",
    summary="Accept a waitlist offer before its hold ends",
    responses={
        404: {"description": "No such appointment in your reach"},
        409: {"description": "The hold expired, or the appointment is no offer"},
    },
)
async def accept(
    tenant: PathTenant, appointment_id: uuid.UUID, request: Request, ctx: Ctx, actor: CurrentActor
) -> AcceptedOut:
    """The held appointment becomes booked; the booking code is in the answer."""
    accepted = await accept_offer(
        db=ctx.db, tenant=tenant, actor=actor, appointment_id=appointment_id
    )
    answer_concerns(request, accepted.beneficiary_id)
    return accepted
