"""Request and response models of booking: ``/api/v1/{tenant}/appointments``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

from vaxport.core.schemas import RequestModel, ResponseModel, example

PAGE_MAX = 100


class AppointmentIn(RequestModel):
    """Book a seat in a slot for a person (a member of the citizen's family, or a person
    in the staff member's reach)."""

    model_config = example(
        {
            "beneficiary_id": "0190b5d2-7c1e-7a4b-9f2e-3d4c5b6a7e8f",
            "slot_id": "0190b5d2-8a3f-7c21-b0e4-5f6a7b8c9d0e",
        }
    )

    beneficiary_id: uuid.UUID
    slot_id: uuid.UUID


class RescheduleIn(RequestModel):
    """Move an appointment to another slot (the same dose): the new seat or nothing."""

    model_config = example({"slot_id": "0190b5d2-8a3f-7c21-b0e4-5f6a7b8c9d0e"})

    slot_id: uuid.UUID


class AppointmentQuery(RequestModel):
    """Whose appointments: a person's (staff must name one), else the citizen's family."""

    beneficiary_id: uuid.UUID | None = None
    cursor: Annotated[str, StringConstraints(max_length=64)] | None = None
    limit: int = Field(default=50, ge=1, le=PAGE_MAX)


class AppointmentOut(ResponseModel):
    """An appointment: a seat in a slot for one dose of one person, and its state.

    ``status``: ``booked``, ``held`` (a waitlist offer until ``hold_expires_at``),
    ``cancelled``, ``released`` (the session was cancelled), ``completed``, ``no_show``.
    ``booking_code`` is what the person shows at the centre.
    """

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    slot_id: uuid.UUID
    session_id: uuid.UUID
    facility_id: uuid.UUID
    region_code: str
    product_id: str
    series: str
    dose_number: int
    day: dt.date
    starts_at: dt.datetime
    booking_code: str
    status: str
    hold_expires_at: dt.datetime | None
    replaces_id: uuid.UUID | None
    ended_reason: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class AppointmentPage(ResponseModel):
    """One page of appointments, newest first; ``next_cursor`` fetches the next."""

    items: list[AppointmentOut]
    next_cursor: str | None
