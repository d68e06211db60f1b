"""A publish request checked against the tenant and its centre, as sessions and slot times.

Every problem is reported at once, each on the request's own field path (``day``,
``dose_numbers.1``, ``repeat.until``...), and nothing is written when there is one.

Times: ``day`` with ``start_time``/``end_time`` are wall-clock times in the tenant's time
zone, turned into UTC instants per day (so a series keeps 09:00 local across a change of
the clocks). Slots split the session's real duration (UTC end minus UTC start) into
``slot_minutes`` pieces; minutes left over at the end make no slot. A local time the clocks
skip that day does not exist and is refused; one they pass twice is the first of the two.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass
from typing import Any

from vaxport.core.errors import ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.core.ids import uuid7
from vaxport.scheduling.sessions.schemas import EligibilityIn, RepeatIn, SessionIn
from vaxport.tenancy.service import TenantConfig

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A session at most a day of 5-minute slots; a request (a series) at most this many slots.
MAX_SLOTS_PER_SESSION = 288
MAX_SLOTS_PER_REQUEST = 20_000
# How far ahead a session may be published, and how long a series may run.
MAX_DAYS_AHEAD = 366
MAX_SERIES_DAYS = 92
MAX_SERIES_SESSIONS = 200

UNKNOWN_PRODUCT = N_("is not a vaccine of this programme: choose one from the list")
NOT_OFFERED = N_("is not offered at this centre: choose a vaccine it offers")
PAST_DAY = N_("is in the past: choose today or a later day")


@dataclass(frozen=True, slots=True)
class Times:
    """One session's UTC start and end, and its slots' (start, end) in order."""

    day: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    slots: tuple[tuple[dt.datetime, dt.datetime], ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a valid request publishes: the shared values and one :class:`Times` per day."""

    product_id: str
    dose_numbers: list[int]
    eligibility: dict[str, Any]
    slot_minutes: int
    capacity_per_slot: int
    note: str | None
    series_id: uuid.UUID | None
    sessions: tuple[Times, ...]


def local_today(config: TenantConfig, now: dt.datetime) -> dt.date:
    """The tenant's local date at ``now``."""
    return config.local_today(now)


def local_instant(tz: zoneinfo.ZoneInfo, day: dt.date, hhmm: str) -> dt.datetime | None:
    """The UTC instant of wall-clock ``hhmm`` on ``day`` in ``tz``; None if the clocks skip it."""
    hours, minutes = (int(p) for p in hhmm.split(":"))
    local = dt.datetime.combine(day, dt.time(hours, minutes), tzinfo=tz)
    instant = local.astimezone(dt.UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None  # in the gap of a change to summer time
    return instant


def slot_times(
    starts_at: dt.datetime, ends_at: dt.datetime, minutes: int
) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """``starts_at`` to ``ends_at`` cut into whole ``minutes`` pieces (a remainder is dropped)."""
    step = dt.timedelta(minutes=minutes)
    count = int((ends_at - starts_at) / step)
    return tuple((starts_at + step * i, starts_at + step * (i + 1)) for i in range(count))


def max_dose_number(config: TenantConfig, product_id: str) -> int:
    """The highest dose number a product serves in its disease's series.

    Its primary series; with boosters, as many more as it allows after the longest
    primary series of the same disease (a booster may follow another product's series).
    """
    product = config.products[product_id]
    if product.booster is None:
        return product.doses_in_primary_series
    longest = max(
        p.doses_in_primary_series for p in config.vaccines if p.disease == product.disease
    )
    return longest + product.booster.max_boosters


def _product_errors(
    body: SessionIn, config: TenantConfig, offered: list[str]
) -> list[dict[str, str]]:
    product = config.products.get(body.product_id)
    if product is None or not product.active:
        return [field_error("product_id", UNKNOWN_PRODUCT)]
    errors: list[dict[str, str]] = []
    if body.product_id not in offered:
        errors.append(field_error("product_id", NOT_OFFERED))
    top = max_dose_number(config, body.product_id)
    seen: set[int] = set()
    for i, number in enumerate(body.dose_numbers):
        if number > top:
            errors.append(
                field_error(
                    f"dose_numbers.{i}",
                    N_("is not a dose this vaccine gives: use 1 to {max}"),
                    max=top,
                )
            )
        elif number in seen:
            errors.append(
                field_error(f"dose_numbers.{i}", N_("is listed twice: list each dose once"))
            )
        seen.add(number)
    return errors


def _eligibility_errors(given: EligibilityIn | None, config: TenantConfig) -> list[dict[str, str]]:
    if given is None:
        return []
    errors: list[dict[str, str]] = []
    if given.min_age is not None and given.max_age is not None and given.max_age < given.min_age:
        errors.append(
            field_error(
                "eligibility.max_age",
                N_("is below the minimum age: make it {min_age} or more"),
                min_age=given.min_age,
            )
        )
    known = {g.code for g in config.eligibility.groups} if config.eligibility else set()
    for i, code in enumerate(given.groups):
        if code not in known:
            errors.append(
                field_error(
                    f"eligibility.groups.{i}",
                    N_("is not a priority group of this programme: choose one from the list"),
                )
            )
        elif code in given.groups[:i]:
            errors.append(
                field_error(f"eligibility.groups.{i}", N_("is listed twice: list each group once"))
            )
    return errors


def eligibility_document(given: EligibilityIn | None) -> dict[str, Any]:
    """The session's ``eligibility`` column: only what was given."""
    if given is None:
        return {}
    doc: dict[str, Any] = {}
    if given.min_age is not None:
        doc["min_age"] = given.min_age
    if given.max_age is not None:
        doc["max_age"] = given.max_age
    if given.groups:
        doc["groups"] = list(given.groups)
    return doc


def _days(body: SessionIn, today: dt.date) -> tuple[list[dt.date], list[dict[str, str]]]:
    errors: list[dict[str, str]] = []
    if body.day < today:
        errors.append(field_error("day", PAST_DAY))
    elif body.day > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        errors.append(
            field_error(
                "day", N_("is too far ahead: choose a day within {days} days"), days=MAX_DAYS_AHEAD
            )
        )
    repeat: RepeatIn | None = body.repeat
    if repeat is None:
        return [body.day], errors
    if len(set(repeat.weekdays)) != len(repeat.weekdays):
        errors.append(
            field_error("repeat.weekdays", N_("lists a weekday twice: list each weekday once"))
        )
    if repeat.until < body.day:
        errors.append(
            field_error("repeat.until", N_("is before the first day: choose a later date"))
        )
        return [], errors
    span = (repeat.until - body.day).days
    if span > MAX_SERIES_DAYS:
        errors.append(
            field_error(
                "repeat.until",
                N_("is too far from the first day: a series lasts at most {days} days"),
                days=MAX_SERIES_DAYS,
            )
        )
        return [], errors
    wanted = set(repeat.weekdays)
    days = [
        d
        for d in (body.day + dt.timedelta(days=n) for n in range(span + 1))
        if WEEKDAYS[d.weekday()] in wanted
    ]
    if not days:
        errors.append(
            field_error(
                "repeat.weekdays",
                N_("match no day from the first day to the last: add a weekday or a later date"),
            )
        )
    elif len(days) > MAX_SERIES_SESSIONS:  # pragma: no cover - 93 days hold fewer
        errors.append(
            field_error(
                "repeat.until",
                N_("makes {count} sessions; a series has at most {max}"),
                count=len(days),
                max=MAX_SERIES_SESSIONS,
            )
        )
    return days, errors


def _times(
    body: SessionIn,
    days: list[dt.date],
    tz: zoneinfo.ZoneInfo,
    minutes: int,
    now: dt.datetime | None,
) -> tuple[list[Times], list[dict[str, str]]]:
    """Each day's UTC times and slots, or the problems of the clock times (``now``: None
    when the day is refused already, so an hour past is not reported twice)."""
    if body.end_time <= body.start_time:
        return [], [field_error("end_time", N_("is not after the start time: choose a later time"))]
    errors: list[dict[str, str]] = []
    out = []
    for day in days:
        starts_at = local_instant(tz, day, body.start_time)
        ends_at = local_instant(tz, day, body.end_time)
        for name, instant in (("start_time", starts_at), ("end_time", ends_at)):
            if instant is None:
                errors.append(
                    field_error(
                        name,
                        N_("does not exist on {day}: the clocks change then; choose another time"),
                        day=day.isoformat(),
                    )
                )
        if starts_at is None or ends_at is None:
            continue
        slots = slot_times(starts_at, ends_at, minutes)
        if not slots:
            errors.append(
                field_error(
                    "slot_minutes",
                    N_("is longer than the session: use {minutes} or less"),
                    minutes=int((ends_at - starts_at).total_seconds() // 60),
                )
            )
            break
        if len(slots) > MAX_SLOTS_PER_SESSION:
            errors.append(
                field_error(
                    "slot_minutes",
                    N_("makes {count} slots; a session has at most {max}: use longer slots"),
                    count=len(slots),
                    max=MAX_SLOTS_PER_SESSION,
                )
            )
            break
        if now is not None and ends_at <= now:
            errors.append(
                field_error("end_time", N_("has passed already: choose a later time or day"))
            )
            continue
        out.append(Times(day, starts_at, ends_at, slots))
    return out, errors


def plan(body: SessionIn, *, config: TenantConfig, offered: list[str], now: dt.datetime) -> Plan:
    """The sessions ``body`` publishes at a centre offering ``offered``; 422 with every problem."""
    tz = zoneinfo.ZoneInfo(config.timezone)
    minutes = body.slot_minutes or config.booking.slot_minutes
    errors = _product_errors(body, config, offered)
    errors += _eligibility_errors(body.eligibility, config)
    today = local_today(config, now)
    days, day_errors = _days(body, today)
    errors += day_errors
    # With a refused day, its clock times are still checked when the day is near enough
    # to have them (a day in year 9999 has none: only the order of the times is checked).
    near = abs((body.day - today).days) <= MAX_DAYS_AHEAD
    checked = days if not day_errors else [body.day] if near else []
    times, time_errors = _times(body, checked, tz, minutes, None if day_errors else now)
    errors += time_errors
    total = sum(len(t.slots) for t in times)
    if not time_errors and total > MAX_SLOTS_PER_REQUEST:
        errors.append(
            field_error(
                "repeat",
                N_("makes {count} slots in all; publish at most {max} at once"),
                count=total,
                max=MAX_SLOTS_PER_REQUEST,
            )
        )
    if errors:
        raise ValidationFailed(N_("the session cannot be published as it is"), errors=errors)
    return Plan(
        product_id=body.product_id,
        dose_numbers=list(body.dose_numbers),
        eligibility=eligibility_document(body.eligibility),
        slot_minutes=minutes,
        capacity_per_slot=body.capacity_per_slot,
        note=body.note,
        series_id=uuid7() if body.repeat is not None else None,
        sessions=tuple(times),
    )
