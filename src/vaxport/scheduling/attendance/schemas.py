"""Request and response models of the day at a centre.

Reads for staff carry the person's name (decrypted for the answer, never stored with
the appointment); write answers carry ids only, so a kept idempotent answer holds no
personal data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

from vaxport.core.schemas import RequestModel, ResponseModel

PAGE_DEFAULT = 50
PAGE_MAX = 200

Cursor = Annotated[str, StringConstraints(max_length=64)]


class DayQuery(RequestModel):
    """Which day (the tenant's local date; default today) and which page of it."""

    day: dt.date | None = None
    cursor: Cursor | None = None
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)


class AppointmentOut(ResponseModel):
    """An appointment as its writers answer: ids, time, dose and status, no name."""

    id: uuid.UUID
    booking_code: str
    beneficiary_id: uuid.UUID
    facility_id: uuid.UUID
    session_id: uuid.UUID
    slot_id: uuid.UUID
    day: dt.date
    starts_at: dt.datetime
    product_id: str
    dose_number: int
    status: str
    version: int


class StaffAppointmentOut(AppointmentOut):
    """An appointment with the person's name, as staff at the centre read it.

    ``given_name`` is empty and ``reference`` null when the person's record is gone
    (erased after the booking).
    """

    given_name: str
    family_name: str | None
    reference: str | None


class SessionDayOut(ResponseModel):
    """A session of the day and how its appointments stand.

    ``booked`` counts the people still expected: closing the session marks them
    ``no_show``.
    """

    id: uuid.UUID
    facility_id: uuid.UUID
    product_id: str
    day: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    capacity: int
    booked: int
    completed: int
    no_show: int
    closed_at: dt.datetime | None


class DayPage(ResponseModel):
    """A page of a centre's day: its sessions, and appointments in time order."""

    facility_id: uuid.UUID
    day: dt.date
    sessions: list[SessionDayOut]
    items: list[StaffAppointmentOut]
    next_cursor: str | None


class ClosedOut(SessionDayOut):
    """A closed session; ``marked_no_show``: how many this request marked (0 on a retry)."""

    marked_no_show: int
