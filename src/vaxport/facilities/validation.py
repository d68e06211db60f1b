"""Checks that need the tenant: languages, regions, vaccine catalogue, phone numbering.

Input has already passed the request models (``schemas.py``); here each field becomes the
column values it is stored as, or a ``{field, reason}`` error. Every problem is reported,
not only the first, so an import's error report lists them all at once.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from vaxport.core.contacts import normalise_email, normalise_phone
from vaxport.core.errors import ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.facilities.geo import unit_vector
from vaxport.facilities.hours import OpeningHours
from vaxport.facilities.schemas import Location
from vaxport.tenancy.service import TenantInfo, canonical_locale

Errors = list[dict[str, str]]


def _texts(
    tenant: TenantInfo, field: str, value: str | dict[str, str], errors: Errors
) -> dict[str, str]:
    config = tenant.config
    if isinstance(value, str):
        return {config.default_locale: value}
    out: dict[str, str] = {}
    for key, text in value.items():
        try:
            locale = canonical_locale(key)
        except ValueError:
            errors.append(field_error(f"{field}.{key}", N_("is not a language code")))
            continue
        if locale not in config.locales:
            errors.append(field_error(f"{field}.{key}", N_("is not one of the tenant's languages")))
            continue
        out[locale] = text
    if config.default_locale not in out and not any(e["field"].startswith(field) for e in errors):
        errors.append(
            field_error(
                field,
                N_("needs a text in the default language ({language})"),
                language=config.default_locale,
            )
        )
    return out


def _contact(tenant: TenantInfo, field: str, value: str, errors: Errors) -> str | None:
    """The phone (E.164) or e-mail (lower case) by core's one contact rule."""
    try:
        if field == "phone":
            return normalise_phone(value, region=tenant.config.phone.default_region)
        return normalise_email(value)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        return None


def _vaccines(tenant: TenantInfo, value: list[str], errors: Errors) -> list[str]:
    products = tenant.config.products
    for i, product_id in enumerate(value):
        product = products.get(product_id)
        if product is None:
            errors.append(
                field_error(
                    f"vaccines.{i}", N_("unknown vaccine product ({product})"), product=product_id
                )
            )
        elif not product.active:
            reason = N_("is withdrawn from the vaccine catalogue ({product})")
            errors.append(field_error(f"vaccines.{i}", reason, product=product_id))
    return sorted(value)


def fold(text: str) -> str:
    """Lower case without accents: what the text filter compares."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search_text(code: str, names: dict[str, str]) -> str:
    """The folded code and names of a facility, as the text filter searches them."""
    return fold(" ".join([code, *names.values()]))[:2000]


def postal_key(postal_code: str | None) -> str | None:
    """A postal code without spaces or dashes, for matching however it was typed."""
    if postal_code is None:
        return None
    return "".join(c for c in postal_code.upper() if c.isalnum())


def location_columns(location: Location | None) -> dict[str, float | None]:
    """Latitude, longitude and their unit vector (all None without a location)."""
    if location is None:
        return {"latitude": None, "longitude": None, "ux": None, "uy": None, "uz": None}
    ux, uy, uz = unit_vector(location.lat, location.lon)
    return {"latitude": location.lat, "longitude": location.lon, "ux": ux, "uy": uy, "uz": uz}


def columns(tenant: TenantInfo, values: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    """The stored column values of the given (request-model) fields, and every problem.

    Only the fields present in ``values`` are checked and returned, so an update that
    does not touch, say, the vaccines is not refused over a product withdrawn since.
    """
    errors: Errors = []
    out: dict[str, Any] = {}
    for field, value in values.items():
        if field == "name":
            out["name"] = _texts(tenant, "name", value, errors)
        elif field == "accessibility":
            out["accessibility"] = (
                None if value is None else _texts(tenant, "accessibility", value, errors)
            )
        elif field == "region_code":
            if value not in tenant.config.region_index:
                errors.append(field_error("region_code", N_("unknown region")))
            out["region_code"] = value
        elif field == "vaccines":
            out["vaccines"] = _vaccines(tenant, value, errors)
        elif field in ("phone", "email"):
            out[field] = None if value is None else _contact(tenant, field, value, errors)
        elif field == "location":
            out.update(location_columns(value))
        elif field == "postal_code":
            out["postal_code"] = value
            out["postal_key"] = postal_key(value)
        elif field == "opening_hours":
            hours = value if isinstance(value, OpeningHours) else OpeningHours()
            out["opening_hours"] = hours.model_dump(mode="json")
        elif field in ("type", "address", "daily_capacity", "stations"):
            out[field] = value
    return out, errors
