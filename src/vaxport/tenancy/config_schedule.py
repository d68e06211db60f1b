"""The schedule rules of a tenant configuration beyond the vaccine catalogue.

Who may be vaccinated when (``eligibility:``: declared risk groups and occupations, and
priority groups that open by date) and how many appointments a person or an account may
hold (``booking.limits``). The scheduling context's engine applies them; tenancy checks
them. Both sections are optional and left out of the stored document when absent, so
configurations without them keep their hash.

```yaml
eligibility:
  risk_groups: [{code: immunocompromised, name: {en: Weakened immune system, fr: ...}}]
  occupations: [{code: health-worker, name: Health worker}]
  groups:
    - code: health-workers
      name: Health workers
      priority: 1
      diseases: [covid-19]
      occupations: [health-worker]
      opens_on: 2021-01-04
booking:
  limits: {live_per_person: 1, live_per_account: 6}
  fairness: {release_window_seconds: 300, hold_minutes: 30}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vaxport.tenancy.config_types import (
    Age,
    Code,
    Day,
    LocalizedText,
    max_age_not_below_min,
    no_duplicates,
)
from vaxport.tenancy.raw_document import duplicate_values, items_at

DoseKind = Literal["primary", "booster"]
DOSE_KINDS: tuple[DoseKind, ...] = ("primary", "booster")


class _Section(BaseModel):
    # As every configuration section (tenancy.config.ConfigModel): strict, frozen, closed.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DeclaredAttribute(_Section):
    """A risk group or occupation a person may declare (and staff may record)."""

    code: Code
    name: LocalizedText


class EligibilityGroup(_Section):
    """A priority group: who belongs (every criterion given must hold), for which
    diseases and doses it opens vaccination, from when, and its place in the queue."""

    code: Code
    name: LocalizedText
    # 1 goes first; later parts use it to order waitlists and releases.
    priority: int = Field(ge=1, le=1000)
    diseases: list[Code] = Field(min_length=1)
    doses: list[DoseKind] = Field(default_factory=lambda: list(DOSE_KINDS), min_length=1)
    min_age: Age | None = None
    max_age: Age | None = None
    # One of these (when any are listed), and one of the occupations (when any are).
    risk_groups: list[Code] = Field(default_factory=list)
    occupations: list[Code] = Field(default_factory=list)
    opens_on: Day | None = None

    _ages = field_validator("max_age")(max_age_not_below_min)

    @field_validator("diseases", "doses", "risk_groups", "occupations")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return no_duplicates(value)


class EligibilitySettings(_Section):
    """Declared attributes and priority groups.

    A disease (and dose kind) that some group names is *gated*: its products go only to
    people in an open group for it. Diseases no group names are open to everyone within
    the product's ages.
    """

    risk_groups: list[DeclaredAttribute] = Field(default_factory=list)
    occupations: list[DeclaredAttribute] = Field(default_factory=list)
    groups: list[EligibilityGroup] = Field(default_factory=list)


class BookingLimits(_Section):
    """Appointments to come that one person, and one citizen account, may hold at once."""

    live_per_person: int = Field(default=1, ge=1, le=20)
    # None: only the per-person limit (the family size bounds an account).
    live_per_account: int | None = Field(default=None, ge=1, le=1000)


class BookingFairness(_Section):
    """Sharing seats under surge: a session released at a set time takes requests for
    ``release_window_seconds`` as tickets and then draws them at random; a waitlist offer
    holds a freed seat for ``hold_minutes`` before it goes to the next person."""

    release_window_seconds: int = Field(default=300, ge=10, le=86_400)
    hold_minutes: int = Field(default=30, ge=1, le=1440)


def schedule_checks(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Cross-object checks of the schedule rules, on the raw document."""
    products = items_at(raw, "vaccines")
    disease_of = {
        p["id"]: p["disease"]
        for _, p in products
        if isinstance(p.get("id"), str) and isinstance(p.get("disease"), str)
    }
    for i, product in products:
        follows, disease = product.get("may_follow"), product.get("disease")
        for j, ref in enumerate(follows if isinstance(follows, list) else []):
            other = disease_of.get(ref) if isinstance(ref, str) else None
            if other is not None and isinstance(disease, str) and other != disease:
                yield (
                    f"vaccines.{i}.may_follow.{j}",
                    f"product {ref!r} is against {other}, not {disease}: "
                    "a series counts doses of one disease",
                )
    yield from _eligibility_checks(raw, set(disease_of.values()))


def _eligibility_checks(raw: dict[str, Any], diseases: set[str]) -> Iterator[tuple[str, str]]:
    where = "eligibility"
    declared: dict[str, set[str]] = {}
    for kind in ("risk_groups", "occupations"):
        items = items_at(raw, where, kind)
        yield from duplicate_values(items, "code", f"{where}.{kind}", kind.replace("_", " ")[:-1])
        declared[kind] = {a["code"] for _, a in items if isinstance(a.get("code"), str)}
    groups = items_at(raw, where, "groups")
    yield from duplicate_values(groups, "code", f"{where}.groups", "group")
    for i, group in groups:
        at = f"{where}.groups.{i}"
        names = group.get("diseases")
        for j, disease in enumerate(names if isinstance(names, list) else []):
            if isinstance(disease, str) and disease not in diseases:
                yield f"{at}.diseases.{j}", f"no product in vaccines is against {disease!r}"
        for kind, known in declared.items():
            codes = group.get(kind)
            for j, code in enumerate(codes if isinstance(codes, list) else []):
                if isinstance(code, str) and code not in known:
                    what = kind.replace("_", " ")[:-1]
                    yield (
                        f"{at}.{kind}.{j}",
                        f"unknown {what} {code!r} (declare it in {where}.{kind})",
                    )
