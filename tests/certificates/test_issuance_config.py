"""The configuration check of EU DCC codes: products that lack them where eu-dcc needs
them are named; the shipped country files pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vaxport import wiring
from vaxport.tenancy.validation import ConfigInvalid, validate_file, validate_text

COUNTRIES = Path(__file__).parents[2] / "countries"


def _demo(**changes: object) -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((COUNTRIES / "demo.yaml").read_text())
    data.update(changes)
    return data


def _problems(data: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigInvalid) as refused:
        validate_text(yaml.safe_dump(data), source="t.yaml", rules=wiring.build().config_rules)
    return refused.value.lines()


@pytest.mark.parametrize("name", ["demo.yaml", "example-se.yaml", "example-in.yaml"])
def test_the_shipped_countries_pass(name: str) -> None:
    validate_file(COUNTRIES / name, rules=wiring.build().config_rules)


def test_a_product_without_dcc_codes_beside_certified_ones_is_named() -> None:
    data = _demo()
    vaccines = data["vaccines"]
    assert isinstance(vaccines, list)
    uncoded = dict(vaccines[1], id="covid-nocode", name="Uncoded")
    del uncoded["dcc"]
    vaccines.append(uncoded)

    [line] = [p for p in _problems(data) if "covid-nocode" in p]
    assert f"vaccines.{len(vaccines) - 1}.dcc" in line
    assert "lacks EU DCC codes" in line


def test_eu_dcc_without_any_coded_product_is_refused_naming_them() -> None:
    data = _demo()
    vaccines = data["vaccines"]
    assert isinstance(vaccines, list)
    for product in vaccines:
        product.pop("dcc", None)

    [line] = [p for p in _problems(data) if "certificates.formats" in p]
    assert "covid-mrna" in line
    assert "mmr" in line
