"""What the tenancy context hands to others: tenant summaries and info, regions, load
results, history, and the allow-listed public view of a configuration."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from vaxport.core.schemas import ResponseModel
from vaxport.tenancy.config import TenantConfig


class TenantSummary(ResponseModel):
    """A tenant as the landing page lists it."""

    code: str
    name: str
    names: dict[str, str]
    default_locale: str
    locales: list[str]


@dataclass(frozen=True, slots=True)
class TenantInfo:
    """A tenant and its validated configuration (what every request in a tenant needs)."""

    id: uuid.UUID
    code: str
    name: str
    config: TenantConfig
    version: int
    hash: str


class RegionInfo(ResponseModel):
    """A region as stored (``active`` is False once it was dropped from the file)."""

    code: str
    parent_code: str | None
    level: int
    name: dict[str, str]
    path: str
    population: dict[str, int]
    active: bool


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a configuration load did."""

    code: str
    status: Literal["created", "updated", "unchanged"]
    version: int
    hash: str
    regions_added: int = 0
    regions_updated: int = 0
    regions_deactivated: int = 0


class ConfigVersionInfo(ResponseModel):
    """One entry of a tenant's configuration history."""

    version: int
    config_hash: str
    source: str
    loaded_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PublicConfigDocument:
    """The public configuration, serialised once per version, with its entity tag."""

    etag: str
    body: bytes


# The public view is an allow-list: only fields declared below leave the server. Channel
# options, secret names, retention and populations are absent on purpose.


class PublicPhone(ResponseModel):
    country_code: int
    default_region: str


class PublicRegion(ResponseModel):
    code: str
    name: str | dict[str, str]
    parent: str | None


class PublicRegionTree(ResponseModel):
    levels: list[str | dict[str, str]]
    items: list[PublicRegion]


class PublicIdType(ResponseModel):
    code: str
    label: str | dict[str, str]
    regex: str
    checksum: str
    normalise: list[str]
    accepted_for_registration: bool
    min_age: str | None
    max_age: str | None


class PublicDoseInterval(ResponseModel):
    min_days: int
    max_days: int | None


class PublicBooster(ResponseModel):
    min_days_after_previous: int
    max_boosters: int


class PublicVaccine(ResponseModel):
    id: str
    name: str
    manufacturer: str
    disease: str
    doses_in_primary_series: int
    dose_intervals: list[PublicDoseInterval]
    booster: PublicBooster | None
    min_age: str | None
    max_age: str | None
    may_follow: list[str]
    active: bool


class PublicFamily(ResponseModel):
    max_beneficiaries_per_account: int


class PublicBooking(ResponseModel):
    days_ahead: int
    cancel_cutoff_hours: int
    slot_minutes: int


class PublicCertificates(ResponseModel):
    formats: list[str]


class PublicRecovery(ResponseModel):
    methods: list[str]


class PublicConfig(ResponseModel):
    """``GET /api/v1/{tenant}/config``: what a client app needs to render forms.

    A function of the configuration alone (no version number), so the configuration hash
    is an exact entity tag even when an operator reverts to an earlier file.
    """

    code: str
    name: str | dict[str, str]
    locales: list[str]
    default_locale: str
    timezone: str
    phone: PublicPhone
    regions: PublicRegionTree
    id_types: list[PublicIdType]
    vaccines: list[PublicVaccine]
    family: PublicFamily
    booking: PublicBooking
    certificates: PublicCertificates
    recovery: PublicRecovery
