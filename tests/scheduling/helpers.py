"""Country configurations for the schedule engine's tests."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import yaml

from tests.support.parts import RULES
from tests.tenancy.helpers import COUNTRIES, demo_config
from vaxport.tenancy.config import TenantConfig
from vaxport.tenancy.validation import validate_file, validate_text


@cache
def country(code: str) -> TenantConfig:
    """A shipped country file, validated once."""
    return validate_file(COUNTRIES / f"{code}.yaml", rules=RULES)


def demo_with(change: Callable[[dict[str, Any]], None]) -> TenantConfig:
    """The demo configuration after ``change`` to its data, validated like a file."""
    data = demo_config()
    change(data)
    return validate_text(yaml.safe_dump(data, sort_keys=False), source="test", rules=RULES)


def product(data: dict[str, Any], product_id: str) -> dict[str, Any]:
    """The vaccines[] entry ``product_id`` of a configuration dict."""
    return next(p for p in data["vaccines"] if p["id"] == product_id)
