"""The schedule rules of a country file: priority groups, declared attributes, booking
limits and ``may_follow_in``; each mistake named by its field and reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.support.parts import RULES
from tests.tenancy.helpers import DEMO, demo_config, write_config
from tests.tenancy.test_config_validation import SOURCE, mutated, problems_of
from vaxport.cli import app
from vaxport.tenancy.config import TenantConfig
from vaxport.tenancy.loader import config_document, config_hash
from vaxport.tenancy.validation import validate_file, validate_text


def _group(data: dict[str, Any], code: str) -> dict[str, Any]:
    groups: list[dict[str, Any]] = data["eligibility"]["groups"]
    return next(g for g in groups if g["code"] == code)


def _without_schedule_rules(data: dict[str, Any]) -> dict[str, Any]:
    data.pop("eligibility")
    data["booking"].pop("limits")
    return data


def test_the_demo_file_declares_groups_attributes_and_limits() -> None:
    config = validate_file(DEMO, rules=RULES)
    assert config.eligibility is not None
    assert [g.code for g in config.eligibility.groups][:2] == ["health-workers", "older-adults"]
    first = config.eligibility.groups[0]
    assert (first.opens_on, first.doses, first.occupations) == (
        dt.date(2021, 1, 4),
        ["primary", "booster"],
        ["health-worker"],
    )
    assert {a.code for a in config.eligibility.risk_groups} >= {"immunocompromised"}
    assert config.booking.limits is not None
    assert (config.booking.limits.live_per_person, config.booking.limits.live_per_account) == (1, 6)


def test_a_file_without_the_new_fields_is_valid_and_keeps_its_hash() -> None:
    bare = _without_schedule_rules(demo_config())
    config = validate_text(yaml.safe_dump(bare), source=SOURCE, rules=RULES)
    assert (config.eligibility, config.booking.limits) == (None, None)
    assert all(p.may_follow_in is None for p in config.vaccines)
    document = config_document(config)
    assert "eligibility" not in document
    assert "limits" not in document["booking"]
    assert all("may_follow_in" not in p for p in document["vaccines"])
    full = validate_file(DEMO, rules=RULES)
    assert config_hash(config_document(full)) != config_hash(document)


def test_a_stored_document_reads_back_equal_dates_included() -> None:
    config = validate_file(DEMO, rules=RULES)
    document = config_document(config)
    assert _group(document, "health-workers")["opens_on"] == "2021-01-04"
    assert TenantConfig.model_validate(document) == config


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change setting the dotted ``path`` (list indices as numbers) to ``value``."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            _set("eligibility.groups.0.diseases", ["covid-19", "polio"]),
            "eligibility.groups.0.diseases.1",
            "no product in vaccines is against 'polio'",
        ),
        (
            _set("eligibility.groups.0.occupations", ["health-worker", "pilot"]),
            "eligibility.groups.0.occupations.1",
            "unknown occupation 'pilot' (declare it in eligibility.occupations)",
        ),
        (
            _set("eligibility.groups.2.risk_groups", ["smoker"]),
            "eligibility.groups.2.risk_groups.0",
            "unknown risk group 'smoker' (declare it in eligibility.risk_groups)",
        ),
        (
            _set("eligibility.groups.1.code", "health-workers"),
            "eligibility.groups.1.code",
            "duplicate group 'health-workers' (first at eligibility.groups.0)",
        ),
        (
            _set("eligibility.risk_groups.1.code", "immunocompromised"),
            "eligibility.risk_groups.1.code",
            "duplicate risk group 'immunocompromised' (first at eligibility.risk_groups.0)",
        ),
        (
            _set("eligibility.groups.0.opens_on", "4 January 2021"),
            "eligibility.groups.0.opens_on",
            "'4 January 2021' is not a date: write it as YYYY-MM-DD",
        ),
        (
            _set("eligibility.groups.1.max_age", "60y"),
            "eligibility.groups.1.max_age",
            "max_age (60y) is below min_age (65y)",
        ),
        (
            _set("eligibility.groups.0.diseases", []),
            "eligibility.groups.0.diseases",
            "at least 1 item",
        ),
        (
            _set("eligibility.groups.0.doses", ["primary", "second"]),
            "eligibility.groups.0.doses.1",
            "Input should be 'primary' or 'booster'",
        ),
        (
            _set("eligibility.groups.0.doses", ["booster", "booster"]),
            "eligibility.groups.0.doses",
            "listed more than once: booster",
        ),
        (
            _set("eligibility.groups.0.priority", 0),
            "eligibility.groups.0.priority",
            "greater than or equal to 1",
        ),
        (
            lambda d: _group(d, "everyone").pop("priority"),
            "eligibility.groups.4.priority",
            "required field is missing",
        ),
        (
            _set("eligibility.groups.0.phase", 2),
            "eligibility.groups.0.phase",
            "unknown field",
        ),
        (
            _set("booking.limits.live_per_person", 0),
            "booking.limits.live_per_person",
            "greater than or equal to 1",
        ),
        (
            _set("booking.limits.per_day", 3),
            "booking.limits.per_day",
            "unknown field",
        ),
        (
            _set("vaccines.0.may_follow", ["covid-protein", "mmr"]),
            "vaccines.0.may_follow.1",
            "product 'mmr' is against measles, not covid-19: a series counts doses of one disease",
        ),
        (
            _set("vaccines.0.may_follow_in", ["third"]),
            "vaccines.0.may_follow_in.0",
            "Input should be 'primary' or 'booster'",
        ),
        (
            _set("vaccines.0.may_follow_in", []),
            "vaccines.0.may_follow_in",
            "at least 1 item",
        ),
    ],
)
def test_a_bad_schedule_rule_is_named_with_its_reason(
    change: Callable[[dict[str, Any]], None], field: str, reason: str
) -> None:
    found = problems_of(mutated(change))
    assert field in found, found
    assert reason in found[field]


def test_every_schedule_problem_is_reported_at_once() -> None:
    data = demo_config()
    _group(data, "health-workers")["occupations"] = ["pilot"]
    _group(data, "at-risk")["diseases"] = ["polio"]
    data["booking"]["limits"]["live_per_account"] = 0
    data["timezone"] = "Mars/Base"
    assert set(problems_of(data)) == {
        "eligibility.groups.0.occupations.0",
        "eligibility.groups.2.diseases.0",
        "booking.limits.live_per_account",
        "timezone",
    }


def test_tenant_validate_names_each_problem(tmp_path: Path) -> None:
    data = demo_config()
    _group(data, "teachers")["occupations"] = ["teacher", "pilot"]
    data["vaccines"][1]["may_follow"] = ["mmr"]
    bad = write_config(tmp_path / "bad.yaml", data)
    result = CliRunner().invoke(app, ["tenant", "validate", str(bad)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}: vaccines.1.may_follow.0: product 'mmr' is against measles")
    assert lines[1].startswith(
        f"{bad}: eligibility.groups.3.occupations.1: unknown occupation 'pilot'"
    )
