"""Declared attributes: the risk groups and occupations a person says they have.

The codes are the tenant's (``eligibility.risk_groups`` / ``eligibility.occupations``);
scheduling's priority groups and session groups are built on them. A risk group is
health data (special-category data), so both sets are kept in one column encrypted under
the person's own key (``Beneficiary.declared``), erased with the person like every other
personal field. One column, not two: they are always read and written together (one
decryption per person booking reads, and the scheduling facts decrypt the person anyway),
and a third kind of attribute would be a key in it, not a migration.

The stored value is padded to a fixed block (:data:`PAD_TO`) and written for every
person, declarations or not, so a reader of the database without the keys learns neither
who declared something nor how much (rows registered before the column existed hold
NULL: nothing declared).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from vaxport.core.errors import field_error
from vaxport.core.i18n import N_
from vaxport.tenancy.service import TenantConfig

__all__ = ["KINDS", "MAX_DECLARED", "PAD_TO", "check_declared", "codes_of", "declared_value"]

KINDS = ("risk_groups", "occupations")
# A request's codes per kind: above any sensible configuration, low enough to bound work.
MAX_DECLARED = 32
PAD_TO = 256

_UNKNOWN = {
    "risk_groups": N_("is not a risk group this country lists: choose one from the list"),
    "occupations": N_("is not an occupation this country lists: choose one from the list"),
}


def configured(config: TenantConfig, kind: str) -> list[str]:
    """The codes of ``kind`` the tenant offers, in its configured order."""
    if config.eligibility is None:
        return []
    eligibility = config.eligibility
    items = eligibility.risk_groups if kind == "risk_groups" else eligibility.occupations
    return [a.code for a in items]


def check_declared(
    config: TenantConfig, values: dict[str, Any], p: str, errors: list[dict[str, str]]
) -> dict[str, tuple[str, ...]]:
    """The kinds present in ``values`` as stored: known codes only (an unknown one is an
    error at ``{kind}.{i}``), duplicates folded, in the tenant's order; ``None`` clears."""
    out: dict[str, tuple[str, ...]] = {}
    for kind in KINDS:
        if kind not in values:
            continue
        known = {code: i for i, code in enumerate(configured(config, kind))}
        given: Sequence[str] = values[kind] or ()
        for i, code in enumerate(given):
            if code not in known:
                errors.append(field_error(f"{p}{kind}.{i}", _UNKNOWN[kind]))
        out[kind] = tuple(sorted({c for c in given if c in known}, key=known.__getitem__))
    return out


def declared_value(risk_groups: Sequence[str], occupations: Sequence[str]) -> dict[str, Any]:
    """The stored (padded) form of both sets."""
    value: dict[str, Any] = {
        "occupations": list(occupations),
        "pad": "",
        "risk_groups": list(risk_groups),
    }
    # As the field's encoder writes it (compact, sorted keys), padded to a whole block.
    size = len(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    value["pad"] = " " * (-size % PAD_TO)
    return value


def codes_of(stored: Any, kind: str) -> tuple[str, ...]:
    """One kind's codes from a stored value (``None``: nothing declared)."""
    if not isinstance(stored, dict):
        return ()
    return tuple(stored.get(kind) or ())
