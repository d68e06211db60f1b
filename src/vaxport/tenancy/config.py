"""The shape of one tenant's configuration file (``countries/<code>.yaml``).

Every model refuses unknown fields and takes values as written (strict: ``"12"`` is not a
number, ``12`` is not a code). Checks that need one object are validators here; checks
across objects (region tree, product references) live in :mod:`vaxport.tenancy.validation`
so they can report every problem at once.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from vaxport.core import clock
from vaxport.tenancy.config_immunization import ImmunizationSettings
from vaxport.tenancy.config_ratelimits import RateLimitOverrides
from vaxport.tenancy.config_schedule import (
    BookingFairness,
    BookingLimits,
    DoseKind,
    EligibilitySettings,
)
from vaxport.tenancy.config_types import (
    Age,
    Code,
    CountryAlpha2,
    LocaleId,
    LocalizedText,
    ShortText,
    TenantCode,
    TimeZoneName,
    max_age_not_below_min,
    no_duplicates,
)
from vaxport.tenancy.idnumbers import MAX_ID_LENGTH, check_id_number
from vaxport.tenancy.notifications_config import NotificationsConfig

AGE_BAND_RE = re.compile(r"^(\d{1,3})(?:-(\d{1,3})|\+)$")
Checksum = Literal["none", "luhn", "verhoeff"]
NormaliseRule = Literal[
    "strip-spaces", "strip-dashes", "strip-dots", "strip-slashes", "strip-plus-signs", "uppercase"
]
CertificateFormat = Literal["eu-dcc", "shc", "pdf"]
RecoveryMethod = Literal["email-code", "id-dob"]
BirthPrecision = Literal["date", "year"]


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("config", message)


def _absent(value: object) -> bool:
    # Optional sections added later are left out of the stored document when absent, so
    # configurations without them keep their hash.
    return value is None


class ConfigModel(BaseModel):
    """Base of every configuration section: strict, immutable, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PhoneSettings(ConfigModel):
    country_code: int = Field(ge=1, le=999)
    default_region: CountryAlpha2

    @model_validator(mode="after")
    def _region_matches_code(self) -> PhoneSettings:
        code = phonenumbers.country_code_for_region(self.default_region)
        if code == 0:
            raise _error(f"default_region {self.default_region!r} is unknown to phonenumbers")
        if code != self.country_code:
            raise _error(
                f"default_region {self.default_region} dials +{code}, not +{self.country_code}"
            )
        return self


class RegionItem(ConfigModel):
    code: Code
    name: LocalizedText
    parent: Code | None = None
    population: dict[str, int] = Field(default_factory=dict)

    @field_validator("population")
    @classmethod
    def _non_negative(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [band for band, n in value.items() if n < 0]
        if bad:
            raise _error(f"population cannot be negative ({', '.join(bad)})")
        return value


class RegionTree(ConfigModel):
    levels: list[LocalizedText] = Field(min_length=1, max_length=8)
    age_bands: list[str] = Field(default_factory=list)
    items: list[RegionItem] = Field(min_length=1)

    @field_validator("age_bands")
    @classmethod
    def _bands_ordered(cls, bands: list[str]) -> list[str]:
        previous_end = -1
        for band in no_duplicates(bands):
            m = AGE_BAND_RE.match(band)
            if m is None:
                raise _error(f"age band {band!r} must look like 0-4 or 80+")
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) is not None else 999
            if end < start:
                raise _error(f"age band {band!r} ends before it starts")
            if start <= previous_end:
                raise _error(f"age band {band!r} overlaps or is out of order")
            previous_end = end
        return bands


class IdDocumentType(ConfigModel):
    code: Code
    label: LocalizedText
    regex: str = Field(min_length=1, max_length=500)
    checksum: Checksum = "none"
    normalise: list[NormaliseRule] = Field(default_factory=list)
    accepted_for_registration: bool = True
    min_age: Age | None = None
    max_age: Age | None = None
    # Sample numbers (invented, never real people's) proving regex and checksum agree.
    examples: list[str] = Field(default_factory=list)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise _error(f"not a valid regular expression: {exc}") from exc
        return value

    @field_validator("normalise")
    @classmethod
    def _unique_rules(cls, value: list[str]) -> list[str]:
        return no_duplicates(value)

    _ages = field_validator("max_age")(max_age_not_below_min)

    @field_validator("examples")
    @classmethod
    def _examples_pass(cls, examples: list[str], info: ValidationInfo) -> list[str]:
        rules = {k: info.data[k] for k in ("regex", "checksum", "normalise") if k in info.data}
        if len(rules) < 3:
            return examples  # the broken rule is reported on its own field
        probe = IdDocumentType.model_construct(**rules)
        for example in examples:
            reason = check_id_number(probe, example)[1]
            reason = reason and reason.format(max_length=MAX_ID_LENGTH)
            if reason:
                raise _error(f"example {example!r} is refused by this ID type: it {reason}")
        return examples


class DccCodes(ConfigModel):
    """EU DCC value-set codes (mp, ma, vp, tg) of a product."""

    medicinal_product: ShortText
    marketing_authorisation_holder: ShortText
    prophylaxis: ShortText
    disease_agent: ShortText


class DoseInterval(ConfigModel):
    """Days allowed between one dose of the primary series and the next."""

    min_days: int = Field(ge=0, le=3650)
    max_days: int | None = Field(default=None, ge=0, le=3650)

    @field_validator("max_days")
    @classmethod
    def _ordered(cls, max_days: int | None, info: ValidationInfo) -> int | None:
        min_days = info.data.get("min_days")
        if max_days is not None and min_days is not None and min_days > max_days:
            raise _error(f"max_days ({max_days}) is below min_days ({min_days})")
        return max_days


class BoosterRule(ConfigModel):
    min_days_after_previous: int = Field(ge=0, le=3650)
    max_boosters: int = Field(ge=1, le=20)


class VaccineProduct(ConfigModel):
    id: Code
    name: ShortText
    manufacturer: ShortText
    disease: Code
    cvx: str | None = Field(default=None, pattern=r"^\d{1,3}$")
    dcc: DccCodes | None = None
    doses_in_primary_series: int = Field(ge=1, le=10)
    # One entry per gap: dose 1 -> 2, dose 2 -> 3, ...
    dose_intervals: list[DoseInterval] = Field(default_factory=list)
    booster: BoosterRule | None = None
    min_age: Age | None = None
    max_age: Age | None = None
    # Products whose doses a dose of this product may follow (heterologous schedules);
    # a product may always follow itself.
    may_follow: list[Code] = Field(default_factory=list)
    # In which doses following those products is allowed (absent: primary and booster).
    may_follow_in: list[DoseKind] | None = Field(default=None, min_length=1, exclude_if=_absent)
    active: bool = True

    _ages = field_validator("max_age")(max_age_not_below_min)

    @field_validator("dose_intervals")
    @classmethod
    def _one_per_gap(
        cls, intervals: list[DoseInterval], info: ValidationInfo
    ) -> list[DoseInterval]:
        doses = info.data.get("doses_in_primary_series")
        if doses is not None and len(intervals) != doses - 1:
            raise _error(
                f"has {len(intervals)} entries; a primary series of {doses} doses needs "
                f"{doses - 1} (one per gap between doses)"
            )
        return intervals

    @field_validator("may_follow", "may_follow_in")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else no_duplicates(value)


class FamilySettings(ConfigModel):
    max_beneficiaries_per_account: int = Field(ge=1, le=50)


class BookingRules(ConfigModel):
    days_ahead: int = Field(ge=1, le=366)
    cancel_cutoff_hours: int = Field(ge=0, le=720)
    slot_minutes: int = Field(ge=1, le=480)
    limits: BookingLimits | None = Field(default=None, exclude_if=_absent)
    # Randomized release and waitlist holds (vaxport.tenancy.config_schedule).
    fairness: BookingFairness | None = Field(default=None, exclude_if=_absent)
    # Days after a session's (local) day when the worker closes its attendance (its people
    # still booked become no-shows); absent: the next day (scheduling.attendance.closing).
    close_sessions_after_days: int | None = Field(default=None, ge=1, le=30, exclude_if=_absent)


# The UVCI's issuer part (eHN UVCI guidelines): A-Z, 0-9, "/" between parts.
UVCI_PREFIX_RE = r"^(?:[A-Z0-9]{1,16}/){0,3}$"
DEFAULT_CERTIFICATE_VALIDITY_DAYS = 365
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class CertificateSettings(ConfigModel):
    formats: list[CertificateFormat] = Field(default_factory=list)
    issuer: ShortText | None = None
    country: CountryAlpha2 | None = None
    # The SMART Health Card issuer (``iss``): keys at ``{shc_issuer}/.well-known/jwks.json``.
    # Absent: ``{VAXPORT_PUBLIC_URL}/shc/{tenant}``, served by vaxport itself.
    shc_issuer: str | None = Field(default=None, max_length=200, exclude_if=_absent)
    # How long an issued certificate is valid (its ``exp``); absent: 365 days.
    validity_days: int | None = Field(default=None, ge=1, le=3650, exclude_if=_absent)
    # The UVCI's issuer part before the random part, e.g. ``MOH/`` (absent: none).
    uvci_prefix: str | None = Field(
        default=None, pattern=UVCI_PREFIX_RE, max_length=30, exclude_if=_absent
    )

    @field_validator("formats")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return no_duplicates(value)

    @field_validator("shc_issuer")
    @classmethod
    def _issuer_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme, sep, rest = value.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        hostname = host if host.startswith("[") else host.split(":", 1)[0]
        if not sep or not hostname or any(c in value for c in "?#@ \t"):
            raise _error("must be an absolute URL without query, fragment or user info")
        if value.endswith("/"):
            raise _error("must not end with '/' (verifiers append /.well-known/jwks.json)")
        if scheme != "https" and not (scheme == "http" and hostname in _LOCAL_HOSTS):
            raise _error("must use https (the SMART Health Cards spec requires it)")
        return value

    @property
    def validity(self) -> int:
        """Days an issued certificate is valid (``validity_days`` or the default)."""
        return self.validity_days or DEFAULT_CERTIFICATE_VALIDITY_DAYS

    @model_validator(mode="after")
    def _dcc_needs_country(self) -> CertificateSettings:
        if "eu-dcc" in self.formats and (self.country is None or self.issuer is None):
            raise _error("eu-dcc needs the issuing country and issuer name")
        return self


class RetentionRule(ConfigModel):
    vaccinated_records_years: int = Field(ge=1, le=150)


class RecoverySettings(ConfigModel):
    methods: list[RecoveryMethod] = Field(default_factory=list)
    # After an ``id-dob`` recovery (knowledge only: a relative may know both facts) the
    # new phone waits this long before it sees the family's records; the old phone and
    # e-mail can undo meanwhile. ``email-code`` proves a second possession: no hold.
    hold_hours: int = Field(default=72, ge=0, le=720)

    @field_validator("methods")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return no_duplicates(value)


class RegistrationSettings(ConfigModel):
    """How people are registered: ``birth: year`` where many do not know their birth date."""

    birth: BirthPrecision = "date"


@dataclass(frozen=True, slots=True)
class RegionNode:
    """A region's place in the tree: depth (1 = top level) and materialized path."""

    code: str
    parent: str | None
    level: int
    path: str


class TenantConfig(ConfigModel):
    """A validated tenant configuration."""

    code: TenantCode
    name: LocalizedText
    locales: list[LocaleId] = Field(min_length=1)
    default_locale: LocaleId
    timezone: TimeZoneName
    phone: PhoneSettings
    regions: RegionTree
    id_types: list[IdDocumentType] = Field(min_length=1)
    vaccines: list[VaccineProduct] = Field(min_length=1)
    family: FamilySettings
    booking: BookingRules
    certificates: CertificateSettings
    # Owned by the notifications context: channels, routes, templates, quiet hours, caps.
    notifications: NotificationsConfig
    retention: RetentionRule
    recovery: RecoverySettings
    # Left out of the document when absent, so existing configurations keep their hash.
    rate_limits: RateLimitOverrides | None = Field(default=None, exclude_if=lambda v: v is None)
    registration: RegistrationSettings | None = Field(default=None, exclude_if=lambda v: v is None)
    # Priority groups and declared attributes (vaxport.tenancy.config_schedule).
    eligibility: EligibilitySettings | None = Field(default=None, exclude_if=_absent)
    # Adverse event terms and the lot threshold (vaxport.tenancy.config_immunization).
    immunization: ImmunizationSettings | None = Field(default=None, exclude_if=_absent)
    # A language served before its catalog is complete, the gaps filled from another of
    # the tenant's languages (``{fi: sv}``): declared, never implied (see languages.py).
    language_fallbacks: dict[LocaleId, LocaleId] | None = Field(
        default=None, exclude_if=lambda v: v is None
    )

    @field_validator("locales")
    @classmethod
    def _unique_locales(cls, value: list[str]) -> list[str]:
        return no_duplicates(value)

    @cached_property
    def region_index(self) -> dict[str, RegionNode]:
        """Every region by code with its level and path (the tree must be valid)."""
        parents = {r.code: r.parent for r in self.regions.items}
        index: dict[str, RegionNode] = {}
        for start in parents:
            chain: list[str] = []
            code: str | None = start
            while code is not None and code not in index:
                if code in chain or code not in parents:
                    raise ValueError(f"region tree is not a tree at {code!r}")
                chain.append(code)
                code = parents[code]
            for member in reversed(chain):
                parent = parents[member]
                up = index[parent] if parent is not None else None
                index[member] = RegionNode(
                    member,
                    parent,
                    up.level + 1 if up else 1,
                    f"{up.path if up else '/'}{member}/",
                )
        return index

    @cached_property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The tenant's time zone."""
        return zoneinfo.ZoneInfo(self.timezone)

    def local_today(self, now: dt.datetime | None = None) -> dt.date:
        """The tenant's date at ``now`` (an aware time; default: now). Days people live by
        (a birth, a session, a lot's expiry) are the tenant's, not UTC's: at 02:00 UTC it
        is already tomorrow in Kolkata and still yesterday in Toronto."""
        return (now or clock.utcnow()).astimezone(self.zone).date()

    @property
    def fallbacks(self) -> dict[str, str]:
        """``language_fallbacks`` (empty when none is declared)."""
        return dict(self.language_fallbacks or {})

    @property
    def birth_precision(self) -> str:
        """``date`` (the exact birth date is required) or ``year`` (only the year is)."""
        return self.registration.birth if self.registration is not None else "date"

    @cached_property
    def region_leaves(self) -> frozenset[str]:
        """The regions with no region below them (the most precise places)."""
        parents = {r.parent for r in self.regions.items}
        return frozenset(r.code for r in self.regions.items if r.code not in parents)

    @cached_property
    def products(self) -> dict[str, VaccineProduct]:
        """The vaccine catalogue by product id."""
        return {p.id: p for p in self.vaccines}

    @cached_property
    def id_types_by_code(self) -> dict[str, IdDocumentType]:
        """The ID document types by code."""
        return {t.code: t for t in self.id_types}
