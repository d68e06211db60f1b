"""Staff page: register a walk-in at a centre (a person with no account, maybe no phone).

Vaccinators and managers of a centre register at their own centre; staff of a region (or
national) choose it from the centres in their reach (``web/centre_picker.py``), never by
an internal id. The slip's reference and claim code are shown once, on the answer to the
form (a citizen account can claim the record later with them).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from vaxport.core.errors import Problem
from vaxport.core.http.dependencies import Context, Ctx, requires
from vaxport.identity.service import Actor, CurrentActor, PathTenant
from vaxport.registration import service
from vaxport.registration.service import WalkInIn
from vaxport.tenancy.service import TenantInfo
from vaxport.web import centre_picker, person_form
from vaxport.web.staff_common import FormError, page

router = APIRouter(include_in_schema=False)
WALK_IN = "/{tenant}/staff/walk-in"
WRITE = requires("beneficiaries:write")


async def _form_page(
    request: Request,
    ctx: Context,
    tenant: TenantInfo,
    actor: Actor,
    form: dict[str, Any],
    *,
    status: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    needs_facility = actor.facility_id is None
    centres = await centre_picker.picker(ctx.db, request, tenant, actor) if needs_facility else None
    return person_form.form_page(
        request,
        tenant,
        "staff/walk_in.html",
        form,
        status=status,
        errors=errors,
        nav_current="walk-in",
        needs_facility=needs_facility,
        centres=centres,
    )


@router.api_route(WALK_IN, methods=["GET", "HEAD"], dependencies=[WRITE])
async def walk_in_form(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """The registration form for someone at the centre."""
    return await _form_page(request, ctx, tenant, actor, {"sex": "unknown"})


@router.post(WALK_IN, dependencies=[WRITE])
async def walk_in_submit(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Register the person; show the slip's reference and claim code."""
    fields = await person_form.read(request, (*person_form.FIELDS, "facility_id"))
    form = fields | await person_form.read_declared(request, tenant)
    try:
        body = person_form.member_body(form)
        if actor.facility_id is None:
            centre = await centre_picker.resolve(ctx.db, tenant, actor, fields["facility_id"])
            body["facility_id"] = str(centre)
        made = await service.register_walk_in(
            db=ctx.db, tenant=tenant, actor=actor, body=WalkInIn.model_validate(body)
        )
    except (Problem, ValidationError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        if status >= 500:
            raise
        errors = person_form.problems(request, tenant, exc)
        return await _form_page(request, ctx, tenant, actor, form, status=status, errors=errors)
    return page(request, tenant, "staff/walk_in_done.html", nav_current="walk-in", made=made)
