"""HTTP routes of sessions and slots: ``/api/v1/{tenant}/sessions``.

Publishing, closing and cancelling need ``slots:write`` (facility managers, region and
national admins) over the session's centre; reading needs ``facilities:read`` over it.
A centre or session out of the actor's reach answers 404. Publishing takes an
``Idempotency-Key`` in its own transaction: a retry gets the first answer.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.idempotency import claim_of, claims_in_transaction
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.scheduling.sessions import ending, publishing, reads
from vaxport.scheduling.sessions.reach import READ as READ_PERMISSION
from vaxport.scheduling.sessions.reach import WRITE as WRITE_PERMISSION
from vaxport.scheduling.sessions.schemas import (
    EndedOut,
    ListQuery,
    PublishedOut,
    SessionIn,
    SessionOut,
    SessionPage,
)

router = APIRouter(tags=["sessions"])

READ = requires(READ_PERMISSION)
WRITE = requires(WRITE_PERMISSION)
BASE = "/api/v1/{tenant}/sessions"
ITEM = BASE + "/{session_id}"

_MISSING: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such session in your reach"},
}
_ENDING: dict[int | str, dict[str, Any]] = {
    **_MISSING,
    409: {"description": "The session is cancelled already, or over"},
}


def _where(tenant: str) -> str:
    """Where a session is, up to its id (the ``Location`` of a publish)."""
    return f"/api/v1/{tenant}/sessions/"


@router.post(
    BASE,
    dependencies=[WRITE],
    status_code=201,
    operation_id="publish_session",
    summary="Publish a session (or a weekly series) at a centre, split into slots",
    responses={
        201: {"description": "Published; the first session with its slots"},
        404: {"description": "No such active centre in your reach"},
    },
)
@claims_in_transaction
async def publish_session(
    *,
    tenant: PathTenant,
    body: SessionIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> PublishedOut:
    """Every session of the request and its slots are written together, or none."""
    keep = publishing.kept_answer(claim_of(request), _where(tenant.code))
    published = await publishing.publish(
        db=ctx.db, cache=ctx.cache, tenant=tenant, actor=actor, body=body, keep=keep
    )
    response.headers["Location"] = _where(tenant.code) + str(published.id)
    return published


@router.get(BASE, dependencies=[READ], operation_id="list_sessions", summary="List sessions")
async def list_sessions(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, query: Annotated[ListQuery, Query()]
) -> SessionPage:
    """The sessions of the centres in your reach, by day and start time."""
    return await reads.list_sessions(db=ctx.db, tenant=tenant, actor=actor, query=query)


@router.get(
    ITEM,
    dependencies=[READ],
    operation_id="get_session",
    summary="One session with its slots and the seats left",
    responses=_MISSING,
)
async def get_session(
    tenant: PathTenant, session_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> SessionOut:
    """404 when the session is not in your reach."""
    return await reads.get_session(db=ctx.db, tenant=tenant, actor=actor, session_id=session_id)


@router.post(
    ITEM + "/close",
    dependencies=[WRITE],
    operation_id="close_session",
    summary="Close a session to new bookings (its appointments stand)",
    responses=_ENDING,
)
async def close_session(
    tenant: PathTenant, session_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> EndedOut:
    """Closing a closed session changes nothing."""
    return await ending.close_session(
        db=ctx.db, cache=ctx.cache, tenant=tenant, actor=actor, session_id=session_id
    )


@router.post(
    ITEM + "/cancel",
    dependencies=[WRITE],
    operation_id="cancel_session",
    summary="Cancel a session: its appointments are released and their people told",
    responses=_ENDING,
)
async def cancel_session(
    tenant: PathTenant, session_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> EndedOut:
    """``released`` says how many appointments were ended; cancelling twice changes nothing."""
    return await ending.cancel_session(
        db=ctx.db, cache=ctx.cache, tenant=tenant, actor=actor, session_id=session_id
    )


@router.post(
    ITEM + "/slots/{slot_id}/cancel",
    dependencies=[WRITE],
    operation_id="cancel_slot",
    summary="Cancel one slot of a session: its appointments are released",
    responses=_ENDING,
)
async def cancel_slot(
    tenant: PathTenant, session_id: uuid.UUID, slot_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> EndedOut:
    """The session with its slots after the change."""
    return await ending.cancel_slot(
        db=ctx.db,
        cache=ctx.cache,
        tenant=tenant,
        actor=actor,
        session_id=session_id,
        slot_id=slot_id,
    )
