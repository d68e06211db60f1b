"""The immunization section of a tenant configuration (optional; absent keeps the hash).

``aefi`` lists the symptoms an adverse event report may name, as coded terms (MedDRA
preferred terms, or the ministry's own codes) with localized names, and how many serious
reports on one lot flag it for the admins' decision on a hold. ``correction_window_minutes``
is how long the vaccinator who recorded a dose may correct or void it on their own
(default 60; 0: only supervisors correct); later a supervisor does, with a reason.

```yaml
immunization:
  correction_window_minutes: 60
  aefi:
    serious_threshold_per_lot: 3
    symptoms:
      - {code: "10037660", name: {en: Fever, fr: Fièvre}}
      - {code: "10022086", name: {en: Injection site pain, fr: Douleur au point d'injection}}
```
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from vaxport.tenancy.config_types import LocalizedText, no_duplicates

# A MedDRA code is 8 digits; a ministry's own list may use letters and dots too.
SymptomCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
DEFAULT_SERIOUS_THRESHOLD = 3
DEFAULT_CORRECTION_WINDOW_MINUTES = 60


class _Section(BaseModel):
    # As every configuration section (tenancy.config.ConfigModel): strict, frozen, closed.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SymptomTerm(_Section):
    """One reportable symptom: its code and its name in the tenant's languages."""

    code: SymptomCode
    name: LocalizedText


class AefiSettings(_Section):
    """Adverse events following immunization: the coded symptoms and the lot threshold."""

    symptoms: list[SymptomTerm] = Field(min_length=1, max_length=500)
    # Serious reports on one lot that flag it (``flagged_at``) for the admins' decision.
    serious_threshold_per_lot: int = Field(default=DEFAULT_SERIOUS_THRESHOLD, ge=1, le=10_000)

    @field_validator("symptoms")
    @classmethod
    def _unique_codes(cls, value: list[SymptomTerm]) -> list[SymptomTerm]:
        no_duplicates([s.code for s in value])
        return value

    @property
    def codes(self) -> frozenset[str]:
        """The symptom codes a report may name."""
        return frozenset(s.code for s in self.symptoms)


class ImmunizationSettings(_Section):
    """What the immunization context reads from the tenant's configuration."""

    aefi: AefiSettings | None = None
    # Left out of the document when absent, so configurations without it keep their hash.
    correction_window_minutes: int | None = Field(
        default=None, ge=0, le=1440, exclude_if=lambda v: v is None
    )

    @property
    def correction_window(self) -> int:
        """Minutes the recorder may correct or void their own dose (the default when unset)."""
        if self.correction_window_minutes is None:
            return DEFAULT_CORRECTION_WINDOW_MINUTES
        return self.correction_window_minutes
