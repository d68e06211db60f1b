"""The schedule engine: which vaccine dose a person may get, and when, by the tenant's rules.

Pure functions over the tenant configuration, one person and their dose history: no I/O,
no database, no clock (``today``, the tenant's local date, is an argument). Booking,
immunization and reminders ask it; it answers with machine codes and parameters
(:class:`Reason`) that the API turns into problem+json and pages into sentences. The
rules, as docs/country-configuration.md ("Schedules") states them:

- **Series per disease**: counted by :mod:`vaxport.scheduling.history`.
- **Next dose.** A product P is offered as the next dose number. A primary dose N >= 2
  waits P's interval for that gap (the previous dose's product's, when P's series is
  shorter); a booster waits P's ``booster.min_days_after_previous``, up to
  ``max_boosters``. After a dose of another product, P must list it in ``may_follow``
  (for that kind of dose, ``may_follow_in``). A dose past the interval's ``max_days`` is
  still allowed (the series is not restarted): it is *overdue*.
- **Ages**: ``max_age: 17y`` admits up to the day before the 18th birthday; a birth
  year alone counts by year.
- **Priority groups.** A disease and dose kind some group names is gated: only people in
  a group for it (every criterion given holds), once it opens, may get it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vaxport.scheduling.history import Booked, Dose, Person, Series, count_series
from vaxport.scheduling.rules import (
    Reason,
    RefusalCode,
    Window,
    age_rules,
    booked_rule,
    disease_of,
    group_rules,
    series_rules,
    windows_of,
)
from vaxport.tenancy.service import BookingLimits, DoseKind, TenantConfig, VaccineProduct

__all__ = [
    "Assessment",
    "DiseaseStatus",
    "Offer",
    "Reason",
    "RefusalCode",
    "assess",
    "assess_product",
    "booking_limit_refusals",
]


@dataclass(frozen=True, slots=True)
class Offer:
    """A product as the person's next dose: eligible now when there is no refusal.

    ``earliest`` is the first day every rule that time lifts is met (None when some rule
    never will be); ``latest`` the last day the dose is due (interval ``max_days``) or
    possible (the product's ``max_age``), whichever comes first. ``groups`` are the open
    priority groups that admit the person (empty when the dose is not gated).
    """

    product_id: str
    disease: str
    dose_number: int
    kind: DoseKind
    earliest: dt.date | None
    latest: dt.date | None
    refusals: tuple[Reason, ...]
    groups: tuple[str, ...] = ()

    @property
    def eligible(self) -> bool:
        """True when nothing refuses this dose today."""
        return not self.refusals


@dataclass(frozen=True, slots=True)
class DiseaseStatus:
    """Where a person stands for one disease, and when the next dose is due."""

    disease: str
    doses_given: int
    primary_complete: bool
    completed_on: dt.date | None
    boosters_given: int
    next_dose_number: int
    next_kind: DoseKind
    # Across the products that could give the next dose (None: none ever can, or no bound).
    next_earliest: dt.date | None
    next_latest: dt.date | None
    overdue: bool

    @property
    def fully_vaccinated(self) -> bool:
        """The primary series is complete (boosters are counted apart)."""
        return self.primary_complete


@dataclass(frozen=True, slots=True)
class Assessment:
    """Everything the engine says about one person on ``today``."""

    today: dt.date
    diseases: Mapping[str, DiseaseStatus]
    offers: tuple[Offer, ...]
    # Open priority groups the person belongs to today, first in the queue first.
    groups: tuple[str, ...]
    priority: int | None
    # Doses of products the catalogue no longer names: not counted.
    ignored: tuple[Dose, ...]

    def eligible(self) -> tuple[Offer, ...]:
        """The products the person may get now, in catalogue order."""
        return tuple(o for o in self.offers if o.eligible)

    def offer(self, product_id: str) -> Offer:
        """The answer for one product (KeyError if the catalogue has no such product)."""
        for o in self.offers:
            if o.product_id == product_id:
                return o
        raise KeyError(product_id)

    def fully_vaccinated(self, disease: str) -> bool:
        """Whether the primary series against ``disease`` is complete."""
        status = self.diseases.get(disease)
        return status is not None and status.primary_complete


def _offer(
    config: TenantConfig,
    product: VaccineProduct,
    person: Person,
    series: Series,
    *,
    windows: list[Window],
    booked: list[Booked],
    today: dt.date,
) -> Offer:
    number, kind = series.given + 1, series.next_kind
    refusals = []
    if not product.active:
        refusals.append(Reason("product-withdrawn", {"product": product.id}))
    by_age, old_enough_on, too_old_on = age_rules(product, person, today)
    by_series, due, latest = series_rules(config, product, series, today)
    floor = max(old_enough_on, due or old_enough_on)
    by_group, admitted, earliest = group_rules(
        config, product, kind, windows, floor=floor, today=today
    )
    refusals += [*by_age, *by_series, *by_group, *booked_rule(config, product, number, booked)]
    if too_old_on is not None:
        last_day = too_old_on - dt.timedelta(days=1)
        latest = last_day if latest is None else min(latest, last_day)
        if earliest is not None and earliest >= too_old_on:
            earliest = None
    if any(r.lasting for r in refusals):
        earliest = None
    return Offer(
        product_id=product.id,
        disease=product.disease,
        dose_number=number,
        kind=kind,
        earliest=earliest,
        latest=latest,
        refusals=tuple(refusals),
        groups=admitted,
    )


def assess(
    config: TenantConfig,
    person: Person,
    doses: Iterable[Dose],
    *,
    today: dt.date,
    booked: Iterable[Booked] = (),
) -> Assessment:
    """Every product as the person's next dose, and their status per disease, on ``today``."""
    series, ignored = count_series(config, doses)
    windows = windows_of(config, person)
    live = list(booked)
    offers = tuple(
        _offer(
            config,
            p,
            person,
            series.get(p.disease) or Series(p.disease, ()),
            windows=windows,
            booked=live,
            today=today,
        )
        for p in config.vaccines
    )
    diseases = {
        p.disease: _status(p.disease, series.get(p.disease), offers, today) for p in config.vaccines
    }
    open_now = sorted(
        (w.group for w in windows if w.holds(today)), key=lambda g: (g.priority, g.code)
    )
    return Assessment(
        today=today,
        diseases=diseases,
        offers=offers,
        groups=tuple(dict.fromkeys(g.code for g in open_now)),
        priority=open_now[0].priority if open_now else None,
        ignored=ignored,
    )


def assess_product(
    config: TenantConfig,
    person: Person,
    doses: Iterable[Dose],
    *,
    product_id: str,
    today: dt.date,
    booked: Iterable[Booked] = (),
) -> Offer:
    """One product as the person's next dose (KeyError if the catalogue lacks it)."""
    product = config.products[product_id]
    relevant = [d for d in doses if disease_of(config, d.product_id) == product.disease]
    series = count_series(config, relevant)[0].get(product.disease) or Series(product.disease, ())
    windows = windows_of(config, person)
    return _offer(
        config, product, person, series, windows=windows, booked=list(booked), today=today
    )


def _status(
    disease: str, series: Series | None, offers: tuple[Offer, ...], today: dt.date
) -> DiseaseStatus:
    series = series or Series(disease, ())
    possible = [o for o in offers if o.disease == disease and o.earliest is not None]
    earliest = min((o.earliest for o in possible if o.earliest is not None), default=None)
    latests = [o.latest for o in possible]
    latest = None if not latests or None in latests else max(d for d in latests if d)
    complete = series.complete_number is not None
    return DiseaseStatus(
        disease=disease,
        doses_given=series.given,
        primary_complete=complete,
        completed_on=series.completed_on,
        boosters_given=series.boosters,
        next_dose_number=series.given + 1,
        next_kind=series.next_kind,
        next_earliest=earliest,
        next_latest=latest,
        overdue=not complete and latest is not None and latest < today,
    )


def booking_limit_refusals(
    config: TenantConfig, *, person_live: int, account_live: int | None = None
) -> tuple[Reason, ...]:
    """Refusals of one more appointment for a person holding ``person_live`` (and their
    account ``account_live``) appointments to come, by ``booking.limits``."""
    limits = config.booking.limits or BookingLimits()
    out = []
    if person_live >= limits.live_per_person:
        out.append(Reason("person-booking-limit", {"limit": limits.live_per_person}))
    per_account = limits.live_per_account
    if account_live is not None and per_account is not None and account_live >= per_account:
        out.append(Reason("account-booking-limit", {"limit": per_account}))
    return tuple(out)
