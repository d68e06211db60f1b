"""What a verification answers, in the one JSON shape the CLI and the API print."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Format = Literal["eu-dcc", "shc"]
# In the order they are evaluated; a check not reached stays ``None``.
CHECKS = ("decode", "signature", "expiry", "schema", "key_usage", "revocation")


@dataclass(slots=True)
class Verification:
    """The outcome: each check's answer, the first failure's reason, the disclosed holder.

    ``stage`` names the decoding step that failed (``prefix``, ``base45``, ``compression``,
    ``cbor``, ``cose``, ``jws``, ``image``...) for tests and logs; it is not part of the
    published shape. ``certificate_id`` is the UVCI (DCC) or the JWS's ``rid`` (SHC): an
    identifier of the certificate, not of the person.
    """

    format: Format | None = None
    checks: dict[str, bool | None] = field(default_factory=lambda: dict.fromkeys(CHECKS))
    reasons: dict[str, str] = field(default_factory=dict)
    holder: dict[str, Any] | None = None
    stage: str | None = None
    certificate_id: str | None = None
    issuer: str | None = None

    def fail(self, check: str, reason: str, *, stage: str | None = None) -> Verification:
        """Record a failed check (the first reason of a check wins)."""
        self.checks[check] = False
        self.reasons.setdefault(check, reason)
        if stage is not None and self.stage is None:
            self.stage = stage
        return self

    def passed(self, check: str) -> None:
        """Record a passed check, unless it already failed."""
        if self.checks.get(check) is not False:
            self.checks[check] = True

    @property
    def valid(self) -> bool:
        """Every check reached and passed."""
        return all(self.checks.get(name) is True for name in CHECKS)

    @property
    def reason(self) -> str | None:
        """The first failed check's reason, in evaluation order."""
        for name in CHECKS:
            if self.checks.get(name) is False:
                return self.reasons.get(name, name)
        if not self.valid:
            return next((f"{n} not checked" for n in CHECKS if self.checks.get(n) is None), None)
        return None

    def to_json(self) -> dict[str, Any]:
        """``{"valid", "format", "checks", "reason", "holder"}`` exactly (issue 16, part 2)."""
        return {
            "valid": self.valid,
            "format": self.format,
            "checks": {name: self.checks.get(name) for name in CHECKS},
            "reason": self.reason,
            # Only a certificate whose signature holds says anything about a person.
            "holder": self.holder if self.checks.get("signature") is True else None,
        }
