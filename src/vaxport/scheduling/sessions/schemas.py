"""Request and response models of sessions and slots.

Requests check shape only (types, ranges, no unknown fields); what depends on the tenant
and the centre (its products, dose numbers, priority groups, the time zone, the day) is
checked by :mod:`vaxport.scheduling.sessions.plans` with the same field paths.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from vaxport.core.schemas import RequestModel, ResponseModel, example

MAX_SEATS_PER_SLOT = 1000
MAX_DOSE_NUMBERS = 10
MAX_GROUPS = 20
MAX_AGE = 150

# A local wall-clock time, "HH:MM" (00:00 to 23:59).
LocalTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
ProductId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
GroupCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
SessionStatus = Literal["open", "closed", "cancelled"]
Note = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class EligibilityIn(RequestModel):
    """Who may book beyond the schedule engine: ages in whole years, priority groups."""

    min_age: int | None = Field(default=None, ge=0, le=MAX_AGE)
    max_age: int | None = Field(default=None, ge=0, le=MAX_AGE)
    groups: list[GroupCode] = Field(default_factory=list, max_length=MAX_GROUPS)


class RepeatIn(RequestModel):
    """Repeat the session on these weekdays from its ``day`` up to ``until`` (inclusive)."""

    weekdays: list[Weekday] = Field(min_length=1, max_length=7)
    until: dt.date


class SessionIn(RequestModel):
    """A session to publish: a day at a centre, one product, split into slots.

    ``day``, ``start_time`` and ``end_time`` are the tenant's local date and wall-clock
    times. ``slot_minutes`` defaults to the tenant's ``booking.slot_minutes``. With
    ``repeat`` the same session is published on every matching weekday up to ``until``.
    """

    model_config = example(
        {
            "facility_id": "0193a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
            "day": "2030-03-04",
            "start_time": "09:00",
            "end_time": "12:00",
            "product_id": "covid-mrna",
            "dose_numbers": [1, 2],
            "slot_minutes": 10,
            "capacity_per_slot": 4,
            "eligibility": {"min_age": 12},
            "repeat": {"weekdays": ["mon", "wed", "fri"], "until": "2030-03-29"},
        }
    )

    facility_id: uuid.UUID
    day: dt.date
    start_time: LocalTime
    end_time: LocalTime
    product_id: ProductId
    dose_numbers: list[Annotated[int, Field(ge=1, le=50)]] = Field(
        min_length=1, max_length=MAX_DOSE_NUMBERS
    )
    slot_minutes: int | None = Field(default=None, ge=1, le=480)
    capacity_per_slot: int = Field(ge=1, le=MAX_SEATS_PER_SLOT)
    eligibility: EligibilityIn | None = None
    repeat: RepeatIn | None = None
    note: Note | None = None


class ListQuery(RequestModel):
    """Filters of the staff list: a centre, a range of local days, a status; paging."""

    facility_id: uuid.UUID | None = None
    from_day: dt.date | None = None
    to_day: dt.date | None = None
    status: SessionStatus | None = None
    cursor: Cursor | None = None
    limit: int = Field(default=50, ge=1, le=100)


class SlotOut(ResponseModel):
    """A slot: UTC instants, its local start time, seats and what is left of them."""

    id: uuid.UUID
    starts_at: dt.datetime
    ends_at: dt.datetime
    start_time: str
    capacity: int
    booked: int
    remaining: int
    status: str


class SessionOut(ResponseModel):
    """A session as staff see it; ``slots`` only when one session is read."""

    id: uuid.UUID
    facility_id: uuid.UUID
    region_code: str
    product_id: str
    dose_numbers: list[int]
    eligibility: dict[str, int | list[str]]
    day: dt.date
    start_time: str
    end_time: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    slot_minutes: int
    capacity: int
    booked: int
    remaining: int
    status: str
    series_id: uuid.UUID | None
    note: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    slots: list[SlotOut] | None = None


class SeriesItem(ResponseModel):
    """One session of a series: its id and day."""

    id: uuid.UUID
    day: dt.date


class PublishedOut(SessionOut):
    """The first session published (with its slots) and every session of the request."""

    sessions: list[SeriesItem]


class SessionPage(ResponseModel):
    items: list[SessionOut]
    next_cursor: str | None


class EndedOut(SessionOut):
    """A session just closed or cancelled; ``released``: appointments it released."""

    released: int = 0
