"""HTTP routes of adverse events following immunization (AEFI).

- Staff: ``POST /api/v1/{tenant}/aefi`` (``doses:write``, over the dose's place or
  person), list and read (``doses:read``, in reach; a full read is audited), triage
  (``aefi:triage``: vaccinators, managers, admins).
- Citizens: ``POST`` and ``GET /api/v1/{tenant}/beneficiaries/{id}/aefi`` for their own
  members (``aefi:report``).

Out of reach or another tenant's answers 404; an unknown symptom code 422 naming
``symptoms[i]``. Answers carry health data: a report's Idempotency-Key is kept with the
report, in its transaction, its answer sealed under the person's key.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.idempotency import (
    Keep,
    answer_concerns,
    claim_of,
    claims_in_transaction,
    kept_created,
)
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.immunization.aefi import reads, reporting
from vaxport.immunization.aefi.schemas import AefiIn, AefiListQuery, AefiOut, AefiPage, TriageIn

router = APIRouter(tags=["adverse events"])

BASE = "/api/v1/{tenant}/aefi"
ITEM = BASE + "/{report_id}"
MEMBER = "/api/v1/{tenant}/beneficiaries/{beneficiary_id}/aefi"
_MISSING: dict[int | str, dict[str, Any]] = {404: {"description": "Not found in your reach"}}


def _where(tenant: str) -> str:
    """Where a report is, up to its id (the ``Location`` of a report made)."""
    return f"/api/v1/{tenant}/aefi/"


def _kept(request: Request, tenant: str) -> Keep[AefiOut] | None:
    return kept_created(claim_of(request), _where(tenant), lambda out: out.beneficiary_id)


def _location(response: Response, tenant: str, report: AefiOut) -> None:
    response.headers["Location"] = _where(tenant) + str(report.id)


@router.post(
    BASE,
    dependencies=[requires("doses:write")],
    status_code=201,
    operation_id="report_aefi",
    summary="Report an adverse event after a dose (staff)",
    responses=_MISSING,
)
@claims_in_transaction
async def report_aefi(
    *,
    tenant: PathTenant,
    body: AefiIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> AefiOut:
    """A serious report tells the region's admins and counts toward the lot's threshold."""
    report = await reporting.report_as_staff(
        db=ctx.db, tenant=tenant, actor=actor, body=body, keep=_kept(request, tenant.code)
    )
    answer_concerns(request, report.beneficiary_id)
    _location(response, tenant.code, report)
    return report


@router.get(
    BASE, dependencies=[requires("doses:read")], operation_id="list_aefi", summary="List reports"
)
async def list_aefi(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, query: Annotated[AefiListQuery, Query()]
) -> AefiPage:
    """Reports in your reach, newest first, without symptoms or narrative."""
    return await reads.list_reports(db=ctx.db, tenant=tenant, actor=actor, query=query)


@router.get(
    ITEM,
    dependencies=[requires("doses:read")],
    operation_id="get_aefi",
    summary="One report in full (audited)",
    responses=_MISSING,
)
async def get_aefi(
    tenant: PathTenant, report_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> AefiOut:
    """404 out of your reach."""
    return await reads.get_report(db=ctx.db, tenant=tenant, actor=actor, report_id=report_id)


@router.post(
    ITEM + "/triage",
    dependencies=[requires("aefi:triage")],
    operation_id="triage_aefi",
    summary="Triage a report: seriousness, outcome, note; or close it",
    responses={**_MISSING, 409: {"description": "Changed since that version, or closed"}},
)
async def triage_aefi(
    *,
    tenant: PathTenant,
    report_id: uuid.UUID,
    body: TriageIn,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
) -> AefiOut:
    """Making a report serious tells the region's admins and counts toward the lot."""
    report = await reporting.triage(
        db=ctx.db, tenant=tenant, actor=actor, report_id=report_id, body=body
    )
    answer_concerns(request, report.beneficiary_id)
    return report


@router.post(
    MEMBER,
    dependencies=[requires("aefi:report")],
    status_code=201,
    operation_id="report_member_aefi",
    summary="Report an adverse event of one of your members (citizens)",
    responses=_MISSING,
)
@claims_in_transaction
async def report_member_aefi(
    *,
    tenant: PathTenant,
    beneficiary_id: uuid.UUID,
    body: AefiIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> AefiOut:
    """``dose_id``, when given, must be one of the member's doses; staff then triage it."""
    answer_concerns(request, beneficiary_id)
    report = await reporting.report_as_citizen(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        beneficiary_id=beneficiary_id,
        body=body,
        keep=_kept(request, tenant.code),
    )
    _location(response, tenant.code, report)
    return report


@router.get(
    MEMBER,
    dependencies=[requires("aefi:report")],
    operation_id="list_member_aefi",
    summary="The adverse event reports of one of your members (citizens)",
    responses=_MISSING,
)
async def list_member_aefi(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> list[AefiOut]:
    """Newest first."""
    return await reads.member_reports(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id
    )
