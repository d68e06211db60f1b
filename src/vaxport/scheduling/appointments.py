"""An appointment's life in the database: a seat taken with its owner, and its end.

The one way to make an appointment (:func:`book_in`: the seat's conditional UPDATE and the
appointment row in the caller's transaction, so both commit or neither) and the one way
to end one (:func:`end`: status, seat given back when it held one, event). Booking,
rescheduling, session closing, the waitlist's holds and erasure all go through these, so
a slot's ``booked`` always equals its live appointments.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import update

from vaxport.core.clock import utcnow
from vaxport.core.db import UnitOfWork, affected
from vaxport.core.ids import short_code, uuid7
from vaxport.scheduling import seats
from vaxport.scheduling.events import (
    APPOINTMENT_BOOKED,
    APPOINTMENT_HELD,
    APPOINTMENT_RESCHEDULED,
    appointment_event,
)
from vaxport.scheduling.models import LIVE_STATUSES, Appointment

__all__ = ["BOOKING_CODE_LENGTH", "Seat", "book_in", "end"]

# 31 symbols ** 8 is about 8.5e11 codes: guessing one live code of a tenant with ten
# million appointments takes ~85,000 tries on average, far past any rate limit.
BOOKING_CODE_LENGTH = 8

# Why an appointment ended, by its final status (``ended_reason`` may be more precise).
ENDING_STATUSES = ("cancelled", "released", "completed", "no_show")
FREEING_STATUSES = ("cancelled", "released")


@dataclass(frozen=True, slots=True)
class Seat:
    """What a person asks a seat for: who, which dose, booked by whom."""

    beneficiary_id: uuid.UUID
    account_id: uuid.UUID | None
    series: str
    dose_number: int
    booked_by: uuid.UUID | None


async def book_in(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    slot_id: uuid.UUID,
    seat: Seat,
    *,
    hold_until: dt.datetime | None = None,
    replaces_id: uuid.UUID | None = None,
) -> Appointment | None:
    """Take a seat of ``slot_id`` for ``seat`` and write its appointment; None when full.

    With ``hold_until`` the appointment is ``held`` (a waitlist offer the person must
    accept before then), else ``booked``. The caller checked eligibility; the partial
    unique index (one live appointment per person per series and dose) still refuses a
    concurrent second booking with an IntegrityError at flush, which the caller maps.
    Emits ``appointment.booked`` / ``.held`` / ``.rescheduled`` (with ``replaces_id``).
    """
    taken = await seats.take(uow, tenant_id, slot_id)
    if taken is None:
        return None
    now = utcnow()
    row = Appointment(
        id=uuid7(),
        tenant_id=tenant_id,
        beneficiary_id=seat.beneficiary_id,
        account_id=seat.account_id,
        slot_id=slot_id,
        session_id=taken.session_id,
        facility_id=taken.facility_id,
        region_code=taken.region_code,
        product_id=taken.product_id,
        series=seat.series,
        dose_number=seat.dose_number,
        day=taken.day,
        starts_at=taken.starts_at,
        booking_code=short_code(BOOKING_CODE_LENGTH),
        status="held" if hold_until is not None else "booked",
        hold_expires_at=hold_until,
        booked_by=seat.booked_by,
        replaces_id=replaces_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    await uow.session.flush()
    if hold_until is not None:
        kind = APPOINTMENT_HELD
    elif replaces_id is not None:
        kind = APPOINTMENT_RESCHEDULED
    else:
        kind = APPOINTMENT_BOOKED
    await appointment_event(uow, kind, row.id, row.beneficiary_id, replaces_id=replaces_id)
    return row


async def end(
    uow: UnitOfWork,
    appointment: Appointment,
    status: str,
    *,
    reason: str | None = None,
    event: str | None = None,
) -> bool:
    """End ``appointment`` as ``status``; False when someone else changed it first.

    The row is updated only at the version the caller read (so two enders never both
    give its seat back); a live appointment cancelled or released returns its seat to the
    slot in the same transaction. ``event`` (an ``appointment.*`` name) is emitted when
    given; callers that end many rows at once may emit their own summary instead.
    """
    if status not in ENDING_STATUSES:
        raise ValueError(f"not an ending status: {status}")
    # A cancelled or released seat returns to its slot; a completed or missed one was used
    # (the slot's time has come), so the slot's ``booked`` keeps counting it.
    frees_seat = appointment.status in LIVE_STATUSES and status in FREEING_STATUSES
    now = utcnow()
    result = await uow.session.execute(
        update(Appointment)
        .where(
            Appointment.id == appointment.id,
            Appointment.tenant_id == appointment.tenant_id,
            Appointment.version == appointment.version,
        )
        .values(
            status=status,
            ended_reason=reason or status,
            ended_at=now,
            updated_at=now,
            hold_expires_at=None,
            version=Appointment.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if affected(result) != 1:
        return False
    if frees_seat:
        await seats.give_back(uow, appointment.tenant_id, appointment.slot_id)
    if event is not None:
        await appointment_event(uow, event, appointment.id, appointment.beneficiary_id)
    return True
