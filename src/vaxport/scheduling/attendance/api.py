"""HTTP routes of the day at a centre: the day's list, a code looked up, a person seen,
a session's attendance closed.

Staff only (citizens: 403); a centre, appointment or session outside the staff member's
jurisdiction answers 404. The services decide both; these routes only parse and shape.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.scheduling.attendance import day, marks
from vaxport.scheduling.attendance.schemas import (
    AppointmentOut,
    ClosedOut,
    DayPage,
    DayQuery,
    StaffAppointmentOut,
)

router = APIRouter(tags=["appointments"])

READ = requires("appointments:read")
WRITE = requires("appointments:write")
BASE = "/api/v1/{tenant}"
DAY = BASE + "/facilities/{facility_id}/appointments"
BY_CODE = BASE + "/appointments/by-code/{code}"
COMPLETE = BASE + "/appointments/{appointment_id}/complete"
CLOSE = BASE + "/sessions/{session_id}/attendance/close"

_STAFF: dict[int | str, dict[str, Any]] = {403: {"description": "Not staff of a centre"}}
_MISSING: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not there, or outside the caller's jurisdiction"}
}
Code = Annotated[str, Path(min_length=1, max_length=32)]


@router.get(
    DAY,
    dependencies=[READ],
    operation_id="list_facility_day_appointments",
    summary="A centre's day: its sessions and the people booked, in time order",
    responses={**_STAFF, **_MISSING},
)
async def list_day(
    tenant: PathTenant,
    facility_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    query: Annotated[DayQuery, Query()],
) -> DayPage:
    """``day`` defaults to today in the tenant's time zone; every person listed is audited."""
    return await day.list_day(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        facility_id=facility_id,
        day=query.day,
        cursor=query.cursor,
        limit=query.limit,
    )


@router.get(
    BY_CODE,
    dependencies=[READ],
    operation_id="get_appointment_by_code",
    summary="The appointment a person's booking code names",
    responses={**_STAFF, **_MISSING, 422: {"description": "Not a booking code"}},
)
async def get_by_code(
    tenant: PathTenant, code: Code, ctx: Ctx, actor: CurrentActor
) -> StaffAppointmentOut:
    """Spaces, dashes and case are ignored; O, I and L read as 0, 1 and 1."""
    return await day.find_by_code(db=ctx.db, tenant=tenant, actor=actor, code=code)


@router.post(
    COMPLETE,
    dependencies=[WRITE],
    operation_id="complete_appointment",
    summary="Mark a person seen at the centre",
    responses={
        **_STAFF,
        **_MISSING,
        409: {"description": "Not booked (held, cancelled, released), or on a later day"},
    },
)
async def complete(
    tenant: PathTenant, appointment_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> AppointmentOut:
    """The appointment becomes ``completed``; marking it again changes nothing."""
    return await marks.complete(
        db=ctx.db, cache=ctx.cache, tenant=tenant, actor=actor, appointment_id=appointment_id
    )


@router.post(
    CLOSE,
    dependencies=[WRITE],
    operation_id="close_session_attendance",
    summary="Close a session: the people still booked become no-shows",
    responses={
        **_STAFF,
        **_MISSING,
        409: {"description": "Before the session's day, or the session was cancelled"},
    },
)
async def close(
    tenant: PathTenant, session_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> ClosedOut:
    """On or after the session's day; a retry marks nothing more (``marked_no_show: 0``)."""
    return await marks.close_session(
        db=ctx.db, cache=ctx.cache, tenant=tenant, actor=actor, session_id=session_id
    )
