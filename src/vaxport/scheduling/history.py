"""A person and their dose history, counted per disease (pure; the engine's input).

Doses count toward the series of their product's ``disease``, in date order; a dose's
recorded number may only raise the count (it says earlier doses were given elsewhere).
The primary series is complete at the first dose whose number reaches its product's
``doses_in_primary_series``; later doses are boosters. Ages count from the birth date, or
with a birth year only *by year* (as if born on 1 January).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from vaxport.tenancy.service import DoseKind, TenantConfig, date_age_passed, date_age_reached

__all__ = [
    "Booked",
    "CountedDose",
    "Dose",
    "Person",
    "Series",
    "age_window",
    "count_series",
]


@dataclass(frozen=True, slots=True)
class Person:
    """Who is asking: a birth date, or only a birth year, and declared attributes."""

    birth_date: dt.date | None = None
    birth_year: int | None = None
    risk_groups: frozenset[str] = frozenset()
    occupations: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.birth_date is None and self.birth_year is None:
            raise ValueError("a person needs a birth date or a birth year")

    @property
    def reference_birth(self) -> dt.date:
        """The birth date ages count from: 1 January when only the year is known."""
        if self.birth_date is not None:
            return self.birth_date
        assert self.birth_year is not None
        return dt.date(self.birth_year, 1, 1)


@dataclass(frozen=True, slots=True)
class Dose:
    """A dose given (the caller leaves voided ones out); ``number`` as recorded, if known."""

    product_id: str
    given_on: dt.date
    number: int | None = None


@dataclass(frozen=True, slots=True)
class Booked:
    """An appointment to come (not cancelled, not yet past) for a dose of a product."""

    product_id: str
    on: dt.date
    dose_number: int


@dataclass(frozen=True, slots=True)
class CountedDose:
    """A dose in its series: its number there, and whether it was primary or a booster."""

    dose: Dose
    number: int
    kind: DoseKind


@dataclass(frozen=True, slots=True)
class Series:
    """The doses of one disease, counted; ``complete_number`` is the dose that completed
    the primary series (None while incomplete)."""

    disease: str
    doses: tuple[CountedDose, ...]
    complete_number: int | None = None
    completed_on: dt.date | None = None

    @property
    def given(self) -> int:
        """The dose count (the last dose's number)."""
        return self.doses[-1].number if self.doses else 0

    @property
    def last(self) -> CountedDose | None:
        """The latest dose, if any."""
        return self.doses[-1] if self.doses else None

    @property
    def next_kind(self) -> DoseKind:
        """``booster`` once the primary series is complete, else ``primary``."""
        return "primary" if self.complete_number is None else "booster"

    @property
    def boosters(self) -> int:
        """Doses counted after the primary series was complete."""
        return 0 if self.complete_number is None else self.given - self.complete_number


def age_window(
    person: Person, min_age: str | None, max_age: str | None
) -> tuple[dt.date, dt.date | None]:
    """``(first day old enough, first day too old or None)`` for an age range."""
    birth = person.reference_birth
    start = date_age_reached(birth, min_age) if min_age else birth
    return start, date_age_passed(birth, max_age) if max_age else None


def count_series(
    config: TenantConfig, doses: Iterable[Dose]
) -> tuple[dict[str, Series], tuple[Dose, ...]]:
    """The dose history counted per disease, and the doses of unknown products."""
    by_disease: dict[str, list[Dose]] = {}
    ignored: list[Dose] = []
    for dose in doses:
        product = config.products.get(dose.product_id)
        if product is None:
            ignored.append(dose)
        else:
            by_disease.setdefault(product.disease, []).append(dose)
    series = {d: _count(config, d, ds) for d, ds in by_disease.items()}
    return series, tuple(sorted(ignored, key=_order))


def _order(dose: Dose) -> tuple[dt.date, int, str]:
    # Input order never matters: same-day doses sort by recorded number, then product.
    return dose.given_on, dose.number or 0, dose.product_id


def _count(config: TenantConfig, disease: str, doses: list[Dose]) -> Series:
    counted: list[CountedDose] = []
    number = 0
    complete: int | None = None
    completed_on: dt.date | None = None
    for dose in sorted(doses, key=_order):
        previous, number = number, max(number + 1, dose.number or 0)
        kind: DoseKind = "primary" if complete is None else "booster"
        length = config.products[dose.product_id].doses_in_primary_series
        if complete is None and number >= length:
            # A recorded number past the series' end also records boosters given elsewhere.
            complete = max(previous + 1, length)
            completed_on = dose.given_on
            kind = "primary" if complete == number else "booster"
        counted.append(CountedDose(dose, number, kind))
    return Series(disease, tuple(counted), complete, completed_on)
