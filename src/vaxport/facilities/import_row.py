"""One import row: its columns, turned into checked facility fields or a list of errors.

Columns (header names are case-insensitive; only ``code``, ``name``, ``type`` and
``region_code`` are required):

``code, name, name_<lang>, type, region_code, address, postal_code, latitude,
longitude, phone, email, vaccines, hours_mon .. hours_sun, exceptions, accessibility,
accessibility_<lang>, daily_capacity, stations, active``

``vaccines`` are product ids separated by ``;``; hours are ``08:00-12:00, 13:00-17:00``
(empty: closed); ``exceptions`` are ``2025-12-25 closed; 2025-12-31 08:00-12:00``;
``active`` is true/false (default true). A row states the whole facility: an empty cell
clears that field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from vaxport.core.errors import field_error
from vaxport.core.i18n import N_
from vaxport.core.imports.engine import cells_of, check_columns
from vaxport.facilities.hours import WEEKDAYS, CellError, parse_day, parse_exceptions
from vaxport.facilities.schemas import FacilityCreate, FacilityFields
from vaxport.facilities.validation import Errors, columns
from vaxport.facilities.writes import OUTSIDE_REGION
from vaxport.tenancy.service import TenantInfo, canonical_locale, is_in_subtree

REQUIRED = ("code", "name", "type", "region_code")
PLAIN = (
    "code",
    "name",
    "type",
    "region_code",
    "address",
    "postal_code",
    "latitude",
    "longitude",
    "phone",
    "email",
    "vaccines",
    *(f"hours_{d}" for d in WEEKDAYS),
    "exceptions",
    "accessibility",
    "daily_capacity",
    "stations",
    "active",
)
_LOCALIZED = ("name", "accessibility")
# Plain-typed fields whose tenant checks can run even when other fields failed.
_TENANT_CHECKED = ("name", "accessibility", "region_code", "vaccines", "phone", "email")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})


@dataclass(frozen=True, slots=True)
class RowData:
    """A valid row: the facility's code, whether it is active, and its column values."""

    row: int
    code: str
    active: bool
    cols: dict[str, Any]


def _localized_column(name: str, tenant: TenantInfo) -> str | None:
    for base in _LOCALIZED:
        if name.startswith(f"{base}_"):
            try:
                locale = canonical_locale(name[len(base) + 1 :])
            except ValueError:
                return None
            return f"{base}_{locale}" if locale in tenant.config.locales else None
    return None


def check_header(header: list[str], tenant: TenantInfo) -> tuple[list[str], Errors]:
    """The normalised column names, and every problem with them (row 1)."""
    return check_columns(
        header, lambda name: name if name in PLAIN else _localized_column(name, tenant), REQUIRED
    )


def _texts(cells: dict[str, str], base: str) -> str | dict[str, str] | None:
    main = cells.get(base, "")
    others = {k[len(base) + 1 :]: v for k, v in cells.items() if k.startswith(f"{base}_") and v}
    if not others:
        return main or None
    texts = dict(others)
    if main:
        texts[""] = main  # the default language, filled in below
    return texts


def _number(
    cells: dict[str, str], name: str, errors: Errors, *, whole: bool, bound: float | None = None
) -> Any:
    text = cells.get(name, "")
    if not text:
        return None
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        errors.append(
            field_error(name, N_("is not a whole number") if whole else "is not a number")
        )
        return None
    if bound is not None and not -bound <= value <= bound:  # also refuses nan
        errors.append(
            field_error(name, N_("must be between -{bound} and {bound}"), bound=f"{bound:g}")
        )
        return None
    return value


def _field_to_column(field: str) -> str:
    parts = field.split(".")
    head = parts[0]
    if head == "location":
        return "longitude" if parts[-1] == "lon" else "latitude"
    if head == "opening_hours":
        if len(parts) > 2 and parts[1] == "weekly":
            return f"hours_{parts[2]}"
        return "exceptions"
    if head in _LOCALIZED and len(parts) > 1:
        return f"{head}_{parts[1]}"
    return head


def _model_input(cells: dict[str, str], default_locale: str, errors: Errors) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": cells.get("code") or None,
        "type": cells.get("type", "").lower(),
        "region_code": cells.get("region_code", ""),
    }
    for base in _LOCALIZED:
        texts = _texts(cells, base)
        if isinstance(texts, dict) and "" in texts:
            texts[default_locale] = texts.pop("")
        data[base] = texts
    for name in ("address", "postal_code", "phone", "email"):
        data[name] = cells.get(name) or None
    lat = _number(cells, "latitude", errors, whole=False, bound=90)
    lon = _number(cells, "longitude", errors, whole=False, bound=180)
    if bool(cells.get("latitude")) != bool(cells.get("longitude")):
        missing = "latitude" if not cells.get("latitude") else "longitude"
        errors.append(field_error(missing, N_("give both latitude and longitude, or neither")))
    data["location"] = {"lat": lat, "lon": lon} if lat is not None and lon is not None else None
    data["vaccines"] = [v for v in re.split(r"[;,\s]+", cells.get("vaccines", "")) if v]
    weekly: dict[str, Any] = {}
    for day in WEEKDAYS:
        try:
            weekly[day] = parse_day(cells.get(f"hours_{day}", ""))
        except CellError as exc:
            errors.append(field_error(f"hours_{day}", exc.reason, cell=exc.cell))
    try:
        exceptions = parse_exceptions(cells.get("exceptions", ""))
    except CellError as exc:
        errors.append(field_error("exceptions", exc.reason, cell=exc.cell))
        exceptions = []
    data["opening_hours"] = {"weekly": weekly, "exceptions": exceptions}
    data["daily_capacity"] = _number(cells, "daily_capacity", errors, whole=True)
    data["stations"] = _number(cells, "stations", errors, whole=True)
    return data


def _active(cells: dict[str, str], errors: Errors) -> bool:
    text = cells.get("active", "").strip().lower()
    if not text or text in _TRUE:
        return True
    if text in _FALSE:
        return False
    errors.append(field_error("active", N_("must be true or false")))
    return True


def _in_column_order(errors: Errors) -> Errors:
    order = {name: i for i, name in enumerate(PLAIN)}

    def key(error: dict[str, str]) -> int:
        base = error["field"].split("_")[0] if error["field"] not in order else error["field"]
        return order.get(base, len(order))

    return sorted(errors, key=key)


def parse_row(
    number: int,
    header: list[str],
    record: list[str],
    tenant: TenantInfo,
    within_region: str | None,
) -> RowData | Errors:
    """The row's checked values, or every problem found in it (fields are column names)."""
    cells = cells_of(header, record)
    if isinstance(cells, list):
        return cells
    errors: Errors = []
    data = _model_input(cells, tenant.config.default_locale, errors)
    active = _active(cells, errors)
    try:
        model = FacilityCreate.model_validate(data)
    except ValidationError as exc:
        failed = set()
        for e in exc.errors():
            failed.add(str(e["loc"][0]) if e["loc"] else "")
            column = _field_to_column(".".join(str(p) for p in e["loc"]))
            if not any(x["field"] == column for x in errors):
                errors.append(field_error(column, e["msg"]))
        # Still check what the tenant knows about, so one pass reports every problem.
        rest = {k: data[k] for k in _TENANT_CHECKED if k not in failed and data[k] is not None}
        errors += [
            field_error(_field_to_column(p["field"]), p["reason"]) for p in columns(tenant, rest)[1]
        ]
        return _in_column_order(errors)
    if model.code is None:
        errors.append(field_error("code", N_("is required")))
    cols, problems = columns(tenant, {f: getattr(model, f) for f in FacilityFields.model_fields})
    errors += [field_error(_field_to_column(p["field"]), p["reason"]) for p in problems]
    if (
        within_region is not None
        and cols["region_code"] in tenant.config.region_index
        and not is_in_subtree(
            tenant=tenant, region_code=cols["region_code"], ancestor_code=within_region
        )
    ):
        errors.append(field_error("region_code", OUTSIDE_REGION, region=within_region))
    if errors or model.code is None:
        return _in_column_order(errors)
    return RowData(row=number, code=model.code, active=active, cols=cols)
