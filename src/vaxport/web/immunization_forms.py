"""What the dose and adverse event pages share: times on the tenant's clock, the coded
choices (sites, routes, symptoms, criteria, outcomes), the adverse event form read from a
submission, and problems mapped to the inputs that caused them.

Times are typed as the tenant's wall clock (``<input type="datetime-local">``) and sent
to the use cases with the tenant's time zone, so a vaccinator never converts to UTC.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from vaxport.core.errors import Problem, ValidationFailed, from_validation, invalid
from vaxport.core.i18n import N_
from vaxport.immunization.service import AefiIn, SeriesOut
from vaxport.tenancy.service import TenantInfo
from vaxport.web.problems import FormError, field_errors
from vaxport.web.staff_common import errors_of, text_in

MAX_VALUE = 500
MAX_TEXT = 4000
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
BAD_TIME = N_("is not a date and time: use the picker, or write 2026-05-01T14:30")
AEFI_FIELDS = ("dose_id", "onset_at", "outcome", "narrative")
# The WHO seriousness criteria and the outcomes, in the order the form lists them (the
# words are in ``staff/dose_names.html``).
CRITERIA = (
    "death",
    "life-threatening",
    "hospitalisation",
    "disability",
    "congenital-anomaly",
    "medically-important",
)
OUTCOMES = ("recovering", "recovered", "recovered-with-sequelae", "not-recovered", "fatal")
SITES = ("left-arm", "right-arm", "left-thigh", "right-thigh", "mouth", "nose", "other")
ROUTES = ("IM", "SC", "ID", "PO", "IN")


@dataclass(frozen=True, slots=True)
class Choice:
    """One checkbox or option: the value it submits and the words it shows."""

    value: str
    label: str


@dataclass(frozen=True, slots=True)
class SeriesView:
    """Where a person stands for one disease, as the record pages show it."""

    series: str
    vaccines: str
    doses_given: int
    complete: bool
    next_dose_number: int | None
    next_earliest: dt.date | None
    next_latest: dt.date | None
    overdue: bool


def zone(tenant: TenantInfo) -> zoneinfo.ZoneInfo:
    """The tenant's time zone."""
    return zoneinfo.ZoneInfo(tenant.config.timezone)


def local_input(tenant: TenantInfo, at: dt.datetime) -> str:
    """An instant as a ``datetime-local`` value on the tenant's clock."""
    return at.astimezone(zone(tenant)).strftime(LOCAL_FORMAT)


def local_text(tenant: TenantInfo, at: dt.datetime) -> str:
    """An instant as the tenant's wall clock, to read (``2026-05-01 14:30``)."""
    return at.astimezone(zone(tenant)).strftime("%Y-%m-%d %H:%M")


def parse_local(tenant: TenantInfo, field: str, value: str) -> dt.datetime:
    """A ``datetime-local`` value typed on the tenant's clock, as an aware instant (422)."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise invalid(field, BAD_TIME, code="bad-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(tenant))
    return parsed


def product_names(tenant: TenantInfo) -> dict[str, str]:
    """Every product's name, by id (withdrawn ones too: old doses name them)."""
    return {p.id: p.name for p in tenant.config.vaccines}


def active_products(tenant: TenantInfo) -> list[tuple[str, str]]:
    """The products still given, as ``(id, name)`` choices."""
    return [(p.id, p.name) for p in tenant.config.vaccines if p.active]


def series_views(tenant: TenantInfo, series: Sequence[SeriesOut]) -> list[SeriesView]:
    """The history's series, each named with the vaccines against its disease."""
    by_disease: dict[str, list[str]] = {}
    for product in tenant.config.vaccines:
        if product.active:
            by_disease.setdefault(product.disease, []).append(product.name)
    return [
        SeriesView(
            series=s.series,
            vaccines=", ".join(by_disease.get(s.series, [])),
            doses_given=s.doses_given,
            complete=s.complete,
            next_dose_number=s.next_dose_number,
            next_earliest=s.next_earliest,
            next_latest=s.next_latest,
            overdue=s.overdue,
        )
        for s in series
    ]


def symptom_choices(tenant: TenantInfo, locale: str) -> list[Choice]:
    """The tenant's coded symptoms, named in the page's language."""
    section = tenant.config.immunization
    if section is None or section.aefi is None:
        return []
    default = tenant.config.default_locale
    return [Choice(s.code, text_in(s.name, locale, default)) for s in section.aefi.symptoms]


async def read_aefi(request: Request) -> dict[str, Any]:
    """The adverse event form as submitted (values trimmed and bounded)."""
    submitted = await request.form()
    form: dict[str, Any] = {}
    for name in AEFI_FIELDS:
        value = submitted.get(name)
        limit = MAX_TEXT if name == "narrative" else MAX_VALUE
        form[name] = value.strip()[:limit] if isinstance(value, str) else ""
    for name in ("symptoms", "criteria"):
        values = [v.strip()[:64] for v in submitted.getlist(name) if isinstance(v, str)]
        form[name] = values[:50]
    return form


def aefi_in(tenant: TenantInfo, form: Mapping[str, Any], *, dose_id: str | None) -> AefiIn:
    """The use case's request from the form: serious exactly when a criterion is ticked."""
    onset = form.get("onset_at") or ""
    if not onset:
        raise invalid("onset_at", N_("is required: fill it in"), code="missing")
    criteria = list(form.get("criteria") or [])
    body: dict[str, Any] = {
        "symptoms": list(form.get("symptoms") or []),
        "onset_at": parse_local(tenant, "onset_at", onset),
        "serious": bool(criteria),
        "criteria": criteria,
        "outcome": form.get("outcome") or "unknown",
        "narrative": form.get("narrative") or None,
    }
    if dose_id:
        body["dose_id"] = dose_id
    return AefiIn.model_validate(body)


def _input_of(path: str, inputs: Mapping[str, str]) -> str:
    """The input a field path points at: ``symptoms[2]``/``symptoms.2`` is the fieldset."""
    if path in inputs:
        return inputs[path]
    head = path.split("[", 1)[0].split(".", 1)[0]
    return inputs.get(head, head)


def problems(
    exc: Problem | ValidationError, inputs: Mapping[str, str] | None = None
) -> list[FormError]:
    """A refusal as the error summary's entries, each linked to the input at fault."""
    if isinstance(exc, ValidationError):
        exc = ValidationFailed(N_("the form has problems"), errors=from_validation(exc.errors()))
    if not exc.errors:
        return errors_of(exc)
    mapping = {e["field"]: _input_of(e["field"], inputs or {}) for e in exc.errors}
    return field_errors(exc, inputs=mapping)


def fields_of(errors: Iterable[FormError]) -> set[str]:
    """The inputs the errors are about."""
    return {e.field for e in errors if e.field}
