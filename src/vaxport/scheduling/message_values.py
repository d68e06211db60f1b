"""What an appointment message shows, written in the message's language.

Dates and times are the tenant's local ones, formatted the way the language writes them
(CLDR, through Babel: ``mardi 4 juin 2030``, ``10:00``); the centre's name is taken in
that language when the facility has it. Values are formatted when the message is queued,
in the language :func:`vaxport.notifications.service.message_locale` chose for it, so
the text and its values agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

from vaxport.core.i18n import match as match_locale
from vaxport.tenancy.service import TenantInfo


@dataclass(frozen=True, slots=True)
class Place:
    """A centre as messages name it: its name by language, its address."""

    name: Mapping[str, str]
    address: str | None


def shown_values(
    *,
    tenant: TenantInfo,
    code: str,
    starts_at: dt.datetime,
    hold_until: dt.datetime | None,
    place: Place,
    locale: str,
    search_url: str,
    url: str,
) -> dict[str, Any]:
    """Every value an appointment message may show, in ``locale``."""
    tz = ZoneInfo(tenant.config.timezone)
    date, time = when(starts_at, tz, locale)
    data: dict[str, Any] = {
        "code": code,
        "place": name_in(place.name, locale, tenant.config.default_locale),
        "address": place.address or "",
        "date": date,
        "time": time,
        "search_url": search_url,
        "url": url,
        "hold_until": "",
    }
    if hold_until is not None:
        hold_date, hold_time = when(hold_until, tz, locale)
        # The language's way of joining a date and a time ("{1}, {0}", "{1} {0}").
        pattern = str(_babel(locale).datetime_formats["medium"]).replace("'", "")
        data["hold_until"] = pattern.format(hold_time, hold_date)
    return data


def _babel(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def when(at: dt.datetime, tz: ZoneInfo, locale: str) -> tuple[str, str]:
    """(date, time) of ``at`` in time zone ``tz``, as ``locale`` writes them."""
    loc = _babel(locale)
    local = at.astimezone(tz)
    date = format_date(local.date(), "full", locale=loc)
    time = format_time(local, "short", tzinfo=tz, locale=loc)
    # CLDR puts narrow no-break spaces in times ("10:00 AM"): outside GSM-7, one would
    # make every SMS cost two to three times as much.
    return _plain(date), _plain(time)


def _plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def name_in(names: Mapping[str, str], locale: str, default: str) -> str:
    """A name in ``locale``, else in the tenant's default language, else any."""
    for wanted in (locale, default):
        key = match_locale(wanted, list(names))
        if key is not None:
            return names[key]
    return next(iter(names.values()), "")
