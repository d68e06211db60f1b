"""Citizen pages: a family member's appointments, one appointment with its booking code,
cancelling one (after a confirmation step) and moving one to another slot.

``/{tenant}/family/{member_id}/appointments`` lists the member's appointments to come;
``/{tenant}/appointments/{id}`` is the confirmation page a booking ends on (the code,
where, when). Moving walks the booking steps (``booking_steps.py``) under
``/{tenant}/appointments/{id}/move``, narrowed to the appointment's product and dose; the
service takes the new seat and frees the old in one transaction, so a refusal leaves the
appointment as it was. Refusals (past the cutoff, the slot full...) are shown in words.
Appointments and members of another account answer 404.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import NotFound, Problem
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, CurrentActor, OptionalActor, PathTenant
from vaxport.registration import service as registration
from vaxport.registration.service import MemberOut
from vaxport.scheduling import service as scheduling
from vaxport.scheduling.service import AppointmentOut, AppointmentQuery, RescheduleIn
from vaxport.tenancy.service import TenantInfo
from vaxport.web import booking_steps as steps
from vaxport.web import booking_words as words
from vaxport.web.booking_steps import Flow
from vaxport.web.staff_common import page

router = APIRouter(include_in_schema=False)
ITEM = "/{tenant}/appointments/{appointment_id}"
MOVE = ITEM + "/move"
GET = ["GET", "HEAD"]
PAGE = requires("pages:read", public=True)
WRITE = requires("appointments:write", rate="booking")
SlotField = Annotated[str, Form(max_length=64)]
LIVE = ("booked", "held")
NOTICES = frozenset({"booked", "moved", "cancelled", "accepted"})
_NOT_CITIZEN = N_("only a signed-in citizen can change appointments here")


async def _appointment(
    ctx: Ctx, tenant: TenantInfo, actor: Actor, appointment_id: uuid.UUID
) -> tuple[AppointmentOut, MemberOut]:
    """The appointment and its person (404 unless the citizen reaches both)."""
    found = await scheduling.get_appointment(
        db=ctx.db, tenant=tenant, actor=actor, appointment_id=appointment_id
    )
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=found.beneficiary_id
    )
    return found, member


async def _move_flow(ctx: Ctx, tenant: TenantInfo, actor: Actor, appointment_id: uuid.UUID) -> Flow:
    found, member = await _appointment(ctx, tenant, actor, appointment_id)
    return Flow(
        base=f"/{tenant.code}/appointments/{found.id}/move",
        member=member,
        product_id=found.product_id,
        dose_number=found.dose_number,
        moving=found,
    )


@router.api_route("/{tenant}/family/{member_id}/appointments", methods=GET, dependencies=[PAGE])
async def member_appointments(
    *,
    tenant: PathTenant,
    member_id: uuid.UUID,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
    done: str = "",
) -> Response:
    """A member's appointments to come, each with its booking code."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=me, beneficiary_id=member_id
    )
    listed = await scheduling.list_appointments(
        db=ctx.db, tenant=tenant, actor=me, query=AppointmentQuery(beneficiary_id=member.id)
    )
    live = sorted((a for a in listed.items if a.status in LIVE), key=lambda a: a.starts_at)
    named = await steps.places(ctx, request, tenant, (a.facility_id for a in live))
    return page(
        request,
        tenant,
        "booking/appointments.html",
        nav_current="family",
        member=member,
        name=words.name_of(member),
        appointments=[steps.appointment_view(request, tenant, a, named) for a in live],
        notice=done if done in NOTICES else None,
    )


@router.api_route(ITEM, methods=GET, dependencies=[PAGE])
async def appointment(
    *,
    tenant: PathTenant,
    appointment_id: uuid.UUID,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
    done: str = "",
) -> Response:
    """One appointment: the booking code to show at the centre, where and when."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    found, member = await _appointment(ctx, tenant, me, appointment_id)
    named = await steps.places(ctx, request, tenant, [found.facility_id])
    return page(
        request,
        tenant,
        "booking/appointment.html",
        nav_current="family",
        member=member,
        name=words.name_of(member),
        appointment=steps.appointment_view(request, tenant, found, named),
        live=found.status in LIVE,
        notice=done if done in NOTICES else None,
    )


@router.post(ITEM + "/accept", dependencies=[WRITE])
async def accept(
    tenant: PathTenant, appointment_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Take a waitlist offer held for the member: it becomes their booking. An offer that
    lapsed meanwhile is said in words, with the way back to the member's appointments."""
    me = steps.citizen(actor, tenant)
    if me is None:
        raise NotFound(_NOT_CITIZEN)
    found, member = await _appointment(ctx, tenant, me, appointment_id)
    try:
        await scheduling.accept_offer(db=ctx.db, tenant=tenant, actor=me, appointment_id=found.id)
    except Problem as exc:
        if exc.status >= 500 or isinstance(exc, NotFound):
            raise
        named = await steps.places(ctx, request, tenant, [found.facility_id])
        name = words.name_of(member)
        return page(
            request,
            tenant,
            "booking/appointment.html",
            status=exc.status,
            errors=words.refusal_errors(request, tenant, exc, name=name),
            nav_current="family",
            member=member,
            name=name,
            appointment=steps.appointment_view(request, tenant, found, named),
            live=False,
            notice=None,
        )
    return RedirectResponse(
        f"/{tenant.code}/appointments/{found.id}?done=accepted", status_code=303
    )


async def _cancel_page(
    ctx: Ctx,
    request: Request,
    tenant: TenantInfo,
    actor: Actor,
    appointment_id: uuid.UUID,
    *,
    problem: Problem | None = None,
) -> Response:
    found, member = await _appointment(ctx, tenant, actor, appointment_id)
    named = await steps.places(ctx, request, tenant, [found.facility_id])
    name = words.name_of(member)
    errors = words.refusal_errors(request, tenant, problem, name=name) if problem else []
    return page(
        request,
        tenant,
        "booking/cancel.html",
        status=problem.status if problem else 200,
        errors=errors,
        nav_current="family",
        member=member,
        name=name,
        appointment=steps.appointment_view(request, tenant, found, named),
        refused=problem is not None,
    )


@router.api_route(ITEM + "/cancel", methods=GET, dependencies=[PAGE])
async def cancel_form(
    tenant: PathTenant, appointment_id: uuid.UUID, ctx: Ctx, actor: OptionalActor, request: Request
) -> Response:
    """Are you sure? The appointment, a button to cancel it and a way back."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    return await _cancel_page(ctx, request, tenant, me, appointment_id)


@router.post(ITEM + "/cancel", dependencies=[WRITE])
async def cancel(
    tenant: PathTenant, appointment_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Cancel it (the seat is freed); past the cutoff, why not and what to do."""
    me = steps.citizen(actor, tenant)
    if me is None:
        raise NotFound(_NOT_CITIZEN)
    found, member = await _appointment(ctx, tenant, me, appointment_id)
    try:
        await scheduling.cancel(
            db=ctx.db,
            cache=ctx.cache,
            settings=ctx.settings,
            tenant=tenant,
            actor=me,
            appointment_id=found.id,
        )
    except Problem as exc:
        if exc.status >= 500 or isinstance(exc, NotFound):
            raise
        return await _cancel_page(ctx, request, tenant, me, appointment_id, problem=exc)
    return RedirectResponse(
        f"/{tenant.code}/family/{member.id}/appointments?done=cancelled", status_code=303
    )


@router.api_route(MOVE, methods=GET, dependencies=[PAGE])
async def move_place(
    tenant: PathTenant, appointment_id: uuid.UUID, ctx: Ctx, actor: OptionalActor, request: Request
) -> Response:
    """Move: where (centres with seats for the same vaccine and dose)."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    flow = await _move_flow(ctx, tenant, me, appointment_id)
    return await steps.place_step(ctx, request, tenant, flow)


@router.api_route(MOVE + "/at/{facility_id}", methods=GET, dependencies=[PAGE])
async def move_day(
    *,
    tenant: PathTenant,
    appointment_id: uuid.UUID,
    facility_id: uuid.UUID,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
) -> Response:
    """Move: which day."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    flow = await _move_flow(ctx, tenant, me, appointment_id)
    return await steps.days_step(ctx, request, tenant, flow, facility_id)


@router.api_route(MOVE + "/at/{facility_id}/{day}", methods=GET, dependencies=[PAGE])
async def move_slot(
    *,
    tenant: PathTenant,
    appointment_id: uuid.UUID,
    facility_id: uuid.UUID,
    day: dt.date,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
) -> Response:
    """Move: which time."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    flow = await _move_flow(ctx, tenant, me, appointment_id)
    return await steps.slots_step(ctx, request, tenant, flow, facility_id=facility_id, day=day)


@router.api_route(MOVE + "/confirm", methods=GET, dependencies=[PAGE])
async def move_confirm(
    *,
    tenant: PathTenant,
    appointment_id: uuid.UUID,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
    slot: str = "",
) -> Response:
    """Move: the old and the new appointment side by side, then confirm."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    flow = await _move_flow(ctx, tenant, me, appointment_id)
    return await steps.confirm_step(ctx, request, tenant, flow, steps.parse_slot(slot))


@router.post(MOVE + "/confirm", dependencies=[WRITE])
async def move(
    *,
    tenant: PathTenant,
    appointment_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    slot: SlotField = "",
) -> Response:
    """Take the new slot and free the old one together; the new appointment's page."""
    me = steps.citizen(actor, tenant)
    if me is None:
        raise NotFound(_NOT_CITIZEN)
    flow = await _move_flow(ctx, tenant, me, appointment_id)
    slot_id = steps.parse_slot(slot)
    if slot_id is None:
        return await steps.confirm_step(ctx, request, tenant, flow, None)
    try:
        moved = await scheduling.reschedule(
            db=ctx.db,
            cache=ctx.cache,
            settings=ctx.settings,
            tenant=tenant,
            actor=me,
            appointment_id=appointment_id,
            body=RescheduleIn(slot_id=slot_id),
        )
    except Problem as exc:
        if exc.status >= 500 or isinstance(exc, NotFound):
            raise
        return await steps.confirm_step(ctx, request, tenant, flow, slot_id, problem=exc)
    return RedirectResponse(f"/{tenant.code}/appointments/{moved.id}?done=moved", status_code=303)
