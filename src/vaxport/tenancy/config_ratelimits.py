"""The optional ``rate_limits:`` section of a tenant configuration.

```yaml
rate_limits:
  login: {ip: "10/minute;100/hour", account: "5/minute"}
  public_search: {ip: "600/minute"}
```

Each class and dimension overrides the process default (``VAXPORT_RATE_LIMIT_*``) for
this tenant's paths; what is not named keeps the default. Rules are checked by the same
parser as the settings (``vaxport.core.http.rate_rules``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from vaxport.core.http.rate_rules import check_limits


class _Section(BaseModel):
    # As every configuration section (tenancy.config.ConfigModel): strict, frozen, closed.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ClassRateLimits(_Section):
    """One route class's limits: per client address and per signed-in account."""

    ip: str | None = Field(default=None, max_length=200)
    account: str | None = Field(default=None, max_length=200)

    @field_validator("ip", "account")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_limits(value)
        except ValueError as exc:
            raise PydanticCustomError("config", str(exc)) from None


class RateLimitOverrides(_Section):
    """Per route class, overrides of the process defaults."""

    code_request: ClassRateLimits | None = None
    login: ClassRateLimits | None = None
    public_search: ClassRateLimits | None = None
    verification: ClassRateLimits | None = None
    booking: ClassRateLimits | None = None
    write: ClassRateLimits | None = None
    default: ClassRateLimits | None = None
    id_check: ClassRateLimits | None = None

    def as_rules(self) -> dict[str, dict[str, str]]:
        """``{class: {dimension: rule}}`` of what this tenant sets (nothing else)."""
        rules: dict[str, dict[str, str]] = {}
        for name in type(self).model_fields:
            limits: ClassRateLimits | None = getattr(self, name)
            if limits is not None:
                rules[name] = limits.model_dump(exclude_none=True)
        return rules
