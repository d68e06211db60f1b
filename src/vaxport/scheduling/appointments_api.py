"""HTTP routes of booking: ``/api/v1/{tenant}/appointments``.

Citizens book, move and cancel the appointments of their own family; staff with
``appointments:write`` do it for the people in their reach. Appointments out of reach
answer 404. A full slot answers 409 ``slot-full``; each other refusal has its own problem
type (``too-early``, ``already-booked``...: ``scheduling/refusals.py``). Booking and
rescheduling keep their answer with the request's ``Idempotency-Key``: a retry gets the
same appointment.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.http.openapi import link_resource
from vaxport.core.idempotency import answer_concerns, claim_of, claims_in_transaction
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.scheduling import service
from vaxport.scheduling.booking_schemas import (
    AppointmentIn,
    AppointmentOut,
    AppointmentPage,
    AppointmentQuery,
    RescheduleIn,
)

router = APIRouter(tags=["appointments"])

READ = requires("appointments:read")
WRITE = requires("appointments:write", rate="booking")
BASE = "/api/v1/{tenant}/appointments"
ITEM = BASE + "/{appointment_id}"

_TARGETS = {
    "GetAppointment": ("GET", ITEM),
    "CancelAppointment": ("DELETE", ITEM),
    "RescheduleAppointment": ("POST", ITEM + "/reschedule"),
}
_SOURCES = {
    ("POST", BASE, "201"): "$response.body#/id",
    ("POST", ITEM + "/reschedule", "201"): "$response.body#/id",
    ("GET", BASE, "200"): "$response.body#/items/0/id",
}
# OpenAPI links (wiring hands them to the app).
LINKS = link_resource("appointment_id", sources=_SOURCES, targets=_TARGETS)

_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "The person or the appointment is not in your reach"},
    409: {
        "description": "The slot is full (type ending ``slot-full``), the person is already "
        "booked for this dose (``already-booked``), a booking limit is reached, the slot "
        "is closed or has started"
    },
    422: {
        "description": "The person may not take this seat: each reason has its type "
        "(``too-young``, ``too-early`` with ``earliest``, ``wrong-product-sequence``...)"
    },
}


def _where(tenant: str) -> str:
    """Where an appointment is, up to its id (the ``Location`` of a booking)."""
    return f"/api/v1/{tenant}/appointments/"


@router.post(
    BASE,
    dependencies=[WRITE],
    status_code=201,
    responses={201: {"description": "Booked"}, **_REFUSED},
    operation_id="create_appointment",
    summary="Book a slot for a person",
)
@claims_in_transaction
async def create_appointment(
    *,
    tenant: PathTenant,
    body: AppointmentIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> AppointmentOut:
    """201 with the booking code; the answer is kept with the ``Idempotency-Key``."""
    keep = service.kept_answer(claim_of(request), _where(tenant.code))
    booked = await service.book(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant=tenant,
        actor=actor,
        body=body,
        keep=keep,
    )
    answer_concerns(request, booked.beneficiary_id)
    response.headers["Location"] = _where(tenant.code) + str(booked.id)
    return booked


@router.get(
    BASE, dependencies=[READ], operation_id="list_appointments", summary="List appointments"
)
async def list_appointments(
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    query: Annotated[AppointmentQuery, Query()],
) -> AppointmentPage:
    """A person's appointments, newest first (citizens: their family's without one)."""
    return await service.list_appointments(db=ctx.db, tenant=tenant, actor=actor, query=query)


@router.get(
    ITEM,
    dependencies=[READ],
    operation_id="get_appointment",
    summary="One appointment",
    responses={404: _REFUSED[404]},
)
async def get_appointment(
    tenant: PathTenant, appointment_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> AppointmentOut:
    """404 when the appointment is not in the actor's reach."""
    return await service.get_appointment(
        db=ctx.db, tenant=tenant, actor=actor, appointment_id=appointment_id
    )


@router.post(
    ITEM + "/reschedule",
    dependencies=[WRITE],
    status_code=201,
    responses={201: {"description": "Moved: the new appointment"}, **_REFUSED},
    operation_id="reschedule_appointment",
    summary="Move an appointment to another slot",
)
@claims_in_transaction
async def reschedule_appointment(
    *,
    tenant: PathTenant,
    appointment_id: uuid.UUID,
    body: RescheduleIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> AppointmentOut:
    """The new seat is taken and the old one freed together, or nothing changes."""
    keep = service.kept_answer(claim_of(request), _where(tenant.code))
    moved = await service.reschedule(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant=tenant,
        actor=actor,
        appointment_id=appointment_id,
        body=body,
        keep=keep,
    )
    answer_concerns(request, moved.beneficiary_id)
    response.headers["Location"] = _where(tenant.code) + str(moved.id)
    return moved


@router.delete(
    ITEM,
    dependencies=[WRITE],
    status_code=204,
    operation_id="cancel_appointment",
    summary="Cancel an appointment",
    responses={
        404: _REFUSED[404],
        409: {"description": "Past the cutoff (citizens), or the appointment is over"},
    },
)
async def cancel_appointment(
    tenant: PathTenant, appointment_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> Response:
    """Frees the seat; cancelling a cancelled appointment changes nothing."""
    await service.cancel(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant=tenant,
        actor=actor,
        appointment_id=appointment_id,
    )
    return Response(status_code=204)
