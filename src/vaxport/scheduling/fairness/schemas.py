"""Request and response models of the release queue, the waitlist and waitlist offers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from vaxport.core.schemas import RequestModel, ResponseModel, example

Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
TicketStatus = Literal["waiting", "won", "lost"]
TicketOutcome = Literal["booked", "waitlisted", "full", "ineligible"]
EntryStatus = Literal["waiting", "offered", "booked", "lapsed", "declined", "closed", "cancelled"]


class TicketIn(RequestModel):
    """Ask for a seat of a session released at a set time, for one person.

    ``waitlist`` (default true): if the draw leaves the person without a seat, they join
    the waitlist for the session's place, day and vaccine.
    """

    model_config = example({"beneficiary_id": "0193a5d2-7c1e-7b61-9c4e-2f1d8e6a4b10"})

    beneficiary_id: uuid.UUID
    waitlist: bool = True


class TicketOut(ResponseModel):
    """A ticket of the release queue: ``waiting`` for the draw, ``won`` (with the
    appointment and its booking code) or ``lost`` (``outcome`` says why)."""

    id: uuid.UUID
    session_id: uuid.UUID
    beneficiary_id: uuid.UUID
    status: TicketStatus
    outcome: TicketOutcome | None
    # When the window closes and the draw is made (it runs shortly after).
    draw_at: dt.datetime
    appointment_id: uuid.UUID | None
    booking_code: str | None
    waitlist_entry_id: uuid.UUID | None
    requested_at: dt.datetime
    decided_at: dt.datetime | None


class WaitlistIn(RequestModel):
    """Wait for a seat of ``product_id`` anywhere in region ``region_code`` (and below),
    on a day from ``from`` to ``to`` (inclusive)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        populate_by_name=False,
        json_schema_extra={
            "examples": [
                {
                    "beneficiary_id": "0193a5d2-7c1e-7b61-9c4e-2f1d8e6a4b10",
                    "region_code": "NOR-01",
                    "from": "2027-01-10",
                    "to": "2027-01-24",
                    "product_id": "covid-mrna",
                }
            ]
        },
    )

    beneficiary_id: uuid.UUID
    region_code: Code
    from_day: dt.date = Field(alias="from")
    to_day: dt.date = Field(alias="to")
    product_id: Code


class WaitlistEntryOut(ResponseModel):
    """A place on the waitlist. ``offered``: a seat is held for the person until
    ``hold_expires_at`` (accept it with ``POST .../appointments/{appointment_id}/accept``)."""

    model_config = ConfigDict(extra="ignore", from_attributes=True, serialize_by_alias=True)

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    region_code: str
    from_day: dt.date = Field(serialization_alias="from")
    to_day: dt.date = Field(serialization_alias="to")
    product_id: str
    status: EntryStatus
    appointment_id: uuid.UUID | None
    hold_expires_at: dt.datetime | None = None
    ended_reason: str | None
    created_at: dt.datetime


class WaitlistPage(ResponseModel):
    items: list[WaitlistEntryOut]
    next_cursor: str | None


class WaitlistQuery(RequestModel):
    """Paging: ``cursor`` from the previous page's ``next_cursor``."""

    cursor: Annotated[str, StringConstraints(max_length=64)] | None = None
    limit: int = Field(default=50, ge=1, le=100)


class AcceptedOut(ResponseModel):
    """A waitlist offer accepted: the appointment is booked."""

    appointment_id: uuid.UUID
    beneficiary_id: uuid.UUID
    status: Literal["booked"]
    booking_code: str
    slot_id: uuid.UUID
    starts_at: dt.datetime
