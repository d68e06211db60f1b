"""The schedule engine, rule by rule: each refusal with its machine code and parameters.

Demoland (countries/demo.yaml): covid-mrna and covid-protein (2 doses, 21-42 and 21-56
days apart, may follow each other, boosters after 180 days, at most 3, from 12y), mmr (2
doses 28 days apart, from 9m, no booster), hpv (2 doses 150-365 days apart, 9y to 26y).
COVID-19 is gated by priority groups; measles and HPV are open to all.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from tests.scheduling.helpers import country, demo_with, product
from vaxport.scheduling.service import (
    Booked,
    Dose,
    Person,
    Reason,
    assess,
    assess_product,
    booking_limit_refusals,
)

D = dt.date
TODAY = D(2026, 12, 7)
ADULT = Person(birth_date=D(1990, 5, 1))


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def codes(offer: Any) -> list[str]:
    return [r.code for r in offer.refusals]


# --- ages ------------------------------------------------------------------------------


def test_a_child_is_too_young_for_covid_until_12_and_may_have_measles_now() -> None:
    child = Person(birth_date=D(2020, 3, 15))
    answer = assess(country("demo"), child, [], today=TODAY)
    covid = answer.offer("covid-mrna")
    assert covid.refusals[0] == Reason("too-young", {"min_age": "12y", "on": D(2032, 3, 15)})
    assert covid.refusals[1] == Reason(
        "not-in-eligible-group-yet", {"group": "everyone", "on": D(2032, 3, 15)}
    )
    assert covid.earliest == D(2032, 3, 15)
    mmr = answer.offer("mmr")
    assert (mmr.eligible, mmr.dose_number, mmr.kind, mmr.earliest) == (
        True,
        1,
        "primary",
        D(2020, 12, 15),
    )
    assert [o.product_id for o in answer.eligible()] == ["mmr"]
    assert codes(answer.offer("hpv")) == ["too-young"]


def test_min_age_is_reached_on_the_birthday() -> None:
    config = country("demo")
    twelve_today = Person(birth_date=D(2014, 12, 7))
    twelve_tomorrow = Person(birth_date=D(2014, 12, 8))
    assert assess_product(config, twelve_today, [], product_id="covid-mrna", today=TODAY).eligible
    offer = assess_product(config, twelve_tomorrow, [], product_id="covid-mrna", today=TODAY)
    assert codes(offer) == ["too-young", "not-in-eligible-group-yet"]
    assert offer.earliest == D(2026, 12, 8)


def test_max_age_admits_up_to_the_day_before_the_next_birthday() -> None:
    config = country("demo")
    turns_27_tomorrow = Person(birth_date=D(1999, 12, 8))
    ok = assess_product(config, turns_27_tomorrow, [], product_id="hpv", today=TODAY)
    assert ok.eligible
    assert ok.latest == TODAY
    late = assess_product(config, turns_27_tomorrow, [], product_id="hpv", today=TODAY + days(1))
    assert late.refusals == (Reason("too-old", {"max_age": "26y", "since": D(2026, 12, 8)}),)
    assert late.earliest is None


def test_a_birth_year_alone_counts_age_by_year() -> None:
    config = country("demo")
    by_year = Person(birth_year=2014)
    late_in_the_year = Person(birth_date=D(2014, 12, 31))
    june = D(2026, 6, 1)
    assert assess_product(config, by_year, [], product_id="covid-mrna", today=june).eligible
    offer = assess_product(config, late_in_the_year, [], product_id="covid-mrna", today=june)
    assert "too-young" in codes(offer)
    # As if born on 1 January: the same answers, and HPV ends on 1 January of year + 27.
    assert assess(config, by_year, [], today=june) == assess(
        config, Person(birth_date=D(2014, 1, 1)), [], today=june
    )
    hpv = assess_product(config, Person(birth_year=1999), [], product_id="hpv", today=TODAY)
    assert hpv.refusals == (Reason("too-old", {"max_age": "26y", "since": D(2026, 1, 1)}),)


def test_a_person_needs_a_birth_date_or_year() -> None:
    with pytest.raises(ValueError, match="birth date or a birth year"):
        Person()


# --- intervals and series --------------------------------------------------------------


def test_dose_2_waits_the_interval_of_the_product_offered() -> None:
    def slower_protein(data: dict[str, Any]) -> None:
        product(data, "covid-protein")["dose_intervals"] = [{"min_days": 28, "max_days": 56}]

    config = demo_with(slower_protein)
    first = D(2026, 11, 30)
    answer = assess(config, ADULT, [Dose("covid-mrna", first)], today=TODAY)
    mrna, protein = answer.offer("covid-mrna"), answer.offer("covid-protein")
    assert mrna.refusals == (
        Reason(
            "too-early", {"dose_number": 2, "min_days": 21, "on": D(2026, 12, 21), "after": first}
        ),
    )
    assert (mrna.earliest, mrna.latest) == (D(2026, 12, 21), first + days(42))
    assert protein.refusals[0].params["on"] == D(2026, 12, 28)
    status = answer.diseases["covid-19"]
    assert (status.next_dose_number, status.next_kind) == (2, "primary")
    assert (status.next_earliest, status.next_latest) == (D(2026, 12, 21), first + days(56))
    later = assess(config, ADULT, [Dose("covid-mrna", first)], today=D(2026, 12, 21))
    assert [o.product_id for o in later.eligible()] == ["covid-mrna", "mmr"]


def test_a_dose_past_the_interval_is_still_offered_and_the_series_is_overdue() -> None:
    first = D(2026, 10, 1)
    answer = assess(country("demo"), ADULT, [Dose("covid-mrna", first)], today=TODAY)
    mrna = answer.offer("covid-mrna")
    assert (mrna.eligible, mrna.dose_number, mrna.latest) == (True, 2, first + days(42))
    status = answer.diseases["covid-19"]
    assert status.overdue
    assert status.next_latest == first + days(56)


def test_doses_of_different_products_of_one_disease_make_one_series() -> None:
    history = [Dose("covid-mrna", D(2026, 1, 5)), Dose("covid-protein", D(2026, 2, 2))]
    answer = assess(country("demo"), ADULT, history, today=TODAY)
    status = answer.diseases["covid-19"]
    assert answer.fully_vaccinated("covid-19")
    assert (status.doses_given, status.completed_on, status.boosters_given) == (
        2,
        D(2026, 2, 2),
        0,
    )
    assert not answer.fully_vaccinated("measles")
    booster = answer.offer("covid-mrna")
    assert (booster.eligible, booster.kind, booster.dose_number) == (True, "booster", 3)
    assert booster.earliest == D(2026, 2, 2) + days(180)
    assert booster.groups == ("adult-boosters",)


def test_a_booster_waits_its_own_interval() -> None:
    last = D(2026, 10, 1)
    history = [Dose("covid-mrna", D(2026, 9, 1)), Dose("covid-mrna", last)]
    offer = assess_product(country("demo"), ADULT, history, product_id="covid-protein", today=TODAY)
    due = last + days(180)
    assert offer.refusals == (
        Reason("too-early", {"dose_number": 3, "min_days": 180, "on": due, "after": last}),
    )
    assert (offer.kind, offer.earliest, offer.latest) == ("booster", due, None)


def test_a_complete_series_without_boosters_offers_nothing_more() -> None:
    child = Person(birth_date=D(2015, 1, 1))
    history = [Dose("mmr", D(2016, 1, 1)), Dose("mmr", D(2016, 3, 1))]
    answer = assess(country("demo"), child, history, today=TODAY)
    assert answer.offer("mmr").refusals == (Reason("series-complete", {"disease": "measles"}),)
    assert answer.offer("mmr").earliest is None
    status = answer.diseases["measles"]
    assert status.fully_vaccinated
    assert (status.next_kind, status.next_earliest, status.overdue) == ("booster", None, False)


def test_no_booster_past_the_products_maximum() -> None:
    history = [Dose("covid-mrna", D(2021 + i, 1, 10)) for i in range(5)]
    answer = assess(country("demo"), ADULT, history, today=TODAY)
    assert answer.diseases["covid-19"].boosters_given == 3
    assert answer.offer("covid-mrna").refusals == (
        Reason("boosters-complete", {"max_boosters": 3}),
    )


def test_a_product_must_be_allowed_to_follow_the_previous_dose() -> None:
    config = country("example-in")
    first = D(2022, 1, 1)
    answer = assess(config, ADULT, [Dose("covishield", first)], today=D(2022, 6, 1))
    assert answer.offer("covaxin").refusals == (
        Reason(
            "wrong-product-sequence",
            {"previous_product": "covishield", "product": "covaxin", "kind": "primary"},
        ),
    )
    # Corbevax may follow Covishield, but only as a precaution (booster) dose.
    assert codes(answer.offer("corbevax")) == ["wrong-product-sequence"]
    assert answer.offer("covishield").eligible
    complete = [Dose("covishield", first), Dose("covishield", D(2022, 4, 1))]
    later = assess(config, ADULT, complete, today=D(2022, 11, 1))
    corbevax = later.offer("corbevax")
    assert (corbevax.eligible, corbevax.kind, corbevax.groups) == (
        True,
        "booster",
        ("precaution-18",),
    )
    assert codes(later.offer("covaxin")) == ["wrong-product-sequence"]


def test_recorded_dose_numbers_count_doses_given_elsewhere() -> None:
    config = country("demo")
    only_second = [Dose("covid-mrna", D(2026, 1, 5), number=2)]
    assert assess(config, ADULT, only_second, today=TODAY).fully_vaccinated("covid-19")
    fourth = [Dose("covid-mrna", D(2026, 1, 5), number=4)]
    status = assess(config, ADULT, fourth, today=TODAY).diseases["covid-19"]
    assert (status.doses_given, status.boosters_given, status.next_dose_number) == (4, 2, 5)


def test_history_order_does_not_matter_and_unknown_products_are_set_aside() -> None:
    history = [
        Dose("covid-mrna", D(2021, 6, 1)),
        Dose("covid-protein", D(2021, 7, 1)),
        Dose("mmr", D(1991, 2, 1)),
        Dose("covid-mrna", D(2022, 1, 15)),
    ]
    unknown = Dose("sputnik-v", D(2021, 3, 1))
    config = country("demo")
    expected = assess(config, ADULT, history, today=TODAY)
    shuffled = [*history, unknown]
    random.Random(7).shuffle(shuffled)
    answer = assess(config, ADULT, shuffled, today=TODAY)
    assert answer.ignored == (unknown,)
    assert (answer.diseases, answer.offers) == (expected.diseases, expected.offers)
    assert answer.diseases["covid-19"].doses_given == 3


def test_a_withdrawn_product_is_refused() -> None:
    senior = Person(birth_date=D(1950, 1, 1))
    offer = assess_product(country("example-se"), senior, [], product_id="vaxzevria", today=TODAY)
    assert offer.refusals == (Reason("product-withdrawn", {"product": "vaxzevria"}),)
    assert offer.earliest is None


# --- priority groups -------------------------------------------------------------------


def test_a_gated_disease_waits_for_the_persons_group_to_open() -> None:
    config = country("demo")
    may = D(2021, 5, 1)
    offer = assess_product(config, ADULT, [], product_id="covid-mrna", today=may)
    assert offer.refusals == (
        Reason("not-in-eligible-group-yet", {"group": "everyone", "on": D(2021, 6, 1)}),
    )
    assert offer.earliest == D(2021, 6, 1)
    nurse = Person(birth_date=D(1990, 5, 1), occupations=frozenset({"health-worker"}))
    answer = assess(config, nurse, [], today=may)
    assert answer.offer("covid-mrna").eligible
    assert answer.offer("covid-mrna").groups == ("health-workers",)
    assert (answer.groups, answer.priority) == (("health-workers",), 1)
    # Measles is gated by no group.
    assert assess_product(config, ADULT, [], product_id="mmr", today=may).eligible


def test_an_age_group_opens_on_its_date() -> None:
    senior = Person(birth_date=D(1950, 6, 1))
    config = country("demo")
    before = assess_product(config, senior, [], product_id="covid-mrna", today=D(2021, 1, 20))
    assert before.refusals == (
        Reason("not-in-eligible-group-yet", {"group": "older-adults", "on": D(2021, 2, 1)}),
    )
    after = assess_product(config, senior, [], product_id="covid-mrna", today=D(2021, 2, 1))
    assert after.groups == ("older-adults",)


def test_boosters_are_gated_apart_from_primary_doses() -> None:
    teen = Person(birth_date=D(2011, 1, 1))
    done = [Dose("covid-mrna", D(2025, 3, 1)), Dose("covid-mrna", D(2025, 4, 1))]
    config = country("demo")
    offer = assess_product(config, teen, done, product_id="covid-mrna", today=TODAY)
    assert offer.refusals == (
        Reason("not-in-eligible-group-yet", {"group": "adult-boosters", "on": D(2029, 1, 1)}),
    )
    at_risk = Person(birth_date=D(2011, 1, 1), risk_groups=frozenset({"immunocompromised"}))
    offer = assess_product(config, at_risk, done, product_id="covid-mrna", today=TODAY)
    assert (offer.eligible, offer.groups) == (True, ("at-risk",))


def test_someone_no_group_will_ever_admit_is_refused_for_good() -> None:
    def health_workers_only(data: dict[str, Any]) -> None:
        groups = data["eligibility"]["groups"]
        data["eligibility"]["groups"] = [g for g in groups if g["code"] == "health-workers"]

    config = demo_with(health_workers_only)
    offer = assess_product(config, ADULT, [], product_id="covid-mrna", today=TODAY)
    assert offer.refusals == (
        Reason("not-in-eligible-group", {"disease": "covid-19", "kind": "primary"}),
    )
    assert offer.earliest is None
    assert assess(config, ADULT, [], today=TODAY).diseases["covid-19"].next_earliest is None


def test_a_group_with_an_age_ceiling_closes_on_the_birthday_past_it() -> None:
    config = country("example-in")
    fifteen = Person(birth_date=D(2006, 6, 1))
    jan = D(2022, 1, 10)
    assert assess_product(config, fifteen, [], product_id="covaxin", today=jan).groups == (
        "age-15-17",
    )
    thirteen = Person(birth_date=D(2008, 6, 1))
    offer = assess_product(config, thirteen, [], product_id="covaxin", today=jan)
    assert offer.refusals == (
        Reason("not-in-eligible-group-yet", {"group": "age-12-14", "on": D(2022, 3, 16)}),
    )


# --- bookings --------------------------------------------------------------------------


def test_one_appointment_to_come_per_dose_whatever_the_product() -> None:
    history = [Dose("covid-mrna", D(2026, 11, 1))]
    booked = [Booked("covid-protein", D(2026, 12, 20), 2), Booked("mmr", D(2026, 12, 9), 1)]
    answer = assess(country("demo"), ADULT, history, today=TODAY, booked=booked)
    assert answer.offer("covid-mrna").refusals == (
        Reason(
            "already-booked", {"dose_number": 2, "product": "covid-protein", "on": D(2026, 12, 20)}
        ),
    )
    assert codes(answer.offer("mmr")) == ["already-booked"]
    assert answer.offer("hpv").refusals == (
        Reason("too-old", {"max_age": "26y", "since": D(2017, 5, 1)}),
    )


def test_booking_limits_per_person_and_per_account() -> None:
    demo = country("demo")  # 1 per person, 6 per account
    assert booking_limit_refusals(demo, person_live=0, account_live=5) == ()
    assert booking_limit_refusals(demo, person_live=1, account_live=6) == (
        Reason("person-booking-limit", {"limit": 1}),
        Reason("account-booking-limit", {"limit": 6}),
    )

    def no_limits(data: dict[str, Any]) -> None:
        data["booking"].pop("limits")

    default = demo_with(no_limits)  # one per person, accounts bounded by family size only
    assert booking_limit_refusals(default, person_live=0, account_live=50) == ()
    assert [r.code for r in booking_limit_refusals(default, person_live=1)] == [
        "person-booking-limit"
    ]


# --- answers ---------------------------------------------------------------------------


def test_a_reason_turns_into_json_with_iso_dates() -> None:
    reason = Reason("too-early", {"dose_number": 2, "on": D(2026, 12, 21)})
    assert reason.as_dict() == {"code": "too-early", "dose_number": 2, "on": "2026-12-21"}


def test_one_product_is_answered_as_in_the_full_assessment() -> None:
    config = country("demo")
    history = [Dose("covid-mrna", D(2026, 11, 1)), Dose("mmr", D(1991, 3, 1))]
    full = assess(config, ADULT, history, today=TODAY)
    for offer in full.offers:
        alone = assess_product(config, ADULT, history, product_id=offer.product_id, today=TODAY)
        assert alone == offer
    with pytest.raises(KeyError):
        full.offer("polio")
