"""Building configuration files for tests from the demo country."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COUNTRIES = ROOT / "countries"
DEMO = COUNTRIES / "demo.yaml"


@cache
def _demo() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    return data


def demo_config() -> dict[str, Any]:
    """A fresh, mutable copy of the demo configuration."""
    return copy.deepcopy(_demo())


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as YAML to ``path``; return the path."""
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def region(data: dict[str, Any], code: str) -> dict[str, Any]:
    """The region item ``code`` of a configuration dict."""
    return next(r for r in data["regions"]["items"] if r["code"] == code)
