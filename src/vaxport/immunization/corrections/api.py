"""HTTP routes of corrections and voids: ``/api/v1/{tenant}/doses/{dose_id}`` (PATCH),
``.../void``, ``.../void-requests/{request_id}/approve`` and ``.../revisions``.

The routes declare ``doses:read`` (everyone who may change a dose reads it) and the use
cases decide the rest on the dose itself: its recorder within the window
(``doses:write``) or a supervisor over its centre (``doses:correct``); approval needs
``doses:void-approve``. Refusals are problem+json: 403 naming who can, 409
``stale-version`` for an older version, 422 for a bad or unknown field.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.http.openapi import link_resource
from vaxport.core.idempotency import answer_concerns
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.immunization import service
from vaxport.immunization.corrections.schemas import (
    DoseCorrection,
    RevisionsOut,
    VoidIn,
    VoidOut,
)
from vaxport.immunization.schemas import DoseOut

router = APIRouter(tags=["doses"])

READ = requires("doses:read")
APPROVE = requires("doses:void-approve")
ITEM = "/api/v1/{tenant}/doses/{dose_id}"
VOID = ITEM + "/void"
APPROVAL = ITEM + "/void-requests/{request_id}/approve"
REVISIONS = ITEM + "/revisions"

# OpenAPI links from a recorded dose to its corrections (wiring hands them to the app).
LINKS = link_resource(
    "dose_id",
    sources={("POST", "/api/v1/{tenant}/doses", "201"): "$response.body#/id"},
    targets={
        "CorrectDose": ("PATCH", ITEM),
        "VoidDose": ("POST", VOID),
        "GetDoseRevisions": ("GET", REVISIONS),
    },
)

_REFUSED: dict[int | str, dict[str, Any]] = {
    403: {
        "description": "Not yours to change: the recorder's window passed "
        "(``correction-window-passed``), another's record (``not-the-recorder``), or the "
        "approver asked for the void (``approver-is-requester``)"
    },
    404: {"description": "The dose is not in your reach"},
    409: {
        "description": "The dose changed since the version sent (``stale-version``), is "
        "voided (``dose-voided``), a void waits for approval (``void-requested``), or a "
        "check of recording refuses (``lot-on-hold``, ``dose-already-recorded``)"
    },
    422: {"description": "A bad or unknown field, a reason missing, or a check refuses"},
}


@router.patch(
    ITEM,
    dependencies=[READ],
    responses=_REFUSED,
    operation_id="correct_dose",
    summary="Correct a dose record",
)
async def correct_dose(
    *,
    tenant: PathTenant,
    dose_id: uuid.UUID,
    body: DoseCorrection,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
) -> DoseOut:
    """The dose at its next version (or as it was, when nothing differs)."""
    corrected = await service.correct_dose(
        db=ctx.db, tenant=tenant, actor=actor, settings=ctx.settings, dose_id=dose_id, body=body
    )
    answer_concerns(request, corrected.beneficiary_id)
    return corrected


@router.post(
    VOID,
    dependencies=[READ],
    responses={
        202: {"description": "The dose has a certificate: another person approves"},
        **_REFUSED,
    },
    operation_id="void_dose",
    summary="Void a dose record",
)
async def void_dose(
    *,
    tenant: PathTenant,
    dose_id: uuid.UUID,
    body: VoidIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> VoidOut:
    """200 voided; 202 with the pending request when a second person must approve."""
    out = await service.void_dose(
        db=ctx.db, tenant=tenant, actor=actor, settings=ctx.settings, dose_id=dose_id, body=body
    )
    answer_concerns(request, out.dose.beneficiary_id)
    if out.outcome == "approval-required":
        response.status_code = 202
    return out


@router.post(
    APPROVAL,
    dependencies=[APPROVE],
    responses=_REFUSED,
    operation_id="approve_dose_void",
    summary="Approve another person's void of a dose",
)
async def approve_void(
    *,
    tenant: PathTenant,
    dose_id: uuid.UUID,
    request_id: uuid.UUID,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
) -> VoidOut:
    """The dose voided at the version the request was made on."""
    out = await service.approve_void(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        settings=ctx.settings,
        dose_id=dose_id,
        request_id=request_id,
    )
    answer_concerns(request, out.dose.beneficiary_id)
    return out


@router.get(
    REVISIONS,
    dependencies=[READ],
    responses={404: _REFUSED[404]},
    operation_id="get_dose_revisions",
    summary="A dose record's history",
)
async def get_revisions(
    tenant: PathTenant, dose_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> RevisionsOut:
    """Staff who read the dose (audited)."""
    return await service.list_revisions(db=ctx.db, tenant=tenant, actor=actor, dose_id=dose_id)
