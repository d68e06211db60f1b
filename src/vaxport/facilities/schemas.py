"""Request and response models of the facilities context.

Requests check shape here (types, ranges, hours); what depends on the tenant (regions,
vaccine catalogue, languages, phone numbering) is checked by ``validation.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from vaxport.core.schemas import RequestModel, ResponseModel, example
from vaxport.facilities.hours import OpeningHours

FacilityType = Literal["public", "private", "mobile", "outreach"]
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
FacilityCode = Annotated[str, StringConstraints(pattern=CODE_PATTERN, to_upper=True)]
RegionCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ProductId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
PostalCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{0,19}$", to_upper=True)
]
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text1000 = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
# A text, or one text per language (keys are checked against the tenant's languages).
Names = Text200 | Annotated[dict[str, Text200], Field(min_length=1, max_length=20)]
Notes = Text1000 | Annotated[dict[str, Text1000], Field(min_length=1, max_length=20)]

MAX_VACCINES = 50


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("facility", message)


def _to_centimetres(value: float) -> float:
    # Seven decimals of a degree is about a centimetre: more is noise, and rounding keeps
    # the distance arithmetic clear of float underflow (which PostgreSQL reports as an
    # error) whatever tiny numbers a client sends.
    return round(value, 7) + 0.0  # + 0.0: no negative zero


Latitude = Annotated[
    float, Field(ge=-90, le=90, allow_inf_nan=False), AfterValidator(_to_centimetres)
]
Longitude = Annotated[
    float, Field(ge=-180, le=180, allow_inf_nan=False), AfterValidator(_to_centimetres)
]


class Location(RequestModel):
    """A point in WGS 84 degrees (kept to seven decimals, about a centimetre)."""

    lat: Latitude
    lon: Longitude


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise _error(f"{value} is listed more than once")
        seen.add(value)
    return values


Vaccines = Annotated[list[ProductId], Field(max_length=MAX_VACCINES), AfterValidator(_unique)]


class FacilityFields(RequestModel):
    """Fields a facility is created with and may later change."""

    name: Names
    type: FacilityType
    region_code: RegionCode
    address: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    postal_code: PostalCode | None = None
    location: Location | None = None
    opening_hours: OpeningHours = Field(default_factory=OpeningHours)
    phone: Annotated[str, StringConstraints(min_length=3, max_length=32)] | None = None
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)] | None = None
    accessibility: Notes | None = None
    vaccines: Vaccines = Field(default_factory=list)
    daily_capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    stations: int | None = Field(default=None, ge=0, le=10_000)


class FacilityCreate(FacilityFields):
    """``POST /api/v1/{tenant}/facilities``: a new facility (a code is made up if none)."""

    model_config = example(
        {
            "code": "NOR-01-01-101",
            "name": {"en": "Hillcrest Clinic", "fr": "Clinique de Hillcrest"},
            "type": "public",
            "region_code": "NOR-01-01",
            "address": "12 Hill Road, Hillcrest Town",
            "postal_code": "D1A 1Z2",
            "location": {"lat": 48.44258, "lon": -79.6646},
            "phone": "+1 613 555 0104",
            "vaccines": ["covid-mrna", "hpv"],
            "daily_capacity": 200,
            "stations": 2,
        }
    )

    code: FacilityCode | None = None


# Fields a PATCH may set to null; the others can be changed but never emptied.
CLEARABLE = frozenset(
    {
        "address",
        "postal_code",
        "location",
        "phone",
        "email",
        "accessibility",
        "daily_capacity",
        "stations",
    }
)


class FacilityUpdate(RequestModel):
    """``PATCH .../facilities/{facility_id}``: the fields to change; null clears one.

    ``version`` (optional) makes the change conditional: it fails with 409 if the facility
    changed since that version was read. The code never changes (it is printed on things).
    """

    model_config = example({"version": 3, "daily_capacity": 250, "phone": None})

    version: int | None = Field(default=None, ge=1)
    name: Names | None = None
    type: FacilityType | None = None
    region_code: RegionCode | None = None
    address: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    postal_code: PostalCode | None = None
    location: Location | None = None
    opening_hours: OpeningHours | None = None
    phone: Annotated[str, StringConstraints(min_length=3, max_length=32)] | None = None
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)] | None = None
    accessibility: Notes | None = None
    vaccines: Vaccines | None = None
    daily_capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    stations: int | None = Field(default=None, ge=0, le=10_000)

    @field_validator("name", "type", "region_code", "opening_hours", "vaccines")
    @classmethod
    def _not_cleared(cls, value: Any) -> Any:
        # Runs only for fields the request gave: an explicit null is an attempt to clear.
        if value is None:
            raise _error("cannot be removed, only changed")
        return value


class VersionedChange(RequestModel):
    """Body of deactivate / reactivate: optionally the version the change is based on."""

    model_config = example({"version": 3})

    version: int | None = Field(default=None, ge=1)


class DirectoryQuery(RequestModel):
    """Filters and paging of the public directory (unknown parameters: 422)."""

    region: RegionCode | None = None
    type: FacilityType | None = None
    vaccine: ProductId | None = None
    q: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    postal_code: PostalCode | None = None
    lat: Latitude | None = None
    lon: Longitude | None = Field(default=None, validate_default=True)
    radius_km: float | None = Field(
        default=None, gt=0, le=20_100, allow_inf_nan=False, validate_default=True
    )
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    limit: int = Field(default=20, ge=1, le=100)

    @field_validator("lon")
    @classmethod
    def _with_lat(cls, lon: float | None, info: ValidationInfo) -> float | None:
        if "lat" in info.data and (lon is None) != (info.data["lat"] is None):
            raise _error("give both lat and lon, or neither")
        return lon

    @field_validator("radius_km")
    @classmethod
    def _needs_point(cls, radius: float | None, info: ValidationInfo) -> float | None:
        if radius is not None and info.data.get("lat") is None:
            raise _error("radius_km needs lat and lon")
        return radius


class AdminListQuery(DirectoryQuery):
    """The directory's filters plus ``active`` (absent: active and deactivated)."""

    active: bool | None = None


class LocationOut(ResponseModel):
    lat: float
    lon: float


class PublicFacility(ResponseModel):
    """A facility as the public directory shows it (an allow-list)."""

    id: uuid.UUID
    code: str
    name: dict[str, str]
    type: str
    region_code: str
    address: str | None
    postal_code: str | None
    location: LocationOut | None
    opening_hours: dict[str, Any]
    phone: str | None
    email: str | None
    accessibility: dict[str, str] | None
    vaccines: list[str]
    distance_km: float | None = None


class FacilityOut(PublicFacility):
    """A facility as its administrators see it."""

    daily_capacity: int | None
    stations: int | None
    active: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deactivated_at: dt.datetime | None


class FacilityPage(ResponseModel):
    """A page of facilities; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[FacilityOut]
    next_cursor: str | None


class PublicPage(ResponseModel):
    """A page of the public directory."""

    items: list[PublicFacility]
    next_cursor: str | None


class ImportErrorOut(ResponseModel):
    row: int
    field: str
    reason: str


class ImportSummary(ResponseModel):
    """What an import did; ``errors`` holds the first problems, the CSV report all."""

    rows: int
    created: int
    updated: int
    unchanged: int
    invalid: int
    error_count: int
    complete: bool
    errors: list[ImportErrorOut]
