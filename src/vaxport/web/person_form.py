"""The person form shared by the family pages and the walk-in page: its options, reading
it from a submitted form, and problems mapped to the inputs that caused them.

The tenant's risk groups and occupations (``eligibility``) are offered as checkboxes,
only when the tenant lists some; they are the one kind of input with several values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import Response

from vaxport.core.errors import Problem, ValidationFailed, from_validation
from vaxport.core.i18n import N_
from vaxport.registration.service import DECLARED_KINDS, GUARDIAN_RELATIONS, MAX_DECLARED, SEXES
from vaxport.tenancy.service import TenantInfo
from vaxport.web.problems import FormError, field_errors
from vaxport.web.staff_common import errors_of, locale_of, page, region_labels, text_in

FIELDS = (
    "given_name",
    "family_name",
    "sex",
    "birth_date",
    "birth_year",
    "id_type",
    "number",
    "region_code",
    "phone",
    "email",
    "preferred_locale",
    "guardian_relation",
)
MAX_VALUE = 254
# Where the registration model's field paths point on the form (a declared code's error
# names its position: ``risk_groups.1`` is the risk groups' fieldset).
_INPUT = {
    "documents": "number",
    "documents.0.number": "number",
    "documents.0.id_type": "id_type",
    **{f"{kind}.{i}": kind for kind in DECLARED_KINDS for i in range(MAX_DECLARED)},
}


@dataclass(frozen=True, slots=True)
class Option:
    """One choice of a select list."""

    value: str
    label: str


def declared_kinds(tenant: TenantInfo) -> tuple[str, ...]:
    """The kinds of declared attribute the tenant lists codes of (the form's checkboxes)."""
    eligibility = tenant.config.eligibility
    if eligibility is None:
        return ()
    listed = {"risk_groups": eligibility.risk_groups, "occupations": eligibility.occupations}
    return tuple(kind for kind in DECLARED_KINDS if listed[kind])


def _declared_options(tenant: TenantInfo, locale: str) -> dict[str, list[Option]]:
    config = tenant.config
    if config.eligibility is None:
        return {"risk_group_options": [], "occupation_options": []}

    def named(items: Any) -> list[Option]:
        return [Option(a.code, text_in(a.name, locale, config.default_locale)) for a in items]

    return {
        "risk_group_options": named(config.eligibility.risk_groups),
        "occupation_options": named(config.eligibility.occupations),
    }


def options(request: Request, tenant: TenantInfo) -> dict[str, Any]:
    """What the person form offers: ID types, regions (most precise level), languages,
    the tenant's risk groups and occupations."""
    config = tenant.config
    locale = locale_of(request, tenant).locale
    labels = region_labels(tenant, locale)
    index = config.region_index
    leaves = sorted(config.region_leaves, key=lambda code: index[code].path)
    return {
        "id_types": [
            Option(t.code, text_in(t.label, locale, config.default_locale))
            for t in config.id_types
            if t.accepted_for_registration
        ],
        "region_options": [Option(c, labels.get(c, c)) for c in leaves],
        "sexes": SEXES,
        "relations": GUARDIAN_RELATIONS,
        "locales": config.locales,
        "birth_year_only": config.birth_precision == "year",
        **_declared_options(tenant, locale),
    }


def form_page(
    request: Request,
    tenant: TenantInfo,
    template: str,
    form: dict[str, Any],
    *,
    status: int = 200,
    errors: list[FormError] | None = None,
    **context: Any,
) -> Response:
    """A page with a person form: the values typed, the problems, the form's options."""
    return page(
        request,
        tenant,
        template,
        status=status,
        errors=errors,
        form=form,
        **options(request, tenant),
        **context,
    )


async def read(request: Request, names: tuple[str, ...] = FIELDS) -> dict[str, str]:
    """The submitted values of ``names`` (trimmed, cut to a sane length)."""
    form = await request.form()
    out = {}
    for name in names:
        value = form.get(name)
        out[name] = value.strip()[:MAX_VALUE] if isinstance(value, str) else ""
    return out


async def read_declared(request: Request, tenant: TenantInfo) -> dict[str, list[str]]:
    """The ticked codes of each kind the form offers (kinds it does not offer left out,
    so a change from a form without them keeps what was declared)."""
    form = await request.form()
    return {
        kind: [v.strip()[:64] for v in form.getlist(kind) if isinstance(v, str)][: MAX_DECLARED + 1]
        for kind in declared_kinds(tenant)
    }


def member_body(values: dict[str, Any]) -> dict[str, Any]:
    """The registration request body of a filled-in person form (empty fields left out)."""
    body: dict[str, Any] = {
        k: v
        for k, v in values.items()
        if v and k not in ("id_type", "number", "birth_year", "facility_id")
    }
    if values.get("birth_year"):
        body["birth_year"] = values["birth_year"]
    body["documents"] = [{"id_type": values.get("id_type", ""), "number": values.get("number", "")}]
    return body


def problems(
    request: Request, tenant: TenantInfo, exc: Problem | ValidationError
) -> list[FormError]:
    """Messages for the error summary, each linked to (and naming) the input it is about."""
    if isinstance(exc, ValidationError):
        exc = ValidationFailed(N_("the form has problems"), errors=from_validation(exc.errors()))
    if not exc.errors:
        return errors_of(exc)
    return field_errors(exc, inputs=_INPUT)
