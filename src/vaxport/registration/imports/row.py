"""One row of a beneficiary import: its cells, turned into a checked person or errors.

Columns (header names are case-insensitive, in any order):

=================  ========  ==========================================================
column             required  value
=================  ========  ==========================================================
given_name         yes       the given name(s)
family_name                  the family name
sex                yes       female, male, other or unknown
birth_date         (a)       YYYY-MM-DD (a date cell in a workbook)
birth_year         (a)       YYYY; enough where the tenant registers years only
id_type            yes       a code of the tenant's ``id_types`` (``national-id``...)
id_number          yes       the document's number (spaces and dashes are fine)
phone                        national or international (+...) format
email                        an e-mail address
region_code        yes       the most precise region level of the tenant's tree
preferred_locale             one of the tenant's languages (``en``, ``fr``...)
guardian_relation            parent, guardian or other (for a minor)
risk_groups                  codes of the tenant's ``eligibility.risk_groups``, separated
                             by ``;`` (``immunocompromised;pregnancy``)
occupations                  codes of the tenant's ``eligibility.occupations``, the same way
=================  ========  ==========================================================

(a) ``birth_date`` is a required column unless the tenant's ``registration.birth`` is
``year``; then ``birth_date`` or ``birth_year`` must be present.

A row is checked exactly like a registration through the API (``validation.py``); the
error fields are these column names, and reasons never repeat a cell's value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from vaxport.core.errors import ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.core.imports.engine import cells_of, check_columns
from vaxport.registration.schemas import MemberIn
from vaxport.registration.validation import Errors, NormalisedMember, validate_member
from vaxport.tenancy.service import TenantInfo, is_in_subtree

COLUMNS = (
    "given_name",
    "family_name",
    "sex",
    "birth_date",
    "birth_year",
    "id_type",
    "id_number",
    "phone",
    "email",
    "region_code",
    "preferred_locale",
    "guardian_relation",
    "risk_groups",
    "occupations",
)
# Columns holding a list of codes (tenant codes have no ";", "," or spaces).
LISTS = ("risk_groups", "occupations")
REQUIRED = ("given_name", "sex", "id_type", "id_number", "region_code")
_ORDER = {name: i for i, name in enumerate(COLUMNS)}
# Field paths of MemberIn / validate_member, as import columns.
_FIELDS = {"documents.0.id_type": "id_type", "documents.0.number": "id_number"}


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A valid row: its number in the file and the person in stored form."""

    row: int
    member: NormalisedMember

    @property
    def document(self) -> tuple[str, str]:
        """The row's ID document: ``(id_type, normalised number)``."""
        doc = self.member.documents[0]
        return doc.id_type, doc.number


def check_header(header: list[str], tenant: TenantInfo) -> tuple[list[str], Errors]:
    """The normalised column names, and every problem with them (unknown, repeated, missing)."""
    names, errors = check_columns(header, lambda name: name if name in _ORDER else None, REQUIRED)
    if tenant.config.birth_precision == "date":
        if "birth_date" not in names:
            errors.append(field_error("birth_date", N_("is a required column")))
    elif "birth_date" not in names and "birth_year" not in names:
        errors.append(field_error("birth_date", N_("is a required column (or birth_year)")))
    return names, errors


def _column(loc: str) -> str:
    return _FIELDS.get(loc, loc.split(".", maxsplit=1)[0] if loc else "row")


def _in_column_order(errors: Errors) -> Errors:
    unique: dict[tuple[str, str], dict[str, str]] = {}
    for e in errors:
        unique.setdefault((e["field"], e["reason"]), e)
    return sorted(unique.values(), key=lambda e: _ORDER.get(e["field"], len(_ORDER)))


def _member_input(cells: dict[str, str]) -> dict[str, object]:
    data: dict[str, object] = {
        name: cells.get(name) or None
        for name in COLUMNS
        if name not in {"id_type", "id_number", "sex", *LISTS}
    }
    for name in LISTS:
        data[name] = [c for c in re.split(r"[;,\s]+", cells.get(name) or "") if c]
    data["sex"] = cells.get("sex", "").lower()
    data["documents"] = [
        {"id_type": cells.get("id_type", ""), "number": cells.get("id_number", "")}
    ]
    return data


def parse_row(
    number: int,
    header: list[str],
    record: list[str],
    tenant: TenantInfo,
    within_region: str | None,
) -> ImportRow | Errors:
    """The row's person, or every problem found in it (fields are column names)."""
    cells = cells_of(header, record)
    if isinstance(cells, list):
        return cells
    try:
        member = MemberIn.model_validate(_member_input(cells))
    except ValidationError as exc:
        return _in_column_order(
            [
                field_error(_column(".".join(str(p) for p in e["loc"])), e["msg"])
                for e in exc.errors(include_input=False, include_url=False)
            ]
        )
    try:
        person = validate_member(member, config=tenant.config)
    except ValidationFailed as exc:
        return _in_column_order([field_error(_column(e["field"]), e["reason"]) for e in exc.errors])
    if within_region is not None and not is_in_subtree(
        tenant=tenant, region_code=person.region_code, ancestor_code=within_region
    ):
        return [
            field_error(
                "region_code", N_("is outside your region ({region})"), region=within_region
            )
        ]
    return ImportRow(row=number, member=person)
