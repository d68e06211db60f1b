"""Citizen pages: book a vaccination for a family member (issue 14, part 8).

``/{tenant}/book`` asks for whom; then, under ``/{tenant}/book/{member_id}``: where (a
region or postal code, centres with free seats), which day (the next
``booking.days_ahead`` days with seats), which slot (time and seats left), and a
confirmation that posts. The answer is the appointment's page with its booking code
(``citizen_appointments.py``). ``/{tenant}/book?slot=<id>`` (the public search links
there) starts at the member choice with the slot chosen: choosing the member goes
straight to the confirmation.

Signed-out visitors go to the sign-in page and come back (``next=``). A member of
another account answers 404. Every refusal of the booking service is shown in words
with a way forward (``booking_steps.py``); nothing is booked twice by a double submit
(the service allows one live appointment per dose).
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
from vaxport.scheduling import service as scheduling
from vaxport.scheduling.service import AppointmentIn
from vaxport.tenancy.service import TenantInfo
from vaxport.web import booking_steps as steps
from vaxport.web import booking_words as words
from vaxport.web.booking_steps import Flow
from vaxport.web.problems import FormError
from vaxport.web.staff_common import page

router = APIRouter(include_in_schema=False)
BOOK = "/{tenant}/book"
MEMBER = BOOK + "/{member_id}"
GET = ["GET", "HEAD"]
PAGE = requires("pages:read", public=True)
WRITE = requires("appointments:write", rate="booking")
SlotField = Annotated[str, Form(max_length=64)]
_NOT_CITIZEN = N_("only a signed-in citizen can book here")


async def _flow(ctx: Ctx, tenant: TenantInfo, actor: Actor, member_id: uuid.UUID) -> Flow:
    """Booking for ``member_id`` (404 unless the citizen manages them)."""
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member_id
    )
    return Flow(base=f"/{tenant.code}/book/{member.id}", member=member)


@router.api_route(BOOK, methods=GET, dependencies=[PAGE])
async def choose_member(
    *, tenant: PathTenant, ctx: Ctx, actor: OptionalActor, request: Request, slot: str = ""
) -> Response:
    """For whom: the family's members (with the slot chosen in the search, if any)."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    members = await registration.list_members(db=ctx.db, tenant=tenant, actor=me, limit=50)
    slot_id = steps.parse_slot(slot) if slot else None
    chosen = await steps.slot_summary(ctx, request, tenant, slot_id)
    errors: list[FormError] = []
    if slot and chosen is None:
        errors = words.unknown_slot()
    choices = []
    for member in members.items:
        flow = Flow(base=f"/{tenant.code}/book/{member.id}", member=member)
        url = flow.confirm_url(chosen["id"]) if chosen else flow.base
        choices.append({"name": words.name_of(member), "url": url, "id": member.id})
    return page(
        request,
        tenant,
        "booking/member.html",
        status=404 if errors else 200,
        errors=errors,
        nav_current="family",
        choices=choices,
        slot=chosen,
    )


@router.api_route(MEMBER, methods=GET, dependencies=[PAGE])
async def choose_place(
    tenant: PathTenant, member_id: uuid.UUID, ctx: Ctx, actor: OptionalActor, request: Request
) -> Response:
    """Where: centres with free seats in a region or near a postal code."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    return await steps.place_step(ctx, request, tenant, await _flow(ctx, tenant, me, member_id))


@router.api_route(MEMBER + "/at/{facility_id}", methods=GET, dependencies=[PAGE])
async def choose_day(
    *,
    tenant: PathTenant,
    member_id: uuid.UUID,
    facility_id: uuid.UUID,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
) -> Response:
    """Which day: the coming days with free seats at the centre."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    flow = await _flow(ctx, tenant, me, member_id)
    return await steps.days_step(ctx, request, tenant, flow, facility_id)


@router.api_route(MEMBER + "/at/{facility_id}/{day}", methods=GET, dependencies=[PAGE])
async def choose_slot(
    *,
    tenant: PathTenant,
    member_id: uuid.UUID,
    facility_id: uuid.UUID,
    day: dt.date,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
) -> Response:
    """Which time: the day's slots with seats left."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    flow = await _flow(ctx, tenant, me, member_id)
    return await steps.slots_step(ctx, request, tenant, flow, facility_id=facility_id, day=day)


@router.api_route(MEMBER + "/confirm", methods=GET, dependencies=[PAGE])
async def confirm(
    *,
    tenant: PathTenant,
    member_id: uuid.UUID,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
    slot: str = "",
) -> Response:
    """Check who, where and when, then book."""
    me = steps.citizen(actor, tenant)
    if me is None:
        return steps.to_sign_in(request, tenant)
    flow = await _flow(ctx, tenant, me, member_id)
    return await steps.confirm_step(ctx, request, tenant, flow, steps.parse_slot(slot))


@router.post(MEMBER + "/confirm", dependencies=[WRITE])
async def book(
    *,
    tenant: PathTenant,
    member_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    slot: SlotField = "",
) -> Response:
    """Book the slot: the appointment's page with its code, or the refusal in words."""
    me = steps.citizen(actor, tenant)
    if me is None:
        raise NotFound(_NOT_CITIZEN)
    flow = await _flow(ctx, tenant, me, member_id)
    slot_id = steps.parse_slot(slot)
    if slot_id is None:
        return await steps.confirm_step(ctx, request, tenant, flow, None)
    try:
        booked = await scheduling.book(
            db=ctx.db,
            cache=ctx.cache,
            settings=ctx.settings,
            tenant=tenant,
            actor=me,
            body=AppointmentIn(beneficiary_id=flow.member.id, slot_id=slot_id),
        )
    except Problem as exc:
        if exc.status >= 500 or isinstance(exc, NotFound):
            raise
        return await steps.confirm_step(ctx, request, tenant, flow, slot_id, problem=exc)
    return RedirectResponse(f"/{tenant.code}/appointments/{booked.id}?done=booked", status_code=303)
