"""Citizen pages: a family member's vaccination record, and reporting an adverse event.

``/{tenant}/family/{member_id}/record`` shows the member's doses (vaccine, lot, date,
centre), the next due date of each series with a link to book it (the booking flow,
``citizen_booking.py``), and the adverse events reported. ``.../aefi`` reports one: the
tenant's coded symptoms as checkboxes, when they began, seriousness, outcome and what
happened, optionally naming one of the member's doses; staff then triage it. The use
cases are the API's (``immunization.service.list_doses``, ``member_aefi``,
``report_member_aefi``). A member of another account answers 404; signed-out visitors go
to the sign-in page and come back.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import Problem
from vaxport.core.http.dependencies import Context, Ctx, requires
from vaxport.identity.service import Actor, CurrentActor, OptionalActor, PathTenant
from vaxport.immunization import service as immunization
from vaxport.registration import service as registration
from vaxport.registration.service import MemberOut
from vaxport.tenancy.service import TenantInfo
from vaxport.web import booking_steps as steps
from vaxport.web import immunization_forms as forms
from vaxport.web.problems import FormError
from vaxport.web.staff_common import facility_names, locale_of, page

router = APIRouter(include_in_schema=False)
RECORD = "/{tenant}/family/{member_id}/record"
REPORT = "/{tenant}/family/{member_id}/aefi"
GET = ["GET", "HEAD"]
PAGE = requires("pages:read", public=True)
WRITE = requires("aefi:report")
NOTICES = frozenset({"reported"})


async def _member(
    ctx: Context, tenant: TenantInfo, actor: Actor, member_id: uuid.UUID
) -> MemberOut:
    return await registration.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member_id
    )


@router.api_route(RECORD, methods=GET, dependencies=[PAGE])
async def member_record(
    *,
    tenant: PathTenant,
    member_id: uuid.UUID,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
    done: str = "",
) -> Response:
    """The member's doses, next due dates and adverse event reports."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    member = await _member(ctx, tenant, me, member_id)
    history = await immunization.list_doses(
        db=ctx.db, tenant=tenant, actor=me, beneficiary_id=member.id
    )
    reports = await immunization.member_aefi(
        db=ctx.db, tenant=tenant, actor=me, beneficiary_id=member.id
    )
    names = await facility_names(ctx.db, request, tenant, [d.facility_id for d in history.doses])
    return page(
        request,
        tenant,
        "citizen/record.html",
        nav_current="family",
        member=member,
        doses=[d for d in history.doses if d.status == "recorded"],
        given_on={d.id: forms.local_text(tenant, d.administered_at)[:10] for d in history.doses},
        series=forms.series_views(tenant, history.series),
        reports=reports,
        onset={r.id: forms.local_text(tenant, r.onset_at) for r in reports},
        product_names=forms.product_names(tenant),
        facility_names=names,
        notice=done if done in NOTICES else None,
    )


async def _report_page(
    request: Request,
    ctx: Context,
    *,
    tenant: TenantInfo,
    actor: Actor,
    member: MemberOut,
    form: dict[str, Any],
    status: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    history = await immunization.list_doses(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member.id
    )
    names = forms.product_names(tenant)
    doses = [
        (
            str(d.id),
            f"{names.get(d.product_id, d.product_id)}, {d.dose_number} "
            f"({forms.local_text(tenant, d.administered_at)[:10]})",
        )
        for d in reversed(history.doses)
        if d.status == "recorded"
    ]
    return page(
        request,
        tenant,
        "citizen/aefi_form.html",
        status=status,
        errors=errors,
        nav_current="family",
        member=member,
        doses=doses,
        form=form,
        symptoms=forms.symptom_choices(tenant, locale_of(request, tenant).locale),
        criteria=forms.CRITERIA,
        outcomes=forms.OUTCOMES,
        action=f"/{tenant.code}/family/{member.id}/aefi",
    )


@router.api_route(REPORT, methods=GET, dependencies=[PAGE])
async def report_form(
    *,
    tenant: PathTenant,
    member_id: uuid.UUID,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
    dose: str = "",
) -> Response:
    """The form; ``?dose=`` preselects the dose the event followed."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    member = await _member(ctx, tenant, me, member_id)
    form = {"dose_id": dose[:64], "outcome": "recovering"}
    return await _report_page(request, ctx, tenant=tenant, actor=me, member=member, form=form)


@router.post(REPORT, dependencies=[WRITE])
async def report_submit(
    tenant: PathTenant, member_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """File the report; back to the member's record, which lists it."""
    form = await forms.read_aefi(request)
    member = await _member(ctx, tenant, actor, member_id)
    try:
        body = forms.aefi_in(tenant, form, dose_id=form["dose_id"] or None)
        await immunization.report_member_aefi(
            db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member.id, body=body
        )
    except (Problem, ValidationError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        if status >= 500 or status == 404:
            raise
        errors = forms.problems(exc)
        return await _report_page(
            request,
            ctx,
            tenant=tenant,
            actor=actor,
            member=member,
            form=form,
            status=status,
            errors=errors,
        )
    return RedirectResponse(f"/{tenant.code}/family/{member.id}/record?done=reported", 303)
