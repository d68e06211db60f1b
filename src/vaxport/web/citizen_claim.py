"""Citizen page: claim a walk-in's record with the slip a vaccination centre printed.

The slip carries the record's ID document and a claim code; the page sends them to the
same use case as ``POST /api/v1/{tenant}/beneficiaries/claims`` (same throttle), and the
person joins the account's family.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import Problem
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.service import CurrentActor, OptionalActor, PathTenant, refuse_if_held
from vaxport.registration import service
from vaxport.registration.service import ClaimIn
from vaxport.tenancy.service import TenantInfo
from vaxport.web import person_form
from vaxport.web.staff_common import FormError

router = APIRouter(include_in_schema=False)
CLAIM = "/{tenant}/family/claim"
TEMPLATE = "citizen/family_claim.html"
FIELDS = ("id_type", "number", "code")


def _page(
    request: Request,
    tenant: TenantInfo,
    form: dict[str, str],
    *,
    status: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    return person_form.form_page(
        request, tenant, TEMPLATE, form, status=status, errors=errors, nav_current="family"
    )


@router.api_route(
    CLAIM, methods=["GET", "HEAD"], dependencies=[requires("pages:read", public=True)]
)
async def claim_form(tenant: PathTenant, actor: OptionalActor, request: Request) -> Response:
    """The slip's ID document and claim code."""
    if actor is None or actor.kind != "citizen" or actor.tenant_code != tenant.code:
        return RedirectResponse(f"/{tenant.code}/sign-in", status_code=303)
    refuse_if_held(actor, "beneficiaries:write")
    return _page(request, tenant, dict.fromkeys(FIELDS, ""))


@router.post(CLAIM, dependencies=[requires("beneficiaries:write", rate="login")])
async def claim_submit(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    id_type: Annotated[str, Form(max_length=32)] = "",
    number: Annotated[str, Form(max_length=64)] = "",
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Attach the record to the account; back to the family."""
    form = {"id_type": id_type, "number": number.strip(), "code": code.strip()}
    try:
        body = ClaimIn.model_validate(form)
        await service.claim_member(
            db=ctx.db, settings=ctx.settings, tenant=tenant, actor=actor, body=body
        )
    except (Problem, ValidationError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        if status >= 500:
            raise
        errors = person_form.problems(request, tenant, exc)
        return _page(request, tenant, form, status=status, errors=errors)
    return RedirectResponse(f"/{tenant.code}/family?done=claimed", status_code=303)
