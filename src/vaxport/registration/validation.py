"""Validating and normalising one person against the tenant's configuration.

Pure functions (no database, no clock unless ``today`` is omitted): the API, walk-ins,
corrections and bulk import all call :func:`validate_member`, so a person is checked the
same way whichever door they come in by. Every problem is collected and raised together as
one :class:`ValidationFailed` with field paths in the request models' notation
(``documents.0.number``), prefixed by ``prefix`` when the member sits inside a larger
document. Reasons never repeat the value: it is personal data and may reach logs.

Decisions:

- **Regions**: a person's region must be a *leaf* of the tenant's region tree (the most
  precise place), so staff of every level below the top reach the people of their area.
- **Birth**: tenants with ``registration.birth: date`` (the default) require
  ``birth_date``; ``year`` tenants require ``birth_year`` and accept a date too. When both
  are given they must agree. A birth date may not lie in the future nor more than
  :data:`MAX_AGE_YEARS` back.
- **ID age limits** (``min_age``/``max_age`` of an ID type) are checked against the birth
  date; with a birth year only, a document is refused only when *no* day of that year fits.
- **Declared attributes** (risk groups, occupations) are codes of the tenant's
  ``eligibility`` lists; duplicates are folded and the sets kept in the tenant's order
  (``declared.py``).
- **Phones and e-mails** follow core's one contact rule (:mod:`vaxport.core.contacts`:
  E.164 read in the tenant's phone region, addresses trimmed and lower-cased); **names**
  NFC-normalised with inner whitespace collapsed.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from vaxport.core.contacts import normalise_email, normalise_phone
from vaxport.core.errors import ONE_OF, ValidationFailed, field_error
from vaxport.core.i18n import N_, Age
from vaxport.registration.declared import check_declared
from vaxport.registration.models import SEXES
from vaxport.registration.schemas import MemberIn, MemberUpdate
from vaxport.tenancy.service import (
    MAX_ID_LENGTH,
    IdDocumentType,
    TenantConfig,
    canonical_locale,
    check_id_number,
    date_age_reached,
)

__all__ = [
    "GUARDIAN_RELATIONS",
    "MAX_AGE_YEARS",
    "Errors",
    "NormalisedDocument",
    "NormalisedMember",
    "fold",
    "match_key",
    "raise_if",
    "validate_member",
    "validate_update",
]

MAX_AGE_YEARS = 130
GUARDIAN_RELATIONS = ("parent", "guardian", "other")

Errors = list[dict[str, str]]

# Reasons people read (translated where shown; see web/problems.py).
_TOO_YOUNG = N_("is only issued from the age of {age}: choose another ID document")
_TOO_OLD = N_("is only accepted up to the age of {age}: choose another ID document")
_UNKNOWN_ID_TYPE = N_("is not a known ID document: choose one from the list")
_NOT_ACCEPTED = N_("is not accepted for registration: choose another ID document")
_TWICE = N_("is given more than once: give each ID document once")
_NOT_LEAF = N_("must be the most precise region level: choose a place within it")
_NOT_OFFERED = N_("is not one of the languages offered: choose one from the list")


@dataclass(frozen=True, slots=True)
class NormalisedDocument:
    """An ID document as stored: a known, accepted type and the normalised number."""

    id_type: str
    number: str


@dataclass(frozen=True, slots=True)
class NormalisedMember:
    """A person ready to store: every value checked and in its stored form."""

    given_name: str
    family_name: str | None
    sex: str
    birth_date: dt.date | None
    birth_year: int
    documents: tuple[NormalisedDocument, ...]
    phone: str | None
    email: str | None
    region_code: str
    preferred_locale: str | None
    guardian_relation: str | None
    risk_groups: tuple[str, ...] = ()
    occupations: tuple[str, ...] = ()

    @property
    def match(self) -> str:
        """The possible-duplicate key: folded ``family|given|birth``."""
        return match_key(self.family_name, self.given_name, self.birth_date, self.birth_year)


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: how names compare for duplicates."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def match_key(
    family_name: str | None, given_name: str, birth_date: dt.date | None, birth_year: int
) -> str:
    """``family|given|birth`` folded; the birth part is the date, else the year."""
    birth = birth_date.isoformat() if birth_date is not None else str(birth_year)
    return f"{fold(family_name or '')}|{fold(given_name)}|{birth}"


def raise_if(errors: Errors, detail: str = "the person's details are not valid") -> None:
    """Raise one ValidationFailed carrying every error, if there are any."""
    if errors:
        summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        raise ValidationFailed(f"{detail} ({summary})", errors=errors)


def _name(value: str, field: str, errors: Errors) -> str:
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        errors.append(field_error(field, N_("must not be empty: fill it in")))
    elif any(unicodedata.category(c).startswith("C") for c in text):
        errors.append(field_error(field, N_("contains control characters: type it again")))
    return text


def _birth(
    config: TenantConfig, member: MemberIn, today: dt.date, *, p: str, errors: Errors
) -> tuple[dt.date | None, int | None]:
    """``(birth_date, birth_year)``; ``(None, None)`` after reporting a problem."""
    birth_date, birth_year = member.birth_date, member.birth_year
    oldest = today.year - MAX_AGE_YEARS
    field, reason = f"{p}birth_date", None
    if birth_date is not None:
        if birth_date > today:
            reason = N_("is in the future: check the date")
        elif birth_date.year < oldest:
            reason = N_("is more than {age} ago: check the year")
        elif birth_year is not None and birth_year != birth_date.year:
            field, reason = f"{p}birth_year", N_("does not match the date of birth")
        else:
            return birth_date, birth_date.year
    elif config.birth_precision == "date":
        reason = N_("is required")
    else:
        field = f"{p}birth_year"
        if birth_year is None:
            reason = N_("is required (or give the date of birth)")
        elif birth_year > today.year:
            reason = N_("is in the future: check the year")
        elif birth_year < oldest:
            reason = N_("is more than {age} ago: check the year")
        else:
            return None, birth_year
    errors.append(field_error(field, reason, age=Age(f"{MAX_AGE_YEARS}y")))
    return None, None


def _age_fits(
    kind: IdDocumentType, birth_date: dt.date | None, birth_year: int, today: dt.date
) -> tuple[str, str] | None:
    """Why the person's age does not fit the ID type's limits, or None when it does."""
    # With a year only, the person is oldest if born on 1 January, youngest on 31 December.
    oldest_birth = birth_date or dt.date(birth_year, 1, 1)
    youngest_birth = birth_date or dt.date(birth_year, 12, 31)
    if kind.min_age and date_age_reached(oldest_birth, kind.min_age) > today:
        return _TOO_YOUNG, kind.min_age
    if kind.max_age:
        # max_age 17y: accepted up to the day before the 18th birthday.
        n, unit = int(kind.max_age[:-1]), kind.max_age[-1]
        if date_age_reached(youngest_birth, f"{n + 1}{unit}") <= today:
            return _TOO_OLD, kind.max_age
    return None


def _documents(
    config: TenantConfig,
    member: MemberIn,
    birth: tuple[dt.date | None, int | None],
    *,
    today: dt.date,
    p: str,
    errors: Errors,
) -> tuple[NormalisedDocument, ...]:
    out: list[NormalisedDocument] = []
    seen: set[str] = set()
    for i, doc in enumerate(member.documents):
        at = f"{p}documents.{i}"
        kind = config.id_types_by_code.get(doc.id_type)
        if kind is None:
            errors.append(field_error(f"{at}.id_type", _UNKNOWN_ID_TYPE))
            continue
        if not kind.accepted_for_registration:
            errors.append(
                field_error(
                    f"{at}.id_type",
                    _NOT_ACCEPTED,
                )
            )
            continue
        if doc.id_type in seen:
            errors.append(field_error(f"{at}.id_type", _TWICE))
            continue
        seen.add(doc.id_type)
        number, reason = check_id_number(kind, doc.number)
        if reason is not None:
            errors.append(field_error(f"{at}.number", reason, max_length=MAX_ID_LENGTH))
            continue
        birth_date, birth_year = birth
        if birth_year is not None:
            why = _age_fits(kind, birth_date, birth_year, today)
            if why is not None:
                errors.append(field_error(f"{at}.id_type", why[0], age=Age(why[1])))
                continue
        out.append(NormalisedDocument(doc.id_type, number))
    return tuple(out)


def _place(config: TenantConfig, values: dict[str, Any], p: str, errors: Errors) -> dict[str, Any]:
    """Sex, region, language and guardian relation (only those present in ``values``)."""
    out: dict[str, Any] = {}
    if "sex" in values:
        if values["sex"] not in SEXES:
            errors.append(field_error(f"{p}sex", ONE_OF, choices=", ".join(SEXES)))
        out["sex"] = values["sex"]
    if "region_code" in values:
        code = values["region_code"]
        if code not in config.region_index:
            errors.append(field_error(f"{p}region_code", N_("unknown region")))
        elif code not in config.region_leaves:
            errors.append(
                field_error(
                    f"{p}region_code",
                    _NOT_LEAF,
                )
            )
        out["region_code"] = code
    if "preferred_locale" in values:
        out["preferred_locale"] = _locale(config, values["preferred_locale"], p, errors)
    if "guardian_relation" in values:
        relation = values["guardian_relation"]
        if relation is not None and relation not in GUARDIAN_RELATIONS:
            choices = ", ".join(GUARDIAN_RELATIONS)
            errors.append(field_error(f"{p}guardian_relation", ONE_OF, choices=choices))
        out["guardian_relation"] = relation
    return out


def _locale(config: TenantConfig, value: str | None, p: str, errors: Errors) -> str | None:
    if value is None:
        return None
    try:
        locale: str | None = canonical_locale(value)
    except ValueError:
        locale = None
    if locale not in config.locales:
        errors.append(
            field_error(
                f"{p}preferred_locale",
                _NOT_OFFERED,
            )
        )
    return locale


def _contact(
    config: TenantConfig, values: dict[str, Any], p: str, errors: Errors
) -> dict[str, Any]:
    """Phone (E.164) and e-mail (lower case), only those present in ``values``."""
    out: dict[str, Any] = {}
    region = config.phone.default_region
    for field in ("phone", "email"):
        if field not in values:
            continue
        value, out[field] = values[field], None
        if value is None:
            continue
        try:
            if field == "phone":
                out[field] = normalise_phone(value, region=region, field=f"{p}{field}")
            else:
                out[field] = normalise_email(value, field=f"{p}{field}")
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    return out


def _common(config: TenantConfig, values: dict[str, Any], p: str, errors: Errors) -> dict[str, Any]:
    """Check the fields a create and an update share (only those present in ``values``)."""
    return (
        _place(config, values, p, errors)
        | _contact(config, values, p, errors)
        | check_declared(config, values, p, errors)
    )


def validate_member(
    member: MemberIn, *, config: TenantConfig, today: dt.date | None = None, prefix: str = ""
) -> NormalisedMember:
    """The person in stored form, or ValidationFailed listing every field's problem."""
    today = today or config.local_today()
    errors: Errors = []
    given = _name(member.given_name, f"{prefix}given_name", errors)
    family = (
        None
        if member.family_name is None
        else _name(member.family_name, f"{prefix}family_name", errors)
    )
    birth = _birth(config, member, today, p=prefix, errors=errors)
    documents = _documents(config, member, birth, today=today, p=prefix, errors=errors)
    common = _common(config, member.model_dump(exclude={"documents"}), prefix, errors)
    raise_if(errors)
    birth_date, birth_year = birth
    assert birth_year is not None  # no error means the birth was resolved
    return NormalisedMember(
        given_name=given,
        family_name=family or None,
        sex=common["sex"],
        birth_date=birth_date,
        birth_year=birth_year,
        documents=documents,
        phone=common["phone"],
        email=common["email"],
        region_code=common["region_code"],
        preferred_locale=common.get("preferred_locale"),
        guardian_relation=common["guardian_relation"],
        risk_groups=common["risk_groups"],
        occupations=common["occupations"],
    )


def validate_update(
    update: MemberUpdate, *, config: TenantConfig, prefix: str = ""
) -> dict[str, Any]:
    """The changed fields of a PATCH in stored form (only those sent), or ValidationFailed.

    ``sex`` and ``region_code`` cannot be cleared: sending ``null`` for them is an error.
    """
    values = update.model_dump(exclude_unset=True, exclude={"contact_code"})
    errors: Errors = []
    for required in ("sex", "region_code"):
        if required in values and values[required] is None:
            errors.append(field_error(f"{prefix}{required}", N_("cannot be removed")))
            values.pop(required)
    out = _common(config, values, prefix, errors)
    raise_if(errors)
    return out
