"""Invariants of the schedule engine over generated catalogues, groups, people and histories.

Each configuration is a valid tenant configuration (the demo's, with generated vaccines
and priority groups); histories may mix products, be out of order, carry recorded dose
numbers or name products the catalogue does not know.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tenancy.helpers import demo_config
from vaxport.scheduling.service import (
    Assessment,
    Dose,
    Offer,
    Person,
    age_window,
    assess,
    assess_product,
    count_series,
)
from vaxport.tenancy.config import TenantConfig

DISEASES = ("alpha", "beta")
RISKS = ("r1", "r2")
JOBS = ("o1", "o2")
FIRST_DAY, LAST_DAY = dt.date(1990, 1, 1), dt.date(2030, 12, 31)

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

days = st.dates(min_value=FIRST_DAY, max_value=LAST_DAY)


@st.composite
def ages(draw: st.DrawFn) -> tuple[str | None, str | None]:
    """A ``(min_age, max_age)`` pair, either possibly absent, ordered."""
    unit = draw(st.sampled_from("dwmy"))
    top = {"d": 400, "w": 60, "m": 30, "y": 70}[unit]
    low = draw(st.none() | st.integers(0, top // 2))
    high = draw(st.none() | st.integers(low or 0, top))
    return (
        None if low is None else f"{low}{unit}",
        None if high is None else f"{high}{unit}",
    )


@st.composite
def vaccines(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 4))
    products: list[dict[str, Any]] = []
    for i in range(count):
        doses = draw(st.integers(1, 3))
        intervals = []
        for _ in range(doses - 1):
            low = draw(st.integers(0, 60))
            high = draw(st.none() | st.integers(low, low + 90))
            intervals.append({"min_days": low, "max_days": high})
        min_age, max_age = draw(ages())
        product: dict[str, Any] = {
            "id": f"p{i}",
            "name": f"Product {i}",
            "manufacturer": "Test",
            "disease": draw(st.sampled_from(DISEASES)),
            "doses_in_primary_series": doses,
            "dose_intervals": intervals,
            "min_age": min_age,
            "max_age": max_age,
            "active": draw(st.booleans() | st.just(True)),
        }
        if draw(st.booleans()):
            product["booster"] = {
                "min_days_after_previous": draw(st.integers(0, 200)),
                "max_boosters": draw(st.integers(1, 3)),
            }
        products.append(product)
    for product in products:
        kin = [p["id"] for p in products if p["disease"] == product["disease"] and p is not product]
        product["may_follow"] = draw(st.lists(st.sampled_from(kin), unique=True)) if kin else []
        kinds = draw(st.none() | st.sampled_from([["primary"], ["booster"]]))
        if kinds is not None:
            product["may_follow_in"] = kinds
    return products


@st.composite
def eligibility(draw: st.DrawFn, diseases: list[str]) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    groups = []
    for i in range(draw(st.integers(0, 3))):
        min_age, max_age = draw(ages())
        group: dict[str, Any] = {
            "code": f"g{i}",
            "name": f"Group {i}",
            "priority": draw(st.integers(1, 5)),
            "diseases": draw(st.lists(st.sampled_from(diseases), min_size=1, unique=True)),
            "doses": draw(st.sampled_from([["primary"], ["booster"], ["primary", "booster"]])),
            "min_age": min_age,
            "max_age": max_age,
            "risk_groups": draw(st.lists(st.sampled_from(RISKS), unique=True, max_size=2)),
            "occupations": draw(st.lists(st.sampled_from(JOBS), unique=True, max_size=1)),
            "opens_on": draw(st.none() | days),
        }
        groups.append(group)
    return {
        "risk_groups": [{"code": r, "name": r} for r in RISKS],
        "occupations": [{"code": o, "name": o} for o in JOBS],
        "groups": groups,
    }


@cache
def _demo() -> dict[str, Any]:
    return demo_config()


@st.composite
def configs(draw: st.DrawFn) -> TenantConfig:
    data = dict(_demo())
    data["vaccines"] = draw(vaccines())
    rules = draw(eligibility(sorted({p["disease"] for p in data["vaccines"]})))
    if rules is not None:
        data["eligibility"] = rules
    return TenantConfig.model_validate(data)


@st.composite
def people(draw: st.DrawFn) -> Person:
    born = draw(st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2029, 12, 31)))
    by_year = draw(st.booleans())
    return Person(
        birth_date=None if by_year else born,
        birth_year=born.year if by_year else None,
        risk_groups=frozenset(draw(st.sets(st.sampled_from(RISKS)))),
        occupations=frozenset(draw(st.sets(st.sampled_from(JOBS)))),
    )


def histories(config: TenantConfig) -> st.SearchStrategy[list[Dose]]:
    product_ids = [p.id for p in config.vaccines]
    dose = st.builds(
        Dose,
        product_id=st.sampled_from([*product_ids, "unknown"]),
        given_on=days,
        number=st.none() | st.none() | st.integers(1, 5),
    )
    return st.lists(dose, max_size=6)


@st.composite
def cases(draw: st.DrawFn) -> tuple[TenantConfig, Person, list[Dose], dt.date]:
    config = draw(configs())
    return config, draw(people()), draw(histories(config)), draw(days)


def _applicable_min_days(config: TenantConfig, offer: Offer, history: list[Dose]) -> int | None:
    """The interval the documented rules set before ``offer``, from the counted series."""
    series = count_series(config, history)[0].get(offer.disease)
    if series is None or series.last is None:
        return None
    product = config.products[offer.product_id]
    if offer.kind == "booster":
        return product.booster.min_days_after_previous if product.booster else None
    gap = offer.dose_number - 2
    intervals = product.dose_intervals
    if gap >= len(intervals):
        intervals = config.products[series.last.dose.product_id].dose_intervals
    return intervals[gap].min_days


def _offers(answer: Assessment) -> list[Offer]:
    return list(answer.offers)


@PROPERTY
@given(cases())
def test_the_earliest_date_is_never_before_the_last_dose_plus_its_interval(
    case: tuple[TenantConfig, Person, list[Dose], dt.date],
) -> None:
    config, person, history, today = case
    series = count_series(config, history)[0]
    for offer in _offers(assess(config, person, history, today=today)):
        if offer.eligible:
            assert offer.earliest is not None
            assert offer.earliest <= today
        min_days = _applicable_min_days(config, offer, history)
        last = series[offer.disease].last if offer.disease in series else None
        if offer.earliest is not None and last is not None and min_days is not None:
            assert offer.earliest >= last.dose.given_on + dt.timedelta(days=min_days)


@PROPERTY
@given(cases())
def test_a_product_becomes_eligible_exactly_on_its_earliest_date(
    case: tuple[TenantConfig, Person, list[Dose], dt.date],
) -> None:
    config, person, history, today = case
    for offer in _offers(assess(config, person, history, today=today)):
        if any(r.lasting for r in offer.refusals):
            assert offer.earliest is None
        else:
            assert all(r.params["on"] > today for r in offer.refusals)
        if offer.earliest is None:
            assert not offer.eligible
            continue
        if not offer.eligible:
            assert offer.earliest > today
        on_the_day = assess_product(
            config, person, history, product_id=offer.product_id, today=offer.earliest
        )
        assert on_the_day.eligible, on_the_day.refusals
        day_before = assess_product(
            config,
            person,
            history,
            product_id=offer.product_id,
            today=offer.earliest - dt.timedelta(days=1),
        )
        assert not day_before.eligible


@PROPERTY
@given(cases())
def test_a_fully_vaccinated_person_is_never_offered_another_primary_dose(
    case: tuple[TenantConfig, Person, list[Dose], dt.date],
) -> None:
    config, person, history, today = case
    answer = assess(config, person, history, today=today)
    for offer in answer.offers:
        if answer.fully_vaccinated(offer.disease):
            assert offer.kind == "booster"
            assert offer.dose_number > answer.diseases[offer.disease].doses_given
        if offer.eligible and offer.kind == "booster":
            booster = config.products[offer.product_id].booster
            series = count_series(config, history)[0][offer.disease]
            assert booster is not None
            assert series.complete_number is not None
            assert offer.dose_number - series.complete_number <= booster.max_boosters


@PROPERTY
@given(cases(), st.data())
def test_adding_a_dose_never_lowers_a_count_nor_undoes_a_series(
    case: tuple[TenantConfig, Person, list[Dose], dt.date], data: st.DataObject
) -> None:
    config, person, history, today = case
    extra = data.draw(histories(config).filter(bool)).pop()
    before = assess(config, person, history, today=today).diseases
    after = assess(config, person, [*history, extra], today=today).diseases
    for disease, was in before.items():
        now = after[disease]
        assert now.doses_given >= was.doses_given
        assert now.primary_complete or not was.primary_complete
        assert now.primary_complete == (now.completed_on is not None)
    added = config.products.get(extra.product_id)
    if added is not None and all(d.number is None for d in [*history, extra]):
        # Without recorded numbers (which may already count a dose given elsewhere), one
        # more dose is one more in its series.
        assert after[added.disease].doses_given == before[added.disease].doses_given + 1


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_the_order_of_the_history_does_not_matter(
    case: tuple[TenantConfig, Person, list[Dose], dt.date], rnd: Any
) -> None:
    config, person, history, today = case
    shuffled = list(history)
    rnd.shuffle(shuffled)
    assert assess(config, person, shuffled, today=today) == assess(
        config, person, history, today=today
    )
    for disease, series in count_series(config, history)[0].items():
        known = [d for d in history if d.product_id in config.products]
        mine = [d for d in known if config.products[d.product_id].disease == disease]
        assert series.given >= len(mine)


@PROPERTY
@given(cases(), st.integers(0, 364))
def test_age_by_year_is_age_from_1_january_and_never_later_than_a_true_birth_date(
    case: tuple[TenantConfig, Person, list[Dose], dt.date], day_of_year: int
) -> None:
    config, person, history, today = case
    year = person.reference_birth.year
    by_year = Person(
        birth_year=year, risk_groups=person.risk_groups, occupations=person.occupations
    )
    new_year = Person(
        birth_date=dt.date(year, 1, 1),
        risk_groups=person.risk_groups,
        occupations=person.occupations,
    )
    assert assess(config, by_year, history, today=today) == assess(
        config, new_year, history, today=today
    )
    born = dt.date(year, 1, 1) + dt.timedelta(days=day_of_year)
    if born.year != year:
        return
    dated = Person(birth_date=born)
    for product in config.vaccines:
        start_y, end_y = age_window(by_year, product.min_age, product.max_age)
        start_d, end_d = age_window(dated, product.min_age, product.max_age)
        assert start_y <= start_d
        assert end_y is None or end_d is None or end_y <= end_d
        if product.min_age and product.min_age.endswith("y"):
            assert start_y == dt.date(year + int(product.min_age[:-1]), 1, 1)
