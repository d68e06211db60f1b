"""Staff review pages: the correction approval queue and the possible-duplicate queue.

Lists show no personal data; opening an item shows it (an audited read) with the
decision forms. Every form posts back with its CSRF token and answers with a redirect
(303) to the queue, so a reload never repeats a decision.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import Problem, invalid
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, CurrentActor, PathTenant
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo
from vaxport.web.staff_common import errors_of, locale_of, page, region_labels

router = APIRouter(include_in_schema=False)
CORRECTIONS = "/{tenant}/staff/corrections"
DUPLICATES = "/{tenant}/staff/duplicates"
GET = ["GET", "HEAD"]
APPROVE = requires("beneficiaries:approve")
WRITE = requires("beneficiaries:write")
Note = Annotated[str, Form(max_length=500)]
NOTICES = frozenset({"approved", "rejected", "merged", "dismissed", "undone"})


def _notice(value: str | None) -> str | None:
    return value if value in NOTICES else None


def _labels(request: Request, tenant: TenantInfo) -> dict[str, str]:
    return region_labels(tenant, locale_of(request, tenant).locale)


@router.api_route(CORRECTIONS, methods=GET, dependencies=[APPROVE])
async def correction_list(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    cursor: str | None = None,
    done: str | None = None,
) -> Response:
    """Pending corrections of people in the approver's area."""
    listing = await registration.list_pending_corrections(db=ctx.db, actor=actor, cursor=cursor)
    return page(
        request,
        tenant,
        "staff/corrections.html",
        items=listing.items,
        next_cursor=listing.next_cursor,
        regions=_labels(request, tenant),
        notice=_notice(done),
    )


async def _review_page(
    request: Request,
    tenant: TenantInfo,
    ctx: Ctx,
    actor: Actor,
    correction_id: uuid.UUID,
    *,
    problem: Problem | None = None,
) -> Response:
    review = await registration.get_correction_for_review(
        db=ctx.db, actor=actor, correction_id=correction_id
    )
    return page(
        request,
        tenant,
        "staff/correction.html",
        status=problem.status if problem else 200,
        errors=errors_of(problem, field="note") if problem else None,
        review=review,
    )


@router.api_route(CORRECTIONS + "/{correction_id}", methods=GET, dependencies=[APPROVE])
async def correction_detail(
    tenant: PathTenant, correction_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """One request: the present and proposed values, and the decision forms."""
    return await _review_page(request, tenant, ctx, actor, correction_id)


async def _decide(
    request: Request,
    tenant: TenantInfo,
    ctx: Ctx,
    actor: Actor,
    correction_id: uuid.UUID,
    *,
    approve: bool,
    note: str,
) -> Response:
    try:
        await registration.decide_correction(
            db=ctx.db, actor=actor, correction_id=correction_id, approve=approve, note=note
        )
    except Problem as exc:
        if exc.status in (409, 422):
            return await _review_page(request, tenant, ctx, actor, correction_id, problem=exc)
        raise
    done = "approved" if approve else "rejected"
    return RedirectResponse(f"/{tenant.code}/staff/corrections?done={done}", status_code=303)


@router.post(CORRECTIONS + "/{correction_id}/approve", dependencies=[APPROVE])
async def correction_approve(
    *,
    tenant: PathTenant,
    correction_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    note: Note = "",
) -> Response:
    """Approve: the record changes."""
    return await _decide(request, tenant, ctx, actor, correction_id, approve=True, note=note)


@router.post(CORRECTIONS + "/{correction_id}/reject", dependencies=[APPROVE])
async def correction_reject(
    *,
    tenant: PathTenant,
    correction_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    note: Note = "",
) -> Response:
    """Reject: the record stays as it is."""
    return await _decide(request, tenant, ctx, actor, correction_id, approve=False, note=note)


@router.api_route(DUPLICATES, methods=GET, dependencies=[WRITE])
async def duplicate_list(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    status: str = "open",
    cursor: str | None = None,
    done: str | None = None,
) -> Response:
    """Possible duplicates in the actor's area (open ones, or merged ones to undo)."""
    status = status if status in ("open", "merged") else "open"
    listing = await registration.list_duplicate_flags(
        db=ctx.db, actor=actor, status=status, cursor=cursor
    )
    return page(
        request,
        tenant,
        "staff/duplicates.html",
        items=listing.items,
        next_cursor=listing.next_cursor,
        showing=status,
        regions=_labels(request, tenant),
        notice=_notice(done),
    )


async def _comparison_page(
    request: Request,
    tenant: TenantInfo,
    ctx: Ctx,
    actor: Actor,
    flag_id: uuid.UUID,
    *,
    problem: Problem | None = None,
) -> Response:
    seen = await registration.compare_duplicates(db=ctx.db, actor=actor, flag_id=flag_id)
    return page(
        request,
        tenant,
        "staff/duplicate.html",
        status=problem.status if problem else 200,
        errors=errors_of(problem, field="survivor_id") if problem else None,
        seen=seen,
        regions=_labels(request, tenant),
    )


@router.api_route(DUPLICATES + "/{flag_id}", methods=GET, dependencies=[WRITE])
async def duplicate_detail(
    tenant: PathTenant, flag_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Both records side by side, with the merge and dismiss forms."""
    return await _comparison_page(request, tenant, ctx, actor, flag_id)


@router.post(DUPLICATES + "/{flag_id}/merge", dependencies=[WRITE])
async def duplicate_merge(
    *,
    tenant: PathTenant,
    flag_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    survivor_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Merge the other record into the chosen one."""
    try:
        try:
            survivor = uuid.UUID(survivor_id)
        except ValueError:
            raise invalid(
                "survivor_id", N_("is not chosen: choose the record that stays")
            ) from None
        await registration.merge_flag(db=ctx.db, actor=actor, flag_id=flag_id, survivor_id=survivor)
    except Problem as exc:
        if exc.status in (409, 422):
            return await _comparison_page(request, tenant, ctx, actor, flag_id, problem=exc)
        raise
    return RedirectResponse(f"/{tenant.code}/staff/duplicates?done=merged", status_code=303)


@router.post(DUPLICATES + "/{flag_id}/dismiss", dependencies=[WRITE])
async def duplicate_dismiss(
    tenant: PathTenant, flag_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Not the same person: close the flag."""
    try:
        await registration.dismiss_duplicate(db=ctx.db, actor=actor, flag_id=flag_id)
    except Problem as exc:
        if exc.status == 409:
            return await _comparison_page(request, tenant, ctx, actor, flag_id, problem=exc)
        raise
    return RedirectResponse(f"/{tenant.code}/staff/duplicates?done=dismissed", status_code=303)


@router.post("/{tenant}/staff/merges/{merge_id}/undo", dependencies=[WRITE])
async def merge_undo(
    tenant: PathTenant, merge_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> Response:
    """Undo a merge; the flag is open again."""
    await registration.undo_merge(db=ctx.db, actor=actor, merge_id=merge_id)
    return RedirectResponse(f"/{tenant.code}/staff/duplicates?done=undone", status_code=303)
