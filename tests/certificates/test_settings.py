"""The tenant's certificate settings: SHC issuer URL, validity, UVCI prefix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.support.parts import RULES
from tests.tenancy.helpers import demo_config
from vaxport.tenancy.config import DEFAULT_CERTIFICATE_VALIDITY_DAYS
from vaxport.tenancy.validation import ConfigInvalid, validate_text


def _load(change: Callable[[dict[str, Any]], None]) -> Any:
    data = demo_config()
    change(data)
    return validate_text(yaml.safe_dump(data), source="t.yaml", rules=RULES)


def _refusal(change: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as info:
        _load(change)
    return {p.field: p.text for p in info.value.problems}


def test_the_settings_are_optional_with_defaults() -> None:
    config = _load(lambda d: None)
    assert config.certificates.shc_issuer is None
    assert config.certificates.validity == DEFAULT_CERTIFICATE_VALIDITY_DAYS
    assert config.certificates.uvci_prefix is None
    # Absent settings stay out of the stored document: existing files keep their hash.
    assert set(config.certificates.model_dump(exclude_none=False)) >= {"formats"}
    assert "shc_issuer" not in config.model_dump()["certificates"]


def test_valid_settings_are_taken_as_written() -> None:
    config = _load(
        lambda d: d["certificates"].update(
            shc_issuer="https://shc.health.example/issuer", validity_days=730, uvci_prefix="MOH/EU/"
        )
    )
    assert config.certificates.shc_issuer == "https://shc.health.example/issuer"
    assert config.certificates.validity == 730
    assert config.certificates.uvci_prefix == "MOH/EU/"
    local = _load(lambda d: d["certificates"].update(shc_issuer="http://localhost:8000/shc/x"))
    assert local.certificates.shc_issuer == "http://localhost:8000/shc/x"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"shc_issuer": "http://shc.example/issuer"}, "must use https"),
        ({"shc_issuer": "https://shc.example/issuer/"}, "must not end with '/'"),
        ({"shc_issuer": "https://shc.example/i?x=1"}, "without query"),
        ({"shc_issuer": "shc.example/issuer"}, "absolute URL"),
        ({"validity_days": 0}, "greater than or equal to 1"),
        ({"validity_days": "365"}, "valid integer"),
        ({"uvci_prefix": "moh/"}, "String should match pattern"),
        ({"uvci_prefix": "MOH"}, "String should match pattern"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(change: dict[str, Any], reason: str) -> None:
    problems = _refusal(lambda d: d["certificates"].update(change))
    (field,) = change
    assert reason in problems[f"certificates.{field}"]
