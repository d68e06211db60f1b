"""A bad configuration file is refused with every problem, each as FILE: field: reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from tests.support.parts import RULES
from tests.tenancy.helpers import DEMO, demo_config, region
from vaxport.tenancy.config import TenantConfig
from vaxport.tenancy.validation import (
    ConfigInvalid,
    ConfigProblem,
    ConfigRules,
    validate_text,
)

SOURCE = "countries/test.yaml"


def problems_of(data: Any, rules: ConfigRules = RULES) -> dict[str, str]:
    """Validate ``data`` (dict or YAML text); return {field: reason} of the refusal."""
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    with pytest.raises(ConfigInvalid) as info:
        validate_text(text, source=SOURCE, rules=rules)
    for line in info.value.lines():
        assert line.startswith(f"{SOURCE}: ")
    return {p.field: p.text for p in info.value.problems}


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = demo_config()
    change(data)
    return data


def test_the_demo_file_is_valid() -> None:
    config = validate_text(DEMO.read_text(encoding="utf-8"), source=str(DEMO), rules=RULES)
    assert isinstance(config, TenantConfig)
    assert config.code == "demo"
    assert len(config.regions.items) == 30
    assert config.region_index["NOR-01-01"].path == "/NOR/NOR-01/NOR-01-01/"
    assert config.region_index["NOR-01-01"].level == 3


def test_yaml_syntax_error_names_its_line_and_column() -> None:
    text = "code: demo\nname: Demoland\nlocales: [en, fr\ntimezone: UTC\n"
    found = problems_of(text)
    assert list(found) == ["(syntax)"]
    assert found["(syntax)"].startswith("line 4, column ")


def test_a_file_that_is_not_a_mapping_is_refused() -> None:
    assert problems_of("- just\n- a list\n") == {
        "(document)": "Input should be a valid dictionary or instance of TenantConfig"
    }
    assert "(document)" in problems_of("")


def test_duplicate_yaml_keys_are_refused_not_silently_overwritten() -> None:
    text = DEMO.read_text(encoding="utf-8").replace(
        "timezone: America/Toronto", "timezone: America/Toronto\ntimezone: Europe/Paris"
    )
    found = problems_of(text)
    assert found["timezone"] == ("duplicate key (first given on line 8) (line 9)")


def test_yes_no_on_off_stay_text_so_norway_keeps_its_code() -> None:
    data = demo_config()
    data["regions"]["items"][0]["code"] = "NO"
    for item in data["regions"]["items"]:
        if item.get("parent") == "NOR":
            item["parent"] = "NO"
    text = yaml.safe_dump(data, sort_keys=False).replace("'NO'", "NO")
    assert "code: NO\n" in text
    config = validate_text(text, source=SOURCE, rules=RULES)
    assert config.regions.items[0].code == "NO"


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda d: d.update(colour="blue"), "colour", "unknown field"),
        (lambda d: d["booking"].update(max_per_day=3), "booking.max_per_day", "unknown field"),
        (
            lambda d: d["vaccines"][0]["dcc"].update(vaccine_type="x"),
            "vaccines.0.dcc.vaccine_type",
            "unknown field",
        ),
        (lambda d: d.pop("booking"), "booking", "required field is missing"),
        (
            lambda d: d["id_types"][1].update(regex="^[A-Z{2"),
            "id_types.1.regex",
            "not a valid regular expression",
        ),
        (
            lambda d: d["id_types"][0].update(checksum="mod97"),
            "id_types.0.checksum",
            "Input should be 'none', 'luhn' or 'verhoeff'",
        ),
        (
            lambda d: d["id_types"][0].update(normalise=["strip-spaces", "lowercase"]),
            "id_types.0.normalise.1",
            "Input should be",
        ),
        (
            lambda d: d["id_types"][0].update(examples=["850 412 307 8"]),
            "id_types.0.examples",
            "has a wrong check digit",
        ),
        (
            lambda d: d["vaccines"][0]["dose_intervals"][0].update(min_days=-3),
            "vaccines.0.dose_intervals.0.min_days",
            "greater than or equal to 0",
        ),
        (
            lambda d: d["vaccines"][0]["dose_intervals"][0].update(min_days=50, max_days=42),
            "vaccines.0.dose_intervals.0.max_days",
            "max_days (42) is below min_days (50)",
        ),
        (
            lambda d: d["vaccines"][3].update(min_age="30y"),
            "vaccines.3.max_age",
            "max_age (26y) is below min_age (30y)",
        ),
        (
            lambda d: d["vaccines"][2].update(min_age="nine months"),
            "vaccines.2.min_age",
            "is not an age",
        ),
        (
            lambda d: d["vaccines"][2].update(doses_in_primary_series=3),
            "vaccines.2.dose_intervals",
            "a primary series of 3 doses needs 2",
        ),
        (
            lambda d: d["vaccines"][0].update(may_follow=["covid-vector"]),
            "vaccines.0.may_follow.0",
            "unknown product 'covid-vector'",
        ),
        (
            lambda d: d["vaccines"][1].update(id="covid-mrna"),
            "vaccines.1.id",
            "duplicate product id 'covid-mrna' (first at vaccines.0)",
        ),
        (lambda d: d.update(locales=["en", "xx"]), "locales.1", "'xx' is not a locale"),
        (lambda d: d.update(default_locale="de"), "default_locale", "'de' is not one of locales"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone", "not an IANA time zone"),
        (lambda d: d.update(timezone="../../etc/passwd"), "timezone", "not an IANA time zone"),
        (
            lambda d: d["phone"].update(country_code=33),
            "phone",
            "default_region CA dials +1, not +33",
        ),
        (
            lambda d: region(d, "NOR").update(name={"en": "North", "de": "Nord"}),
            "regions.items.0.name",
            "locale 'de' is not one of the tenant's locales",
        ),
        (
            lambda d: region(d, "NOR").update(name={"fr": "Nord"}),
            "regions.items.0.name",
            "needs a text for the default locale 'en'",
        ),
        (
            lambda d: region(d, "CEN-02").update(code="CEN-01"),
            "regions.items.14.code",
            "duplicate region code 'CEN-01' (first at regions.items.11)",
        ),
        (
            lambda d: region(d, "CEN-02-01").update(parent="CEN-99"),
            "regions.items.15.parent",
            "unknown parent region 'CEN-99'",
        ),
        (
            lambda d: region(d, "NOR").update(parent="NOR-01-01"),
            "regions.items.0.parent",
            "region tree has a cycle: NOR -> NOR-01-01 -> NOR-01 -> NOR",
        ),
        (
            lambda d: region(d, "SOU").update(parent="SOU"),
            "regions.items.20.parent",
            "region tree has a cycle: SOU -> SOU",
        ),
        (
            lambda d: d["regions"]["levels"].pop(),
            "regions.items.2",
            "region 'NOR-01-01' is at level 3 but regions.levels names only 2",
        ),
        (
            lambda d: region(d, "NOR-01-01")["population"].update({"0-5": 3}),
            "regions.items.2.population.0-5",
            "age band '0-5' is not listed in regions.age_bands",
        ),
        (
            lambda d: region(d, "NOR-01-01")["population"].update({"60+": -1}),
            "regions.items.2.population",
            "population cannot be negative",
        ),
        (
            lambda d: d["regions"].update(age_bands=["0-4", "3-11"]),
            "regions.age_bands",
            "overlaps",
        ),
        (
            lambda d: region(d, "NOR").update(code=12),
            "regions.items.0.code",
            "write 12 in quotes if it is meant as text",
        ),
        (
            lambda d: d["notifications"]["channels"][0].update(options={"token": "abc"}),
            "notifications.channels.0.options",
            "'token' would put a secret in the configuration file",
        ),
        (
            lambda d: d["notifications"]["routes"].update(sms="gateway"),
            "notifications.routes.sms",
            "no channel named 'gateway'",
        ),
        (
            lambda d: d["notifications"].update(quiet_hours={"start": "21:00", "end": "21:00"}),
            "notifications.quiet_hours",
            "start and end must differ",
        ),
        (
            lambda d: d["certificates"].update(formats=["eu-dcc", "pdf", "pdf"]),
            "certificates.formats",
            "listed more than once: pdf",
        ),
        (
            lambda d: d["certificates"].update(formats=["vds"]),
            "certificates.formats.0",
            "Input should be 'eu-dcc', 'shc' or 'pdf'",
        ),
        (
            lambda d: d["certificates"].pop("country"),
            "certificates",
            "eu-dcc needs the issuing country",
        ),
        (
            lambda d: d["recovery"].update(methods=["sms-code"]),
            "recovery.methods.0",
            "Input should be 'email-code' or 'id-dob'",
        ),
        (
            lambda d: d["family"].update(max_beneficiaries_per_account=0),
            "family.max_beneficiaries_per_account",
            "greater than or equal to 1",
        ),
        (lambda d: d["booking"].update(days_ahead="28"), "booking.days_ahead", "valid integer"),
        (lambda d: d.update(code="Demo Land"), "code", "String should match pattern"),
        (lambda d: d.update(name="D" * 201), "name", "is longer than 200 characters"),
        (
            lambda d: region(d, "NOR").update(name={"en": "North", "fr": " "}),
            "regions.items.0.name",
            "must not be empty",
        ),
    ],
)
def test_each_kind_of_mistake_is_reported_on_its_field(
    change: Callable[[dict[str, Any]], None], field: str, reason: str
) -> None:
    found = problems_of(mutated(change))
    assert field in found, found
    assert reason in found[field]


def test_every_problem_is_listed_at_once_with_lines() -> None:
    def many(d: dict[str, Any]) -> None:
        d["colour"] = "blue"
        d["timezone"] = "Nowhere/Land"
        d["id_types"][0]["checksum"] = "crc"
        region(d, "NOR").update(parent="NOR-01-01")
        region(d, "SOU-03-02").update(code="SOU-03-01")
        d["vaccines"][0]["dose_intervals"][0]["min_days"] = -1
        d["vaccines"][1]["may_follow"] = ["nothing"]
        d["vaccines"][3]["min_age"] = "40y"

    text = yaml.safe_dump(mutated(many), sort_keys=False)
    with pytest.raises(ConfigInvalid) as info:
        validate_text(text, source=SOURCE, rules=RULES)
    fields = [p.field for p in info.value.problems]
    assert set(fields) == {
        "colour",
        "timezone",
        "id_types.0.checksum",
        "regions.items.0.parent",
        "regions.items.29.code",
        "vaccines.0.dose_intervals.0.min_days",
        "vaccines.1.may_follow.0",
        "vaccines.3.max_age",
    }
    lines = text.splitlines()
    for problem in info.value.problems:
        assert problem.line is not None
        key = problem.field.rsplit(".", 1)[-1]
        if not key.isdigit():
            assert key in lines[problem.line - 1], (problem, lines[problem.line - 1])
    # Sorted by line, so the list reads top to bottom like the file.
    numbers = [p.line for p in info.value.problems]
    assert numbers == sorted(numbers)
    assert info.value.to_dict()["errors"][0]["field"] == info.value.problems[0].field


def test_checks_given_in_the_rules_run_on_valid_configs_and_can_refuse() -> None:
    seen: list[TenantConfig] = []

    def no_shc_without_pdf(config: TenantConfig) -> Iterator[ConfigProblem]:
        seen.append(config)
        if "shc" in config.certificates.formats and "pdf" not in config.certificates.formats:
            yield ConfigProblem("certificates.formats", "shc needs pdf in this test")

    rules = ConfigRules(checks=(*RULES.checks, no_shc_without_pdf), locators=RULES.locators)
    validate_text(yaml.safe_dump(demo_config()), source=SOURCE, rules=rules)
    assert len(seen) == 1
    data = mutated(lambda d: d["certificates"].update(formats=["eu-dcc", "shc"]))
    found = problems_of(data, rules)
    assert list(found) == ["certificates.formats"]
    assert found["certificates.formats"].startswith("shc needs pdf in this test (line ")
    assert len(seen) == 2
    # Without the check (other parts, same file) the same configuration is accepted.
    validate_text(yaml.safe_dump(data), source=SOURCE, rules=RULES)


def test_validated_config_is_immutable() -> None:
    config = validate_text(yaml.safe_dump(demo_config()), source=SOURCE, rules=RULES)
    with pytest.raises(Exception, match="frozen"):
        config.code = "other"  # type: ignore[misc]


def test_numbers_with_leading_zeros_and_clock_times_stay_text() -> None:
    from vaxport.tenancy.yaml_source import parse

    parsed = parse("a: 0114\nb: 10:30\nc: 12\nd: 0x1F\ne: on\nf: true\n")
    assert parsed.data == {"a": "0114", "b": "10:30", "c": 12, "d": 31, "e": "on", "f": True}


def test_runaway_alias_expansion_is_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n"
        for i in range(7)
    )
    found = problems_of(bomb)
    assert found == {"(document)": "more than 500000 values (are aliases expanding?)"}
