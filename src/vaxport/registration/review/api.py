"""HTTP routes of the review work: correction requests and possible duplicates.

Citizens file and withdraw corrections of the people they manage and read their history;
approvers (``beneficiaries:approve``) work the queue; staff with ``beneficiaries:write``
review possible duplicates, merge and undo. Services decide scope: out of it is 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.idempotency import answer_concerns
from vaxport.identity.service import Actor, CurrentActor, PathTenant
from vaxport.registration.review import correction_queue, corrections, merging
from vaxport.registration.review.schemas import (
    ComparisonOut,
    CorrectionIn,
    CorrectionList,
    CorrectionOut,
    DecisionIn,
    FlagOut,
    FlagPageOut,
    MergeOut,
    QueuePageOut,
    ReviewOut,
    SurvivorIn,
)

router = APIRouter(tags=["registration review"])

BASE = "/api/v1/{tenant}"
READ = requires("beneficiaries:read")
WRITE = requires("beneficiaries:write")
APPROVE = requires("beneficiaries:approve")
Cursor = Annotated[str | None, Query(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post(
    BASE + "/beneficiaries/{beneficiary_id}/corrections",
    dependencies=[WRITE],
    status_code=201,
    summary="Ask to correct a name, birth date or ID number",
)
async def request_correction(
    *,
    tenant: PathTenant,
    beneficiary_id: uuid.UUID,
    body: CorrectionIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> CorrectionOut:
    """A pending request; staff of the person's area decide."""
    answer_concerns(request, beneficiary_id)
    made = await corrections.request_correction(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        beneficiary_id=beneficiary_id,
        field=body.field,
        value=body.value,
        reason=body.reason,
        id_type=body.id_type,
        document_id=body.document_id,
    )
    response.headers["Location"] = f"/api/v1/{tenant.code}/corrections/{made.id}"
    return made


@router.get(
    BASE + "/beneficiaries/{beneficiary_id}/corrections",
    dependencies=[READ],
    summary="The correction history of a person",
)
async def correction_history(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> CorrectionList:
    """Every request about the person, newest first, with the values they replaced."""
    del tenant
    items = await corrections.history(db=ctx.db, actor=actor, beneficiary_id=beneficiary_id)
    return CorrectionList(items=items)


@router.post(
    BASE + "/corrections/{correction_id}/withdraw",
    dependencies=[WRITE],
    summary="Withdraw a pending correction request",
)
async def withdraw_correction(
    tenant: PathTenant, correction_id: uuid.UUID, request: Request, ctx: Ctx, actor: CurrentActor
) -> CorrectionOut:
    """Only while it is pending."""
    del tenant
    made = await corrections.withdraw(db=ctx.db, actor=actor, correction_id=correction_id)
    answer_concerns(request, made.beneficiary_id)
    return made


@router.get(BASE + "/corrections", dependencies=[APPROVE], summary="Corrections to decide")
async def correction_queue_page(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, cursor: Cursor = None, limit: Limit = 50
) -> QueuePageOut:
    """Pending requests about people in the approver's area, oldest first."""
    del tenant
    return await correction_queue.list_pending(db=ctx.db, actor=actor, cursor=cursor, limit=limit)


@router.get(
    BASE + "/corrections/{correction_id}", dependencies=[APPROVE], summary="A request to decide"
)
async def correction_review(
    tenant: PathTenant, correction_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> ReviewOut:
    """The request with the record's present value (recorded as a staff read)."""
    del tenant
    return await correction_queue.get_for_review(
        db=ctx.db, actor=actor, correction_id=correction_id
    )


async def _decide(
    request: Request,
    ctx: Ctx,
    actor: Actor,
    correction_id: uuid.UUID,
    body: DecisionIn | None,
    *,
    approve: bool,
) -> CorrectionOut:
    decided = await corrections.decide(
        db=ctx.db,
        actor=actor,
        correction_id=correction_id,
        approve=approve,
        note=body.note if body else None,
    )
    answer_concerns(request, decided.beneficiary_id)  # the kept answer holds their values
    return decided


@router.post(
    BASE + "/corrections/{correction_id}/approve",
    dependencies=[APPROVE],
    summary="Approve a correction: the record changes",
)
async def approve_correction(
    *,
    tenant: PathTenant,
    correction_id: uuid.UUID,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> CorrectionOut:
    """The record takes the proposed value; 409 if someone decided first."""
    del tenant
    return await _decide(request, ctx, actor, correction_id, body, approve=True)


@router.post(
    BASE + "/corrections/{correction_id}/reject",
    dependencies=[APPROVE],
    summary="Reject a correction",
)
async def reject_correction(
    *,
    tenant: PathTenant,
    correction_id: uuid.UUID,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> CorrectionOut:
    """The record stays as it is; the note tells the citizen why."""
    del tenant
    return await _decide(request, ctx, actor, correction_id, body, approve=False)


@router.get(BASE + "/duplicates", dependencies=[WRITE], summary="Possible duplicates")
async def duplicate_queue(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    status: Annotated[str, Query(max_length=16)] = "open",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> FlagPageOut:
    """Flags about people in the actor's area, oldest first."""
    del tenant
    return await merging.list_flags(
        db=ctx.db, actor=actor, status=status, cursor=cursor, limit=limit
    )


@router.get(
    BASE + "/duplicates/{flag_id}", dependencies=[WRITE], summary="Both records side by side"
)
async def duplicate_comparison(
    tenant: PathTenant, flag_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> ComparisonOut:
    """The two records of a flag (recorded as a staff read)."""
    del tenant
    return await merging.compare(db=ctx.db, actor=actor, flag_id=flag_id)


@router.post(
    BASE + "/duplicates/{flag_id}/dismiss", dependencies=[WRITE], summary="Not the same person"
)
async def dismiss_duplicate(
    tenant: PathTenant, flag_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> FlagOut:
    """Close the flag; both records stay."""
    del tenant
    return await merging.dismiss(db=ctx.db, actor=actor, flag_id=flag_id)


@router.post(
    BASE + "/duplicates/{flag_id}/merge", dependencies=[WRITE], summary="The same person: merge"
)
async def merge_duplicate(
    tenant: PathTenant, flag_id: uuid.UUID, body: SurvivorIn, ctx: Ctx, actor: CurrentActor
) -> MergeOut:
    """The other record is merged into ``survivor_id`` (undoable)."""
    del tenant
    return await merging.merge_flag(
        db=ctx.db, actor=actor, flag_id=flag_id, survivor_id=body.survivor_id
    )


@router.post(
    BASE + "/beneficiaries/{beneficiary_id}/merge",
    dependencies=[WRITE],
    summary="Merge a record into another",
)
async def merge_beneficiary(
    tenant: PathTenant, beneficiary_id: uuid.UUID, body: SurvivorIn, ctx: Ctx, actor: CurrentActor
) -> MergeOut:
    """Without a flag: staff found the duplicate themselves (undoable)."""
    del tenant
    return await merging.merge_records(
        db=ctx.db, actor=actor, beneficiary_id=beneficiary_id, survivor_id=body.survivor_id
    )


@router.post(BASE + "/merges/{merge_id}/undo", dependencies=[WRITE], summary="Undo a merge")
async def undo_merge(
    tenant: PathTenant, merge_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> MergeOut:
    """The merged record stands alone again; its flag re-opens."""
    del tenant
    return await merging.undo(db=ctx.db, actor=actor, merge_id=merge_id)
