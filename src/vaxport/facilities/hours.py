"""Opening hours: intervals per weekday, and dated exceptions (holidays, special days).

Times are local wall-clock "HH:MM" in the tenant's time zone; ``closes`` may be "24:00".
An interval never crosses midnight (write 22:00-24:00 and 00:00-02:00 instead), so one
that ends at or before it starts is a mistake, reported as such. Intervals of one day
must not overlap; an exception date appears once, and no hours on it means closed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from vaxport.core.i18n import N_
from vaxport.core.schemas import RequestModel

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INTERVALS_PER_DAY = 6
MAX_EXCEPTIONS = 366
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("hours", message)


def _time(value: str) -> str:
    if not _TIME.match(value):
        raise _error("must be a time written HH:MM, from 00:00 to 24:00")
    return value


def minutes(value: str) -> int:
    """Minutes since midnight of an "HH:MM" time."""
    hours, mins = value.split(":")
    return int(hours) * 60 + int(mins)


Time = Annotated[str, AfterValidator(_time)]


class Interval(RequestModel):
    """One opening interval of a day."""

    opens: Time
    closes: Time

    @field_validator("opens")
    @classmethod
    def _not_midnight_end(cls, value: str) -> str:
        if value == "24:00":
            raise _error("24:00 can only be a closing time")
        return value

    @field_validator("closes")
    @classmethod
    def _after_opening(cls, value: str, info: ValidationInfo) -> str:
        opens = info.data.get("opens")
        if opens is not None and minutes(value) <= minutes(opens):
            raise _error(f"closes at {value}, not after it opens ({opens})")
        return value


def _no_overlap(intervals: list[Interval]) -> list[Interval]:
    ordered = sorted(intervals, key=lambda i: minutes(i.opens))
    for before, after in itertools.pairwise(ordered):
        if minutes(after.opens) < minutes(before.closes):
            raise _error(f"{after.opens}-{after.closes} overlaps {before.opens}-{before.closes}")
    return ordered


DayHours = Annotated[
    list[Interval], Field(max_length=MAX_INTERVALS_PER_DAY), AfterValidator(_no_overlap)
]


class WeeklyHours(RequestModel):
    """Hours per weekday; a day left out or empty is closed."""

    mon: DayHours = Field(default_factory=list)
    tue: DayHours = Field(default_factory=list)
    wed: DayHours = Field(default_factory=list)
    thu: DayHours = Field(default_factory=list)
    fri: DayHours = Field(default_factory=list)
    sat: DayHours = Field(default_factory=list)
    sun: DayHours = Field(default_factory=list)


class HoursException(RequestModel):
    """A date whose hours differ from the week's: none means closed (a holiday)."""

    date: dt.date
    hours: DayHours = Field(default_factory=list)
    note: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


def _unique_dates(items: list[HoursException]) -> list[HoursException]:
    seen: set[dt.date] = set()
    for item in items:
        if item.date in seen:
            raise _error(f"{item.date.isoformat()} is listed more than once")
        seen.add(item.date)
    return sorted(items, key=lambda e: e.date)


class OpeningHours(RequestModel):
    """A facility's opening hours (local time of the tenant)."""

    weekly: WeeklyHours = Field(default_factory=WeeklyHours)
    exceptions: Annotated[
        list[HoursException], Field(max_length=MAX_EXCEPTIONS), AfterValidator(_unique_dates)
    ] = Field(default_factory=list)


class CellError(ValueError):
    """An import cell that does not read: ``reason`` a message id about ``{cell}``."""

    def __init__(self, reason: str, cell: str) -> None:
        super().__init__(reason.format(cell=cell))
        self.reason, self.cell = reason, cell


def parse_day(text: str) -> list[dict[str, str]]:
    """``"08:00-12:00, 13:00-17:00"`` as intervals (the import format); ValueError if not."""
    out = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        opens, sep, closes = part.partition("-")
        if not sep:
            raise CellError(N_("{cell} is not an interval written HH:MM-HH:MM"), repr(part))
        out.append({"opens": opens.strip(), "closes": closes.strip()})
    return out


def parse_exceptions(text: str) -> list[dict[str, object]]:
    """``"2025-12-25 closed; 2025-12-31 08:00-12:00"`` as exceptions; ValueError if not."""
    out: list[dict[str, object]] = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        day, _, rest = part.partition(" ")
        rest = rest.strip()
        try:
            date = dt.date.fromisoformat(day)
        except ValueError as exc:
            raise CellError(N_("{cell} is not a date written YYYY-MM-DD"), repr(day)) from exc
        hours = [] if rest.lower() in ("", "closed") else parse_day(rest)
        out.append({"date": date.isoformat(), "hours": hours})
    return out


def format_day(intervals: list[dict[str, str]]) -> str:
    """Intervals as the import format writes them (inverse of :func:`parse_day`)."""
    return ", ".join(f"{i['opens']}-{i['closes']}" for i in intervals)
