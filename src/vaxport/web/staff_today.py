"""Staff pages of the day at a centre: today's list, a booking code looked up, a person
marked seen, a session closed.

The same use cases as the ``/api/v1/{tenant}/facilities/{facility_id}/appointments``,
``/appointments/by-code/{code}``, ``/appointments/{id}/complete`` and
``/sessions/{id}/attendance/close`` routes, with their permissions: staff of a centre
see their own centre; staff of a region (or national) choose one from the centres in
their reach (``web/centre_picker.py``), by code, never by an internal id. Forms work
without script and answer with a redirect (303) to the list, so a reload repeats
nothing; closing a session first shows how many people it will mark as no-shows.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import Forbidden, Problem
from vaxport.core.http.dependencies import Context, Ctx, requires
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, CurrentActor, PathTenant
from vaxport.scheduling import service as scheduling
from vaxport.scheduling.service import DayPage, SessionDayOut, StaffAppointmentOut
from vaxport.tenancy.service import TenantInfo
from vaxport.web import centre_picker
from vaxport.web.staff_common import FormError, errors_of, facility_names, page

router = APIRouter(include_in_schema=False)
TODAY = "/{tenant}/staff/today"
COMPLETE = TODAY + "/appointments/{appointment_id}/complete"
CLOSE = TODAY + "/sessions/{session_id}/close"
GET = ["GET", "HEAD"]
READ = requires("appointments:read")
WRITE = requires("appointments:write")
NOTICES = frozenset({"completed", "closed"})
CentreCode = Annotated[str, Form(max_length=64)]
STAFF_ONLY = N_("the day at a centre is work for its staff")


@dataclass
class SlotGroup:
    """The people of one slot time."""

    time: str
    items: list[StaffAppointmentOut] = field(default_factory=list)


@dataclass
class SessionGroup:
    """A session of the day with its slot times, as the page shows it."""

    session: SessionDayOut
    time: str
    product: str
    slots: list[SlotGroup] = field(default_factory=list)


def _clock(tenant: TenantInfo, at: dt.datetime) -> str:
    """A UTC instant as the tenant's wall clock (``14:05``)."""
    return at.astimezone(zoneinfo.ZoneInfo(tenant.config.timezone)).strftime("%H:%M")


def _span(tenant: TenantInfo, session: SessionDayOut) -> str:
    """A session's hours on the tenant's clock, joined by an en dash."""
    return f"{_clock(tenant, session.starts_at)}\N{EN DASH}{_clock(tenant, session.ends_at)}"


def _products(tenant: TenantInfo) -> dict[str, str]:
    return {v.id: v.name for v in tenant.config.vaccines}


def _group(tenant: TenantInfo, day: DayPage) -> list[SessionGroup]:
    """The page's appointments under their session, then their slot time."""
    names = _products(tenant)
    groups = {
        s.id: SessionGroup(
            s,
            _span(tenant, s),
            names.get(s.product_id, s.product_id),
        )
        for s in day.sessions
    }
    for item in day.items:
        group = groups.get(item.session_id)
        if group is None:
            continue
        time = _clock(tenant, item.starts_at)
        if not group.slots or group.slots[-1].time != time:
            group.slots.append(SlotGroup(time))
        group.slots[-1].items.append(item)
    return list(groups.values())


def _centre_code(value: str | None) -> str:
    return (value or "").strip().upper()[:64]


def today_url(tenant: TenantInfo, centre: str = "", **params: str) -> str:
    """The list's address, keeping the centre chosen (staff of a region)."""
    query = {"facility_id": centre} if centre else {}
    query.update({k: v for k, v in params.items() if v})
    return f"/{tenant.code}/staff/today" + (f"?{urlencode(query)}" if query else "")


async def _centre(
    ctx: Context, tenant: TenantInfo, actor: Actor, code: str
) -> tuple[uuid.UUID | None, list[FormError]]:
    """The centre whose day is shown: the staff member's own, or the one they chose."""
    if actor.facility_id is not None:
        return actor.facility_id, []
    if not code:
        return None, []
    try:
        return await centre_picker.resolve(ctx.db, tenant, actor, code), []
    except Problem as exc:
        return None, errors_of(exc, field="facility_id")


async def _found(
    ctx: Context, tenant: TenantInfo, actor: Actor, code: str
) -> tuple[StaffAppointmentOut | None, list[FormError], int]:
    """The appointment a typed booking code names, or why there is none."""
    if not code:
        return None, [], 200
    try:
        found = await scheduling.find_by_booking_code(
            db=ctx.db, tenant=tenant, actor=actor, code=code
        )
    except Problem as exc:
        if exc.status >= 500:
            raise
        return None, errors_of(exc, field="code"), exc.status
    return found, [], 200


async def _today_page(
    request: Request,
    ctx: Context,
    tenant: TenantInfo,
    actor: Actor,
    *,
    centre: str,
    code: str = "",
    cursor: str | None = None,
    notice: str | None = None,
    problem: Problem | None = None,
) -> Response:
    if actor.kind != "staff":
        raise Forbidden(STAFF_ONLY)
    facility_id, errors = await _centre(ctx, tenant, actor, centre)
    status = 422 if errors else 200
    found, code_errors, code_status = await _found(ctx, tenant, actor, code)
    if code_errors:
        errors += code_errors
        status = code_status
    if problem is not None:
        errors += errors_of(problem)
        status = problem.status
    day: DayPage | None = None
    names: dict[uuid.UUID, str] = {}
    if facility_id is not None:
        try:
            day = await scheduling.list_centre_day(
                db=ctx.db, tenant=tenant, actor=actor, facility_id=facility_id, cursor=cursor
            )
        except Problem as exc:
            if exc.status != 422:
                raise
            errors += errors_of(exc)
            day = await scheduling.list_centre_day(
                db=ctx.db, tenant=tenant, actor=actor, facility_id=facility_id
            )
            status = 422
        names = await facility_names(ctx.db, request, tenant, [facility_id])
    pick = (
        await centre_picker.picker(ctx.db, request, tenant, actor)
        if actor.facility_id is None
        else None
    )
    return page(
        request,
        tenant,
        "staff/today.html",
        status=status,
        errors=errors,
        nav_current="today",
        centre=centre,
        centres=pick,
        facility_name=names.get(facility_id) if facility_id else None,
        today=scheduling.local_today(tenant),
        day=day,
        groups=_group(tenant, day) if day else [],
        code=code,
        found=found,
        found_time=_clock(tenant, found.starts_at) if found else "",
        products=_products(tenant),
        notice=notice if notice in NOTICES else None,
        can_mark=actor.has("appointments:write"),
        can_record=actor.has("doses:write"),
        today_url=today_url,
    )


@router.api_route(TODAY, methods=GET, dependencies=[READ])
async def today_list(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    facility_id: str = "",
    code: str = "",
    cursor: str | None = None,
    done: str | None = None,
) -> Response:
    """Today's list at a centre, with the booking-code search and the marks."""
    return await _today_page(
        request,
        ctx,
        tenant,
        actor,
        centre=_centre_code(facility_id),
        code=code.strip()[:32],
        cursor=cursor[:64] if cursor else None,
        notice=done,
    )


@router.post(COMPLETE, dependencies=[WRITE])
async def complete(
    *,
    tenant: PathTenant,
    appointment_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    centre: CentreCode = "",
) -> Response:
    """Mark the person seen; back to the list (``centre``: the code of the list's centre,
    for staff of a region; the appointment alone says where the person is)."""
    centre = _centre_code(centre)
    try:
        await scheduling.complete_appointment(
            db=ctx.db, cache=ctx.cache, tenant=tenant, actor=actor, appointment_id=appointment_id
        )
    except Problem as exc:
        if exc.status != 409:
            raise
        return await _today_page(request, ctx, tenant, actor, centre=centre, problem=exc)
    return RedirectResponse(today_url(tenant, centre, done="completed"), status_code=303)


@router.api_route(CLOSE, methods=GET, dependencies=[WRITE])
async def close_confirm(
    *,
    tenant: PathTenant,
    session_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    facility_id: str = "",
) -> Response:
    """What closing the session will do (how many no-shows), and the button to do it."""
    session = await scheduling.session_day(
        db=ctx.db, tenant=tenant, actor=actor, session_id=session_id
    )
    return page(
        request,
        tenant,
        "staff/today_close.html",
        nav_current="today",
        session=session,
        time=_span(tenant, session),
        product=_products(tenant).get(session.product_id, session.product_id),
        early=session.day > scheduling.local_today(tenant),
        centre=_centre_code(facility_id),
        back=today_url(tenant, _centre_code(facility_id)),
    )


@router.post(CLOSE, dependencies=[WRITE])
async def close(
    *,
    tenant: PathTenant,
    session_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    centre: CentreCode = "",
) -> Response:
    """Close the session: the people still booked become no-shows; back to the list."""
    centre = _centre_code(centre)
    try:
        await scheduling.close_session_attendance(
            db=ctx.db, cache=ctx.cache, tenant=tenant, actor=actor, session_id=session_id
        )
    except Problem as exc:
        if exc.status != 409:
            raise
        return await _today_page(request, ctx, tenant, actor, centre=centre, problem=exc)
    return RedirectResponse(today_url(tenant, centre, done="closed"), status_code=303)
