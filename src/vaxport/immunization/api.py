"""HTTP routes of dose records: ``/api/v1/{tenant}/doses`` and a person's history.

Vaccinators (``doses:write``) record a dose for a person in their reach; each refusal
has its own problem type (``immunization/refusals.py``), the same dose twice is 409
``dose-already-recorded``, and the answer is kept with the ``Idempotency-Key``. Staff
with ``doses:read`` read the doses of the people in their reach, citizens those of their
own family (``/beneficiaries/{id}/doses``, with the next due date of each series);
anyone else's is 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.http.openapi import link_resource
from vaxport.core.idempotency import answer_concerns, claim_of, claims_in_transaction
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.immunization import service
from vaxport.immunization.schemas import DoseHistoryOut, DoseIn, DoseOut

router = APIRouter(tags=["doses"])

READ = requires("doses:read")
WRITE = requires("doses:write")
BASE = "/api/v1/{tenant}/doses"
ITEM = BASE + "/{dose_id}"
HISTORY = "/api/v1/{tenant}/beneficiaries/{beneficiary_id}/doses"

# OpenAPI links (wiring hands them to the app).
LINKS = (
    *link_resource(
        "dose_id",
        sources={("POST", BASE, "201"): "$response.body#/id"},
        targets={"GetDose": ("GET", ITEM)},
    ),
    *link_resource(
        "beneficiary_id",
        sources={("POST", BASE, "201"): "$response.body#/beneficiary_id"},
        targets={"GetDoseHistory": ("GET", HISTORY)},
    ),
)

_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "The person is not in your reach"},
    409: {
        "description": "The dose is already recorded (``dose-already-recorded``), the lot is "
        "on hold (``lot-on-hold``), or the appointment cannot be completed"
    },
    422: {
        "description": "Each reason has its type: ``dose-number-not-next``, ``too-early`` "
        "(``overridable``), ``wrong-product-sequence``, ``lot-expired``, ``unknown-lot``, "
        "``administered-in-future``, ``facility-out-of-reach``, ``appointment-mismatch``..."
    },
}


def _where(tenant: str) -> str:
    """Where a dose record is, up to its id (the ``Location`` of a recording)."""
    return f"/api/v1/{tenant}/doses/"


@router.post(
    BASE,
    dependencies=[WRITE],
    status_code=201,
    responses={201: {"description": "Recorded"}, **_REFUSED},
    operation_id="record_dose",
    summary="Record a dose given",
)
@claims_in_transaction
async def record_dose(
    *,
    tenant: PathTenant,
    body: DoseIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> DoseOut:
    """201 with the dose record; the answer is kept with the ``Idempotency-Key``."""
    keep = service.kept_answer(claim_of(request), _where(tenant.code))
    recorded = await service.record_dose(
        db=ctx.db, tenant=tenant, actor=actor, body=body, keep=keep
    )
    answer_concerns(request, recorded.beneficiary_id)
    response.headers["Location"] = _where(tenant.code) + str(recorded.id)
    return recorded


@router.get(
    ITEM,
    dependencies=[READ],
    operation_id="get_dose",
    summary="One dose record",
    responses={404: {"description": "The dose's person is not in your reach"}},
)
async def get_dose(
    tenant: PathTenant, dose_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> DoseOut:
    """404 when the dose's person is not in the actor's reach."""
    return await service.get_dose(db=ctx.db, tenant=tenant, actor=actor, dose_id=dose_id)


@router.get(
    HISTORY,
    dependencies=[READ],
    operation_id="get_dose_history",
    summary="A person's doses and the next due date of each series",
    responses={404: _REFUSED[404]},
)
async def get_dose_history(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> DoseHistoryOut:
    """Staff: a person in reach (audited); citizens: a member of their family."""
    return await service.list_doses(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id
    )
