"""Staff pages of the vaccinator's console: record a dose given, then see it recorded.

``/{tenant}/staff/people/{id}/dose`` is the form, reached from today's list (with the
appointment: its vaccine is the default and the recording completes it), from a person
found, or from a walk-in just registered. The vaccine is chosen first (a GET form, no
script), then the lot among that vaccine's lots usable today (not expired, not on hold:
the immunization front door lists them), the site and route (left arm, IM by default),
the time (now by default) and notes. The dose number is the schedule's next, shown and
sent back so that a dose recorded meanwhile is refused rather than numbered anew. When
the schedule refuses in a way a vaccinator may record past (too early, too young...),
the same page answers with the reason and an override section asking why.

The use case is ``immunization.service.record_dose`` (the ``POST .../doses`` API's):
its refusals are shown in the error summary, linked to the inputs. Success answers 303
to ``/{tenant}/staff/doses/{id}``: the dose and the person's next due date.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from vaxport.core.clock import utcnow
from vaxport.core.errors import NotFound, Problem
from vaxport.core.http.dependencies import Context, Ctx, requires
from vaxport.core.i18n import N_
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor, CurrentActor, PathTenant
from vaxport.immunization import service as immunization
from vaxport.immunization.service import DoseHistoryOut, DoseIn
from vaxport.registration import service as registration
from vaxport.registration.service import MemberOut
from vaxport.scheduling import service as scheduling
from vaxport.scheduling.service import AppointmentOut
from vaxport.tenancy.service import TenantInfo
from vaxport.web import centre_picker
from vaxport.web import immunization_forms as forms
from vaxport.web.problems import FormError
from vaxport.web.staff_common import facility_names, page
from vaxport.web.staff_person import staff_only

router = APIRouter(include_in_schema=False)
RECORD = "/{tenant}/staff/people/{beneficiary_id}/dose"
DOSE = "/{tenant}/staff/doses/{dose_id}"
GET = ["GET", "HEAD"]
WRITE = requires("doses:write")
READ = requires("doses:read")
FIELDS = (
    "product_id",
    "lot_id",
    "dose_number",
    "site",
    "route",
    "administered_at",
    "notes",
    "appointment_id",
    "facility_id",
    "override_reason",
)
# Where the use case's field paths point on the form.
INPUTS = {
    "lot_number": "lot_id",
    "override": "override_reason",
    "override.reason": "override_reason",
    "booking_code": "appointment_id",
}
DEFAULT_SITE, DEFAULT_ROUTE = "left-arm", "IM"
NO_APPOINTMENT = N_("appointment not found")


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def _appointment(
    ctx: Context, tenant: TenantInfo, actor: Actor, member: MemberOut, value: str
) -> AppointmentOut | None:
    """The appointment the dose is given at (named in the link or the form); 404 when it
    is not this person's, or out of reach."""
    appointment_id = _uuid(value)
    if appointment_id is None:
        return None
    found = await scheduling.get_appointment(
        db=ctx.db, tenant=tenant, actor=actor, appointment_id=appointment_id
    )
    if found.beneficiary_id != member.id:
        raise NotFound(NO_APPOINTMENT)
    return found


def _next_number(tenant: TenantInfo, history: DoseHistoryOut, product_id: str) -> int | None:
    """The schedule's next dose number in the product's series (None: complete)."""
    product = tenant.config.products.get(product_id)
    if product is None:
        return None
    for series in history.series:
        if series.series == product.disease:
            return series.next_dose_number
    return None


async def _centre_code(
    ctx: Context, tenant: TenantInfo, actor: Actor, appointment: AppointmentOut | None
) -> str:
    """The centre to preselect for staff of a region: the appointment's."""
    if actor.facility_id is not None or appointment is None:
        return ""
    try:
        found = await facilities.get(db=ctx.db, tenant=tenant, facility_id=appointment.facility_id)
    except NotFound:
        return ""
    return found.code


async def _form_page(
    request: Request,
    ctx: Context,
    *,
    tenant: TenantInfo,
    actor: Actor,
    member: MemberOut,
    form: dict[str, Any],
    appointment: AppointmentOut | None,
    status: int = 200,
    errors: list[FormError] | None = None,
    override: bool = False,
) -> Response:
    product_id = form.get("product_id") or ""
    if product_id not in dict(forms.active_products(tenant)):
        product_id = form["product_id"] = ""
    today = scheduling.local_today(tenant)
    lots = (
        await immunization.usable_lots(
            db=ctx.db, tenant=tenant, actor=actor, product_id=product_id, day=today
        )
        if product_id
        else []
    )
    history = await immunization.list_doses(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member.id
    )
    number = _next_number(tenant, history, product_id) if product_id else None
    if not form.get("dose_number") and number is not None:
        form["dose_number"] = str(number)
    centres = (
        await centre_picker.picker(ctx.db, request, tenant, actor)
        if actor.facility_id is None
        else None
    )
    return page(
        request,
        tenant,
        "staff/dose_form.html",
        status=status,
        errors=errors,
        nav_current="today" if appointment else "people",
        member=member,
        form=form,
        appointment=appointment,
        products=forms.active_products(tenant),
        product_names=forms.product_names(tenant),
        lots=[(str(lot.id), f"{lot.lot_number} ({lot.expires_on.isoformat()})") for lot in lots],
        next_number=number,
        sites=forms.SITES,
        routes=forms.ROUTES,
        centres=centres,
        show_override=override or bool(form.get("override_reason")),
        action=f"/{tenant.code}/staff/people/{member.id}/dose",
    )


@router.api_route(RECORD, methods=GET, dependencies=[WRITE])
async def dose_form(
    *,
    tenant: PathTenant,
    beneficiary_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    appointment: str = "",
    product: str = "",
    facility_id: str = "",
) -> Response:
    """The form, with the appointment's vaccine (or the one chosen) and its lots."""
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id
    )
    booked = await _appointment(ctx, tenant, actor, member, appointment[:64])
    form: dict[str, Any] = {
        "product_id": product[:64] or (booked.product_id if booked else ""),
        "site": DEFAULT_SITE,
        "route": DEFAULT_ROUTE,
        "administered_at": forms.local_input(tenant, utcnow()),
        "appointment_id": str(booked.id) if booked else "",
        "facility_id": facility_id.strip().upper()[:64]
        or await _centre_code(ctx, tenant, actor, booked),
    }
    return await _form_page(
        request, ctx, tenant=tenant, actor=actor, member=member, form=form, appointment=booked
    )


async def _read(request: Request) -> dict[str, Any]:
    submitted = await request.form()
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = submitted.get(name)
        limit = 2000 if name == "notes" else forms.MAX_VALUE
        out[name] = value.strip()[:limit] if isinstance(value, str) else ""
    return out


async def _body(
    ctx: Context, tenant: TenantInfo, actor: Actor, member: MemberOut, form: Mapping[str, Any]
) -> DoseIn:
    """The use case's request from the form (the centre resolved for staff of a region)."""
    body: dict[str, Any] = {
        "beneficiary_id": str(member.id),
        "product_id": form["product_id"],
        "lot_id": form["lot_id"] or None,
        "site": form["site"] or None,
        "route": form["route"] or None,
        "notes": form["notes"] or None,
        "appointment_id": form["appointment_id"] or None,
    }
    if form["dose_number"]:
        body["dose_number"] = form["dose_number"]
    if form["administered_at"]:
        body["administered_at"] = forms.parse_local(
            tenant, "administered_at", form["administered_at"]
        )
    if form["override_reason"]:
        body["override"] = {"reason": form["override_reason"]}
    if actor.facility_id is None:
        centre = await centre_picker.resolve(ctx.db, tenant, actor, form["facility_id"])
        body["facility_id"] = str(centre)
    return DoseIn.model_validate(body)


@router.post(RECORD, dependencies=[WRITE])
async def dose_submit(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Record the dose; its page, with the next due date."""
    form = await _read(request)
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id
    )
    booked = await _appointment(ctx, tenant, actor, member, form["appointment_id"])
    try:
        body = await _body(ctx, tenant, actor, member, form)
        recorded = await immunization.record_dose(db=ctx.db, tenant=tenant, actor=actor, body=body)
    except (Problem, ValidationError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        if status >= 500 or status == 404:
            raise
        override = isinstance(exc, Problem) and bool(exc.extra.get("overridable"))
        errors = forms.problems(exc, INPUTS)
        return await _form_page(
            request,
            ctx,
            tenant=tenant,
            actor=actor,
            member=member,
            form=form,
            appointment=booked,
            status=status,
            errors=errors,
            override=override,
        )
    url = f"/{tenant.code}/staff/doses/{recorded.id}?done=recorded"
    return RedirectResponse(url, status_code=303)


@router.api_route(DOSE, methods=GET, dependencies=[READ])
async def dose_page(
    *,
    tenant: PathTenant,
    dose_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    done: str = "",
) -> Response:
    """One dose as recorded, and when the person's next dose of its series is due."""
    staff_only(actor)
    dose = await immunization.get_dose(db=ctx.db, tenant=tenant, actor=actor, dose_id=dose_id)
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=dose.beneficiary_id
    )
    history = await immunization.list_doses(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member.id
    )
    series = next((s for s in history.series if s.series == dose.series), None)
    names = await facility_names(ctx.db, request, tenant, [dose.facility_id])
    return page(
        request,
        tenant,
        "staff/dose_done.html",
        nav_current="people",
        dose=dose,
        member=member,
        series=series,
        product_names=forms.product_names(tenant),
        given_at=forms.local_text(tenant, dose.administered_at),
        centre_name=names.get(dose.facility_id) if dose.facility_id else None,
        recorded=done == "recorded",
        can_report=actor.has("doses:write"),
    )
