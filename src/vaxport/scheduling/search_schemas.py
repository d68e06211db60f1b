"""Query and answer models of the public slot search and the 7-day calendar.

Queries check shape here (types, ranges, pairs that go together); what depends on the
tenant (regions, the vaccine catalogue, the booking horizon) is checked by ``search.py``.
Unknown parameters are a 422, like every query of the API.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from vaxport.core.schemas import RequestModel, ResponseModel

RegionCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ProductId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
PostalCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{0,19}$", to_upper=True)
]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=512)]
# Days a calendar shows, from its first day.
CALENDAR_DAYS = 7


def _to_centimetres(value: float) -> float:
    # As the facility directory does: seven decimals, and never a negative zero.
    return round(value, 7) + 0.0


Latitude = Annotated[
    float, Field(ge=-90, le=90, allow_inf_nan=False), AfterValidator(_to_centimetres)
]
Longitude = Annotated[
    float, Field(ge=-180, le=180, allow_inf_nan=False), AfterValidator(_to_centimetres)
]


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("slot_search", message)


class AreaQuery(RequestModel):
    """Where and what: the filters the slot search and the calendar share."""

    region: RegionCode | None = None
    postal_code: PostalCode | None = None
    lat: Latitude | None = None
    lon: Longitude | None = Field(default=None, validate_default=True)
    radius_km: float | None = Field(
        default=None, gt=0, le=20_100, allow_inf_nan=False, validate_default=True
    )
    vaccine: ProductId | None = None
    dose: int | None = Field(default=None, ge=1, le=20)
    age: int | None = Field(default=None, ge=0, le=150)

    @field_validator("lon")
    @classmethod
    def _with_lat(cls, lon: float | None, info: ValidationInfo) -> float | None:
        if "lat" in info.data and (lon is None) != (info.data["lat"] is None):
            raise _error("give both lat and lon, or neither")
        return lon

    @field_validator("radius_km")
    @classmethod
    def _needs_point(cls, radius: float | None, info: ValidationInfo) -> float | None:
        if radius is not None and info.data.get("lat") is None:
            raise _error("radius_km needs lat and lon")
        return radius


class SlotQuery(AreaQuery):
    """``GET /api/v1/{tenant}/slots``: open slots, soonest first (unknown parameters: 422).

    ``date_from``/``date_to`` (the tenant's local dates) default to today and the last
    day of the booking horizon (``booking.days_ahead``); a range reaching past either end
    is cut to it. ``facility_id`` narrows to one centre (what a calendar cell links to).
    """

    facility_id: uuid.UUID | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = Field(default=None, validate_default=True)
    cursor: Cursor | None = None
    limit: int = Field(default=20, ge=1, le=100)

    @field_validator("date_to")
    @classmethod
    def _not_before_start(cls, end: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("date_from")
        if end is not None and start is not None and end < start:
            raise _error("is before date_from")
        return end


class CalendarQuery(AreaQuery):
    """``GET /api/v1/{tenant}/slots/calendar``: open seats per centre and day, 7 days."""

    start: dt.date | None = None
    page: int = Field(default=1, ge=1, le=1000)
    limit: int = Field(default=20, ge=1, le=50)


class PlaceOut(ResponseModel):
    """The centre of a slot, as the public directory shows it (an allow-list)."""

    id: uuid.UUID
    code: str
    name: dict[str, str]
    region_code: str
    address: str | None
    postal_code: str | None
    location: dict[str, float] | None
    distance_km: float | None = None


class ProductOut(ResponseModel):
    id: str
    name: str


class SlotOut(ResponseModel):
    """One open slot: its time, its seats left, where, and what is given."""

    id: uuid.UUID
    start: dt.datetime
    end: dt.datetime
    day: dt.date
    remaining: int
    capacity: int
    product: ProductOut
    dose_numbers: list[int]
    facility: PlaceOut
    # Booking opens at this instant (a session released to a randomized queue), if later.
    opens_at: dt.datetime | None = None
    booking_url: str


class SlotPage(ResponseModel):
    """A page of open slots; pass ``next_cursor`` back as ``cursor`` for the next one.

    A page may hold fewer than ``limit`` slots (even none) and still have a next one:
    each page reads a bounded stretch of the timetable.
    """

    items: list[SlotOut]
    next_cursor: str | None
    date_from: dt.date
    date_to: dt.date


class CalendarRow(ResponseModel):
    """A centre's open seats on each day of the calendar (``seats[i]`` is ``days[i]``)."""

    facility: PlaceOut
    seats: list[int]
    total: int


class CalendarPage(ResponseModel):
    """Open seats per centre and day over :data:`CALENDAR_DAYS` days; ``next_page``
    is the ``page`` to ask for next (None: this is the last)."""

    days: list[dt.date]
    facilities: list[CalendarRow]
    page: int
    next_page: int | None


def public_place(item: dict[str, Any]) -> PlaceOut:
    """A directory entry (JSON) as the search shows its centre."""
    return PlaceOut.model_validate(item)
