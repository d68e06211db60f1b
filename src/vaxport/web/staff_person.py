"""Staff pages of a person's immunization record: their doses, the next due date of each
series and their adverse event reports; and reporting an adverse event after a dose.

``/{tenant}/staff/people/{id}`` is reached from the person search and today's list; the
reads are the API's use cases (``immunization.service.list_doses``, audited as
``dose.read``; the reports in the staff member's reach, ``list_aefi``). The report form
(``/{tenant}/staff/doses/{id}/aefi``) offers the tenant's coded symptoms as checkboxes,
the onset, the WHO seriousness criteria (a report is serious exactly when one is
ticked), the outcome and a narrative; the use case is ``report_aefi`` (a serious report
tells the region's admins). People and doses out of reach answer 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from vaxport.core.clock import utcnow
from vaxport.core.errors import Forbidden, Problem
from vaxport.core.http.dependencies import Context, Ctx, requires
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, CurrentActor, PathTenant
from vaxport.immunization import service as immunization
from vaxport.immunization.service import AefiListQuery, DoseOut
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo
from vaxport.web import immunization_forms as forms
from vaxport.web.problems import FormError
from vaxport.web.staff_common import facility_names, locale_of, page

router = APIRouter(include_in_schema=False)
PERSON = "/{tenant}/staff/people/{beneficiary_id}"
REPORT = "/{tenant}/staff/doses/{dose_id}/aefi"
GET = ["GET", "HEAD"]
READ = requires("doses:read")
WRITE = requires("doses:write")
NOTICES = frozenset({"reported"})
STAFF_ONLY = N_("a person's immunization record is read here by staff")


def staff_only(actor: Actor) -> None:
    """Refuse citizens (403): they read their family's record on their own pages."""
    if actor.kind != "staff":
        raise Forbidden(STAFF_ONLY)


@router.api_route(PERSON, methods=GET, dependencies=[READ])
async def person_record(
    *,
    tenant: PathTenant,
    beneficiary_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    done: str = "",
) -> Response:
    """The person's doses (oldest first), next due per series, and reports in reach."""
    staff_only(actor)
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id
    )
    history = await immunization.list_doses(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member.id
    )
    reports = await immunization.list_aefi(
        db=ctx.db, tenant=tenant, actor=actor, query=AefiListQuery(beneficiary_id=member.id)
    )
    names = await facility_names(ctx.db, request, tenant, [d.facility_id for d in history.doses])
    return page(
        request,
        tenant,
        "staff/person_record.html",
        nav_current="people",
        member=member,
        doses=history.doses,
        given_at={d.id: forms.local_text(tenant, d.administered_at) for d in history.doses},
        series=forms.series_views(tenant, history.series),
        reports=reports.items,
        onset={r.id: forms.local_text(tenant, r.onset_at) for r in reports.items},
        product_names=forms.product_names(tenant),
        facility_names=names,
        can_record=actor.has("doses:write"),
        notice=done if done in NOTICES else None,
    )


async def _report_page(
    request: Request,
    ctx: Context,
    *,
    tenant: TenantInfo,
    actor: Actor,
    dose: DoseOut,
    form: dict[str, Any],
    status: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=dose.beneficiary_id
    )
    return page(
        request,
        tenant,
        "staff/aefi_form.html",
        status=status,
        errors=errors,
        nav_current="people",
        member=member,
        dose=dose,
        given_at=forms.local_text(tenant, dose.administered_at),
        product_names=forms.product_names(tenant),
        form=form,
        symptoms=forms.symptom_choices(tenant, locale_of(request, tenant).locale),
        criteria=forms.CRITERIA,
        outcomes=forms.OUTCOMES,
        action=f"/{tenant.code}/staff/doses/{dose.id}/aefi",
    )


@router.api_route(REPORT, methods=GET, dependencies=[WRITE])
async def report_form(
    tenant: PathTenant, dose_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """The adverse event form for one dose."""
    dose = await immunization.get_dose(db=ctx.db, tenant=tenant, actor=actor, dose_id=dose_id)
    form = {"onset_at": forms.local_input(tenant, utcnow()), "outcome": "recovering"}
    return await _report_page(request, ctx, tenant=tenant, actor=actor, dose=dose, form=form)


@router.post(REPORT, dependencies=[WRITE])
async def report_submit(
    tenant: PathTenant, dose_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """File the report; back to the person's record, which lists it."""
    form = await forms.read_aefi(request)
    dose = await immunization.get_dose(db=ctx.db, tenant=tenant, actor=actor, dose_id=dose_id)
    try:
        body = forms.aefi_in(tenant, form, dose_id=str(dose.id))
        await immunization.report_aefi(db=ctx.db, tenant=tenant, actor=actor, body=body)
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
            dose=dose,
            form=form,
            status=status,
            errors=errors,
        )
    url = f"/{tenant.code}/staff/people/{dose.beneficiary_id}?done=reported"
    return RedirectResponse(url, status_code=303)
