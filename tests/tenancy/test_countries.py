"""Every shipped country file validates, and its EU DCC codes are real value-set codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.parts import RULES
from tests.tenancy.helpers import COUNTRIES
from vaxport.tenancy.config import TenantConfig
from vaxport.tenancy.validation import ConfigInvalid, validate_file

FILES = sorted(COUNTRIES.glob("*.yaml"))


def test_the_expected_countries_ship() -> None:
    assert {p.stem for p in FILES} >= {"demo", "example-in", "example-se"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_country_file_validates_and_is_named_after_its_code(path: Path) -> None:
    try:
        config = validate_file(path, rules=RULES)
    except ConfigInvalid as exc:
        pytest.fail("\n".join(exc.lines()))
    assert path.stem == config.code


def _values(folder: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    values: dict[str, Any] = data["valueSetValues"]
    return values


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dcc_codes_exist_in_the_eu_value_sets(path: Path, shared_testdata: Path) -> None:
    current = shared_testdata / "dcc-valuesets"
    schema_130 = shared_testdata / "dcc-schema" / "1.3.0" / "valuesets"
    config: TenantConfig = validate_file(path, rules=RULES)
    encodings = {
        v["vaccine-code"]: v for v in _values(current, "vaccine-encoding-instructions").values()
    }
    sets = {
        "medicinal_product": "vaccine-medicinal-product",
        "marketing_authorisation_holder": "vaccine-mah-manf",
        "prophylaxis": "vaccine-prophylaxis",
        "disease_agent": "disease-agent-targeted",
    }
    with_dcc = [p for p in config.vaccines if p.dcc is not None]
    if "eu-dcc" in config.certificates.formats:
        assert with_dcc, "eu-dcc is enabled but no product carries DCC codes"
        countries = _values(current, "country-2-codes")
        assert config.certificates.country in countries
    for product in with_dcc:
        assert product.dcc is not None
        for attr, set_name in sets.items():
            code = getattr(product.dcc, attr)
            in_current = _values(current, set_name).get(code)
            in_130 = _values(schema_130, set_name).get(code)
            assert in_current or in_130, f"{product.id}: {attr} {code!r} is not in {set_name}"
            assert in_current is None or in_current["active"], f"{code!r} is deprecated"
        # The EU's encoding table pairs each product with its holder and SNOMED codes.
        rule = encodings[product.dcc.medicinal_product]
        assert rule["vaccine-manufacturer"] == product.dcc.marketing_authorisation_holder
        assert product.dcc.prophylaxis in rule["sct-codes"]
        assert product.disease == "covid-19"  # the only disease the DCC value sets cover
