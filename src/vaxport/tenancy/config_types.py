"""Value types of the tenant configuration: codes, locales, time zones, ages, texts.

Each type validates itself and raises a plain-language error, so a bad configuration
file reads as a list of ``path: reason`` lines an operator can act on.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import re
import zoneinfo
from typing import Annotated, Any

from babel import Locale, UnknownLocaleError
from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

# Tenant codes appear in URLs and cache keys: lower-case, no separators other than "-".
TENANT_CODE_RE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
TenantCode = Annotated[str, StringConstraints(pattern=TENANT_CODE_RE.pattern)]

# Codes of regions, products, ID types, channels. No "/" (region paths use it as the
# separator) and no whitespace.
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,127}$")]
CountryAlpha2 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("config", message)


def no_duplicates(values: list[str]) -> list[str]:
    """``values`` unchanged; a configuration error naming any listed twice."""
    seen = {v for v in values if values.count(v) > 1}
    if seen:
        raise _error(f"listed more than once: {', '.join(sorted(seen))}")
    return values


def canonical_locale(value: str) -> str:
    """Babel's identifier for a locale written as ``pt_BR`` or ``pt-BR``; raises ValueError."""
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a locale known to Babel") from exc


def _locale(value: str) -> str:
    try:
        return canonical_locale(value)
    except ValueError as exc:
        raise _error(str(exc)) from exc


LocaleId = Annotated[str, AfterValidator(_locale)]


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise _error(f"{value!r} is not an IANA time zone (e.g. Europe/Paris)") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_timezone)]


MAX_TEXT = 200


def _text(value: str) -> str:
    if not value.strip():
        raise _error("must not be empty")
    if len(value) > MAX_TEXT:
        raise _error(f"is longer than {MAX_TEXT} characters")
    return value


def _localized(value: Any, info: ValidationInfo) -> str | dict[str, str]:
    """A text, or a mapping locale -> text; checked against the tenant's locales if known."""
    if isinstance(value, str):
        return _text(value)
    if not isinstance(value, dict) or not value:
        raise _error("must be a text or a mapping of locale to text")
    context = info.context or {}
    locales: set[str] | None = context.get("locales")
    default: str | None = context.get("default_locale")
    out: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(key, str) or not isinstance(text, str):
            raise _error(f"{key!r}: each locale needs a text")
        _text(text)
        try:
            loc = canonical_locale(key)
        except ValueError as exc:
            raise _error(str(exc)) from exc
        if locales is not None and loc not in locales:
            raise _error(f"locale {key!r} is not one of the tenant's locales")
        out[loc] = text
    if default is not None and default not in out:
        raise _error(f"needs a text for the default locale {default!r}")
    return out


# A plain validator keeps pydantic's union tags ("str", "dict[str,str]") out of error paths.
LocalizedText = Annotated[str | dict[str, str], PlainValidator(_localized)]


def localized(text: str | dict[str, str], locale: str, default_locale: str) -> str:
    """The text for ``locale``, falling back to the default locale, then to any text."""
    if isinstance(text, str):
        return text
    return text.get(locale) or text.get(default_locale) or next(iter(text.values()))


def as_locale_map(text: str | dict[str, str], default_locale: str) -> dict[str, str]:
    """A localized text as a mapping (a plain text belongs to the default locale)."""
    return {default_locale: text} if isinstance(text, str) else dict(text)


_AGE_RE = re.compile(r"^(\d{1,3})\s*([dwmy])$")
_UNIT_DAYS = {"d": 1.0, "w": 7.0, "m": 30.436875, "y": 365.2425}


def _age(value: str) -> str:
    m = _AGE_RE.match(value.strip())
    if m is None:
        raise _error(
            f"{value!r} is not an age: write a number and a unit, d/w/m/y (e.g. 42d, 6m, 12y)"
        )
    return f"{int(m.group(1))}{m.group(2)}"


Age = Annotated[str, AfterValidator(_age)]


def max_age_not_below_min(max_age: str | None, info: ValidationInfo) -> str | None:
    """A ``max_age`` field validator: not below the sibling ``min_age``."""
    # A field validator (not a model one) so it runs even when a sibling field is invalid.
    min_age = info.data.get("min_age")
    if min_age and max_age and age_in_days_approx(min_age) > age_in_days_approx(max_age):
        raise _error(f"max_age ({max_age}) is below min_age ({min_age})")
    return max_age


def _day(value: Any) -> dt.date:
    # A YAML date arrives as a date, a stored (JSON) configuration as ISO text.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(value)
    raise _error(f"{str(value)!r} is not a date: write it as YYYY-MM-DD (e.g. 2021-06-01)")


# A calendar day, e.g. the day a priority group opens.
Day = Annotated[dt.date, BeforeValidator(_day)]


def age_parts(age: str) -> tuple[int, str]:
    """``"12y"`` -> ``(12, "y")``."""
    return int(age[:-1]), age[-1]


def age_in_days_approx(age: str) -> float:
    """An age in mean days, only for ordering limits written in different units."""
    n, unit = age_parts(age)
    return n * _UNIT_DAYS[unit]


def _add_months(day: dt.date, months: int) -> dt.date:
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    last = calendar.monthrange(year, month0 + 1)[1]
    # Born on the 31st: one month later is the last day of a shorter month.
    return dt.date(year, month0 + 1, min(day.day, last))


def date_age_reached(birth_date: dt.date, age: str) -> dt.date:
    """The calendar date on which someone born on ``birth_date`` reaches ``age``."""
    n, unit = age_parts(age)
    if unit == "d":
        return birth_date + dt.timedelta(days=n)
    if unit == "w":
        return birth_date + dt.timedelta(weeks=n)
    return _add_months(birth_date, n if unit == "m" else 12 * n)


def date_age_passed(birth_date: dt.date, age: str) -> dt.date:
    """The first day someone born on ``birth_date`` is older than ``age`` allows.

    ``max_age: 17y`` admits people up to the day before their 18th birthday.
    """
    n, unit = age_parts(age)
    return date_age_reached(birth_date, f"{n + 1}{unit}")
