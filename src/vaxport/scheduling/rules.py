"""The rules the engine applies to one product as a person's next dose.

Each rule returns its refusals (:class:`Reason`: a machine code and parameters) and the
dates it sets; :mod:`vaxport.scheduling.engine` combines them into an offer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from vaxport.scheduling.history import Booked, Person, Series, age_window
from vaxport.tenancy.service import (
    DOSE_KINDS,
    DoseKind,
    EligibilityGroup,
    TenantConfig,
    VaccineProduct,
)

RefusalCode = Literal[
    "product-withdrawn",
    "too-young",
    "too-old",
    "not-in-eligible-group",
    "not-in-eligible-group-yet",
    "too-early",
    "wrong-product-sequence",
    "series-complete",
    "boosters-complete",
    "already-booked",
    "person-booking-limit",
    "account-booking-limit",
]
Params = Mapping[str, str | int | dt.date]
# Refusals of a dose that time does not lift; the other dose refusals name the day they
# end (``on``). Booking limits lift when an appointment passes or is cancelled.
_LASTING: frozenset[str] = frozenset(
    {
        "product-withdrawn",
        "too-old",
        "not-in-eligible-group",
        "wrong-product-sequence",
        "series-complete",
        "boosters-complete",
        "already-booked",
    }
)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a dose is refused: a machine code and its parameters (dates, ages, numbers)."""

    code: RefusalCode
    params: Params = field(default_factory=dict)

    @property
    def lasting(self) -> bool:
        """True when waiting does not lift this refusal (too old, wrong product...)."""
        return self.code in _LASTING

    def as_dict(self) -> dict[str, str | int]:
        """``{"code": ..., **params}`` with dates as ISO text (for JSON)."""
        out: dict[str, str | int] = {"code": self.code}
        for key, value in self.params.items():
            out[key] = value.isoformat() if isinstance(value, dt.date) else value
        return out


@dataclass(frozen=True, slots=True)
class Window:
    """The days a person belongs to a priority group (by its ages and opening date)."""

    group: EligibilityGroup
    start: dt.date
    end: dt.date | None  # exclusive

    def holds(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


def windows_of(config: TenantConfig, person: Person) -> list[Window]:
    """When the person belongs to each group whose attribute criteria they meet."""
    groups = config.eligibility.groups if config.eligibility is not None else []
    out = []
    for group in groups:
        if group.risk_groups and not person.risk_groups.intersection(group.risk_groups):
            continue
        if group.occupations and not person.occupations.intersection(group.occupations):
            continue
        start, end = age_window(person, group.min_age, group.max_age)
        if group.opens_on is not None:
            start = max(start, group.opens_on)
        if end is None or start < end:
            out.append(Window(group, start, end))
    return out


def _gated(config: TenantConfig, disease: str, kind: DoseKind) -> bool:
    groups = config.eligibility.groups if config.eligibility is not None else []
    return any(disease in g.diseases and kind in g.doses for g in groups)


def _interval(
    config: TenantConfig, product: VaccineProduct, series: Series, kind: DoseKind, number: int
) -> tuple[int | None, int | None]:
    """``(min_days, max_days)`` since the previous dose before dose ``number``."""
    last = series.last
    if last is None:
        return None, None
    if kind == "booster":
        return (product.booster.min_days_after_previous if product.booster else None), None
    intervals = product.dose_intervals
    if number - 2 >= len(intervals):
        # P's series is shorter: the series begun with the previous product sets the gap
        # (it has one, or that dose would have completed the series).
        intervals = config.products[last.dose.product_id].dose_intervals
    gap = intervals[number - 2]
    return gap.min_days, gap.max_days


def age_rules(
    product: VaccineProduct, person: Person, today: dt.date
) -> tuple[list[Reason], dt.date, dt.date | None]:
    """Refusals by the product's ages, the first day old enough and the first too old."""
    start, too_old_on = age_window(person, product.min_age, product.max_age)
    refusals = []
    if today < start:
        refusals.append(Reason("too-young", {"min_age": product.min_age or "0d", "on": start}))
    if too_old_on is not None and today >= too_old_on:
        refusals.append(Reason("too-old", {"max_age": product.max_age or "", "since": too_old_on}))
    return refusals, start, too_old_on


def series_rules(
    config: TenantConfig, product: VaccineProduct, series: Series, today: dt.date
) -> tuple[list[Reason], dt.date | None, dt.date | None]:
    """Refusals by the series (boosters, product sequence, interval), the day the
    interval allows the dose and the last day it is due."""
    refusals: list[Reason] = []
    number, kind = series.given + 1, series.next_kind
    if kind == "booster":
        booster_number = number - (series.complete_number or 0)
        if product.booster is None:
            refusals.append(Reason("series-complete", {"disease": product.disease}))
        elif booster_number > product.booster.max_boosters:
            max_boosters = product.booster.max_boosters
            refusals.append(Reason("boosters-complete", {"max_boosters": max_boosters}))
    last = series.last
    if last is None:
        return refusals, None, None
    previous = last.dose.product_id
    if previous != product.id and (
        previous not in product.may_follow or kind not in (product.may_follow_in or DOSE_KINDS)
    ):
        sequence: Params = {"previous_product": previous, "product": product.id, "kind": kind}
        refusals.append(Reason("wrong-product-sequence", sequence))
    min_days, max_days = _interval(config, product, series, kind, number)
    if min_days is None:
        return refusals, None, None
    due = last.dose.given_on + dt.timedelta(days=min_days)
    if today < due:
        early: Params = {"dose_number": number, "min_days": min_days, "on": due}
        refusals.append(Reason("too-early", {**early, "after": last.dose.given_on}))
    latest = last.dose.given_on + dt.timedelta(days=max_days) if max_days is not None else None
    return refusals, due, latest


def group_rules(
    config: TenantConfig,
    product: VaccineProduct,
    kind: DoseKind,
    windows: list[Window],
    *,
    floor: dt.date,
    today: dt.date,
) -> tuple[list[Reason], tuple[str, ...], dt.date | None]:
    """Refusals by the priority groups, the open groups that admit the person, and the
    first day on or after ``floor`` that some group admits them (``floor`` if not gated)."""
    if not _gated(config, product.disease, kind):
        return [], (), floor
    mine = [w for w in windows if product.disease in w.group.diseases and kind in w.group.doses]
    admitted = tuple(w.group.code for w in mine if w.holds(today))
    refusals = []
    future = [w for w in mine if w.start > today]
    if not admitted and future:
        first = min(future, key=lambda w: (w.start, w.group.priority, w.group.code))
        refusals.append(
            Reason("not-in-eligible-group-yet", {"group": first.group.code, "on": first.start})
        )
    elif not admitted:
        gate: Params = {"disease": product.disease, "kind": kind}
        refusals.append(Reason("not-in-eligible-group", gate))
    fits = [max(floor, w.start) for w in mine]
    # A window that admitted the person once but no longer does (they aged out of its
    # band) is closed for good: its past day is no earliest date.
    fits = [
        day
        for day, w in zip(fits, mine, strict=True)
        if w.holds(day) and (day >= today or w.holds(today))
    ]
    return refusals, admitted, min(fits, default=None)


def booked_rule(
    config: TenantConfig, product: VaccineProduct, number: int, booked: list[Booked]
) -> list[Reason]:
    """One appointment to come per person per dose, whatever the product."""
    for b in booked:
        if disease_of(config, b.product_id) == product.disease and b.dose_number == number:
            params: Params = {"dose_number": number, "product": b.product_id, "on": b.on}
            return [Reason("already-booked", params)]
    return []


def disease_of(config: TenantConfig, product_id: str) -> str | None:
    """The disease a catalogue product is against (None for an unknown product)."""
    product = config.products.get(product_id)
    return product.disease if product is not None else None
