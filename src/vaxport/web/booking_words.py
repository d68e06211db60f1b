"""How the booking pages say things: dates and times at the centre, names, and the
booking service's refusals as sentences.

Dates and times are shown in the tenant's time zone, in the page's language (Babel).
Every refusal of the booking service (``scheduling/refusals.py``) has a sentence here
(:data:`SENTENCES`, message ids) naming the person and, where it has one, the day it
lifts (formatted like every other date of the pages); the pages add the way forward.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from fastapi import Request

from vaxport.core.errors import Problem
from vaxport.core.i18n import N_, Age, Param, render_message
from vaxport.registration.service import MemberOut
from vaxport.tenancy.service import TenantInfo
from vaxport.web.problems import FormError
from vaxport.web.staff_common import errors_of, locale_of

# What the person is told for each refusal; ``{name}`` is the family member's name.
SENTENCES: dict[str, str] = {
    "slot-full": N_("Someone has just taken the last place in this slot. Choose another slot."),
    "already-booked": N_(
        "{name} already has an appointment for dose {dose_number} on {on}. Change or cancel "
        "that appointment instead of booking another."
    ),
    "person-booking-limit": N_(
        "{name} already has {limit} appointments, release tickets or waitlist places. Cancel "
        "one before booking another."
    ),
    "account-booking-limit": N_(
        "Your family already has {limit} appointments, release tickets or waitlist places. "
        "Cancel one before booking another."
    ),
    "slot-closed": N_("This slot is no longer open for booking. Choose another slot."),
    "slot-started": N_("This slot has already started. Choose a later slot."),
    "not-released-yet": N_(
        "This slot opens for booking on {on}. Come back then, or choose another slot."
    ),
    "product-withdrawn": N_(
        "This slot is for a vaccine that is no longer given. Choose another slot."
    ),
    "too-young": N_(
        "{name} is too young for this vaccine on that day (the minimum age is {min_age}). "
        "Choose a slot on or after {on}."
    ),
    "too-old": N_("{name} is past the age for this vaccine (up to {max_age})."),
    "series-complete": N_("{name} has completed this vaccination, and it has no booster."),
    "boosters-complete": N_("{name} has had every booster this vaccine allows ({max_boosters})."),
    "wrong-product-sequence": N_(
        "{name} cannot have {product} after {previous_product}. Choose a slot for another vaccine."
    ),
    "too-early": N_(
        "It is too early for dose {dose_number} of {name}: it must be at least {min_days} days "
        "after the previous dose. Choose a slot on or after {on}."
    ),
    "not-in-eligible-group-yet": N_("{name} is not eligible yet: their group opens on {on}."),
    "not-in-eligible-group": N_("{name} is not in a group that may have this vaccine now."),
    "not-in-session-group": N_(
        "This session is kept for other groups of people. Choose another one."
    ),
    "dose-not-offered": N_(
        "This session gives dose {offered}, and {name} needs dose {dose_number}. "
        "Choose another one."
    ),
    "not-same-series": N_(
        "This slot is for another vaccination. Book it as a new appointment instead."
    ),
    "too-far-ahead": N_("This slot is too far ahead: you can book up to {days} days ahead."),
    "cancel-cutoff-passed": N_(
        "Appointments can be changed or cancelled up to {hours} hours before they start. It "
        "is too late now: please call the centre."
    ),
    "appointment-ended": N_(
        "This appointment is over or was cancelled: there is nothing to change."
    ),
    "unknown-slot": N_("This slot does not exist (any more). Choose a slot from the list."),
}  # fmt: skip
_DATES = ("on", "since", "after")
_AGES = ("min_age", "max_age")
_PRODUCTS = ("product", "previous_product")


def name_of(member: MemberOut) -> str:
    """A member's name as the pages show it."""
    return f"{member.given_name} {member.family_name or ''}".strip()


def _babel(request: Request, tenant: TenantInfo) -> str:
    return locale_of(request, tenant).locale.replace("-", "_")


def local(tenant: TenantInfo, instant: dt.datetime) -> dt.datetime:
    """An instant in the tenant's time zone."""
    return instant.astimezone(ZoneInfo(tenant.config.timezone))


def day_text(request: Request, tenant: TenantInfo, day: dt.date) -> str:
    """A day in words, in the page's language ("Tuesday 3 June 2025")."""
    return format_date(day, "full", locale=_babel(request, tenant))


def time_text(request: Request, tenant: TenantInfo, instant: dt.datetime) -> str:
    """A time of day at the centre, in the page's language."""
    return format_time(local(tenant, instant), "short", locale=_babel(request, tenant))


def product_name(tenant: TenantInfo, product_id: str) -> str:
    """A vaccine's name from the catalogue (its id when it left the catalogue)."""
    product = tenant.config.products.get(product_id)
    return product.name if product is not None else product_id


def _shown(
    request: Request, tenant: TenantInfo, key: str, value: Any
) -> Param:  # a refusal's parameter as people read it
    if key in _DATES and isinstance(value, str):
        try:
            if "T" in value:
                instant = local(tenant, dt.datetime.fromisoformat(value))
                return format_datetime(instant, "long", locale=_babel(request, tenant))
            return day_text(request, tenant, dt.date.fromisoformat(value))
        except ValueError:
            return value
    if key in _AGES and isinstance(value, str) and value:
        return Age(value)
    if key in _PRODUCTS and isinstance(value, str):
        return product_name(tenant, value)
    return value if isinstance(value, str | int | float) else str(value)


def refusal_errors(
    request: Request, tenant: TenantInfo, problem: Problem, *, name: str
) -> list[FormError]:
    """The problem as sentences for the error summary, each with its way forward."""
    listing: list[Mapping[str, Any]] = problem.extra.get("refusals") or []
    if not listing:
        codes = [getattr(e, "code", None) for e in problem.errors]
        code = next((c for c in codes if c in SENTENCES), problem.slug)
        listing = [{"code": code, **problem.params}]
    out = []
    for item in listing:
        sentence = SENTENCES.get(str(item.get("code")))
        if sentence is None:
            continue
        params = {k: _shown(request, tenant, k, v) for k, v in item.items() if k != "code"}
        params["name"] = name
        english = render_message(None, "en", sentence, params)
        out.append(FormError(english, template=sentence, params=params))
    return out or errors_of(problem)


def codes_of(problem: Problem) -> set[str]:
    """Every refusal code of a problem (its type first)."""
    listing = problem.extra.get("refusals") or []
    return {problem.slug, *(str(item.get("code")) for item in listing)}


def unknown_slot() -> list[FormError]:
    """The error summary of a slot link that names no slot of the tenant."""
    sentence = SENTENCES["unknown-slot"]
    return [FormError(sentence, template=sentence)]
