"""Message catalogs and locale negotiation, shared by pages and notifications.

Catalogs are the gettext ``.po`` files under ``vaxport/locales/<lang>/LC_MESSAGES/``,
compiled in memory with Babel when first needed (the web shell loads them at start-up so a
broken catalog stops the process instead of a request). No binary ``.mo`` is committed:
what translators edit is what runs.

Locale codes are BCP 47 with hyphens (``fr``, ``pt-BR``) everywhere except catalog
directory names, which follow gettext (``pt_BR``).
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.support import Translations
from babel.units import format_unit

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"  # every msgid of pages, messages and errors
SOURCE_LOCALE = "en"  # the language of the msgids themselves

# A language tag as a client may send it: letters, digits, hyphens or underscores.
_TAG = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8}){0,3}$")
# Headers longer than this are cut: negotiation must stay cheap whatever a client sends.
_MAX_ACCEPT_LANGUAGE = 512
_MAX_RANGES = 16


def normalize(tag: str) -> str | None:
    """``tag`` in canonical BCP 47 case (``pt-BR``), or ``None`` when it is not a tag."""
    tag = tag.strip()
    if not _TAG.match(tag):
        return None
    first, *rest = tag.replace("_", "-").split("-")
    parts = [first.lower()]
    for sub in rest:
        if len(sub) == 2 and sub.isalpha():
            parts.append(sub.upper())  # region
        elif len(sub) == 4 and sub.isalpha():
            parts.append(sub.title())  # script
        else:
            parts.append(sub.lower())
    return "-".join(parts)


def _catalog_dirs() -> dict[str, Path]:
    found: dict[str, Path] = {}
    if LOCALES_DIR.is_dir():
        for child in sorted(LOCALES_DIR.iterdir()):
            po = child / "LC_MESSAGES" / f"{DOMAIN}.po"
            tag = normalize(child.name)
            if tag and po.is_file():
                found[tag] = po
    return found


class CatalogError(RuntimeError):
    """A message catalog is malformed or a translation breaks its placeholders."""


def _compile(po_path: Path, tag: str) -> Translations:
    try:
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=tag.replace("-", "_"), domain=DOMAIN, abort_invalid=True)
    except PoFileError as exc:
        raise CatalogError(f"{po_path}: {exc}") from exc
    # A translation whose placeholders differ from its msgid would fail at render time,
    # on one page in one language; refuse it up front instead.
    problems = [
        f"{po_path}: {message.id!r}: {error}"
        for message, errors in catalog.check()
        for error in errors
    ]
    if problems:
        raise CatalogError("; ".join(problems))
    buf = io.BytesIO()
    write_mo(buf, catalog)  # fuzzy entries are left out, as msgfmt does
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


@functools.cache
def catalogs() -> dict[str, Translations]:
    """Every compiled catalog of this installation, by locale (compiled once per process)."""
    return {tag: _compile(path, tag) for tag, path in _catalog_dirs().items()}


def installation_languages() -> list[str]:
    """The languages the installation speaks: the source language plus every catalog."""
    return [SOURCE_LOCALE, *(t for t in catalogs() if t != SOURCE_LOCALE)]


def _catalog_for(tag: str) -> Translations | None:
    """The compiled catalog serving ``tag``: its own, else its language's (``fr-SN`` -> ``fr``)."""
    compiled = catalogs()
    norm = normalize(tag) or SOURCE_LOCALE
    candidates = [norm]
    if "-" in norm:
        candidates.append(norm.split("-", 1)[0])
    for candidate in candidates:
        if candidate in compiled:
            return compiled[candidate]
    return None


def translations_for(tag: str, *, fallback: str | None = None) -> gettext.NullTranslations:
    """The catalog for ``tag``, falling back from region to language (``fr-SN`` -> ``fr``).

    With ``fallback`` (a tenant's declared ``language_fallbacks``), what ``tag``'s catalog
    lacks comes from that language's. The source language, and languages without a
    catalog or fallback, get the msgids themselves.
    """
    if fallback is not None and not is_source(tag):
        return _chained(normalize(tag) or tag, normalize(fallback) or fallback)
    return _catalog_for(tag) or gettext.NullTranslations()


@functools.cache
def _chained(tag: str, fallback: str) -> gettext.NullTranslations:
    # A private copy of ``tag``'s catalog: add_fallback changes the object it is called on,
    # and the shared one serves tenants without this fallback.
    base = _catalog_for(tag)
    spare = translations_for(fallback)
    if base is None:
        return spare
    path = _catalog_dirs().get(normalize(tag) or tag) or _catalog_dirs()[tag.split("-", 1)[0]]
    own = _compile(path, tag)
    own.add_fallback(spare)
    return own


def is_source(tag: str) -> bool:
    """Whether ``tag`` is the msgids' own language (``en``, ``en-IN``): nothing to translate."""
    norm = normalize(tag) or ""
    return norm.split("-", 1)[0] == SOURCE_LOCALE


@functools.cache
def source_messages() -> tuple[str, ...]:
    """Every msgid of the template (``messages.pot``); a plural by its singular form."""
    with TEMPLATE.open("rb") as fh:
        template = read_po(fh, domain=DOMAIN)
    return tuple(
        message.id if isinstance(message.id, str) else message.id[0]
        for message in template
        if message.id
    )


@functools.cache
def missing_translations(tag: str) -> tuple[str, ...]:
    """The msgids (singular form) that ``tag``'s catalog leaves untranslated or fuzzy.

    Empty for the source language; every msgid for a language without a catalog. A
    tenant may serve a language only when this is empty or it declares a fallback.
    """
    if is_source(tag):
        return ()
    catalog = _catalog_for(tag)
    if catalog is None:
        return source_messages()
    # The compiled catalog holds translated, non-fuzzy entries only (as msgfmt writes
    # them), a plural under (singular, 0). A translation equal to its msgid counts.
    known: Mapping[object, str] = getattr(catalog, "_catalog", {})
    return tuple(
        msgid for msgid in source_messages() if msgid not in known and (msgid, 0) not in known
    )


def parse_accept_language(header: str | None) -> list[str]:
    """The language ranges of an ``Accept-Language`` header, most preferred first.

    Malformed entries and ``q=0`` are dropped; ties keep the client's order; ``*`` is
    ignored (it means "the default", which the caller falls back to anyway).
    """
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header[:_MAX_ACCEPT_LANGUAGE].split(",")[:_MAX_RANGES]):
        name, _, params = item.partition(";")
        tag = normalize(name)
        if tag is None:
            continue
        q = 1.0
        params = params.strip()
        if params:
            key, _, value = params.partition("=")
            if key.strip().lower() != "q":
                continue
            try:
                q = float(value.strip())
            except ValueError:
                continue
            if not 0 < q <= 1:
                continue
        ranked.append((-q, index, tag))
    ranked.sort()
    return [tag for _, _, tag in ranked]


def match(preferred: str, available: Sequence[str]) -> str | None:
    """The entry of ``available`` serving ``preferred``: exact, else same base language."""
    want = normalize(preferred)
    if want is None:
        return None
    normalized = [(normalize(a), a) for a in available]
    for norm, original in normalized:
        if norm == want:
            return original
    base = want.split("-", 1)[0]
    for norm, original in normalized:
        if norm is not None and norm.split("-", 1)[0] == base:
            return original
    return None


@dataclass(frozen=True, slots=True)
class LocaleChoice:
    """The negotiated locale and whether it came from an explicit, valid choice."""

    locale: str
    explicit: bool


def negotiate(
    *,
    available: Sequence[str],
    default: str,
    explicit: str | None = None,
    cookie: str | None = None,
    accept_language: str | None = None,
) -> LocaleChoice:
    """Pick the locale: explicit choice > remembered cookie > Accept-Language > default.

    Only members of ``available`` are ever returned (``default`` when nothing matches, or
    the first available locale if ``default`` is not available itself).
    """
    if explicit:
        chosen = match(explicit, available)
        if chosen is not None:
            return LocaleChoice(chosen, explicit=True)
    if cookie:
        chosen = match(cookie, available)
        if chosen is not None:
            return LocaleChoice(chosen, explicit=False)
    for tag in parse_accept_language(accept_language):
        chosen = match(tag, available)
        if chosen is not None:
            return LocaleChoice(chosen, explicit=False)
    fallback = match(default, available) or (available[0] if available else SOURCE_LOCALE)
    return LocaleChoice(fallback, explicit=False)


@dataclass(frozen=True, slots=True)
class LanguageInfo:
    """How to present a language: its tag, its own name for itself, its direction."""

    tag: str
    name: str
    rtl: bool


def display_name(tag: str, in_locale: str) -> str:
    """The name of language ``tag`` in the reader's language (``fr`` in ``en``: French)."""
    try:
        name = Locale.parse(tag, sep="-").get_display_name(Locale.parse(in_locale, sep="-"))
    except (UnknownLocaleError, ValueError):
        return tag
    return name[:1].upper() + name[1:] if name else tag


_EXAMPLE_DATE = dt.date(1992, 1, 17)


def date_example(tag: str) -> str:
    """17 January 1992 as a date field shows it in this language (four-digit year).

    Browsers lay out ``<input type="date">`` with the locale's short date pattern, so a
    hint written this way agrees with the picker; the value sent is ISO whatever is shown.
    """
    try:
        loc = Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        return _EXAMPLE_DATE.isoformat()
    pattern = re.sub(r"y+", "y", loc.date_formats["short"].pattern)
    return format_date(_EXAMPLE_DATE, pattern, locale=loc)


def describe(tag: str) -> LanguageInfo:
    """The language's name in that language (``fr`` -> ``Français``) and its direction."""
    try:
        loc = Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        return LanguageInfo(tag=tag, name=tag, rtl=False)
    name = loc.get_display_name(loc) or tag
    return LanguageInfo(
        tag=tag,
        name=name[:1].upper() + name[1:],
        rtl=loc.character_order == "right-to-left",
    )


def N_(message: str) -> str:  # noqa: N802 - gettext's own name for "mark, translate later"
    """Mark ``message`` as a message id for extraction; it is translated when rendered."""
    return message


@dataclass(frozen=True, slots=True)
class Age:
    """An age or interval as configured (``16y``, ``6m``, ``8w``, ``10d``), shown in words."""

    value: str


Param = str | int | float | Age
_AGE_UNITS = {
    "y": "duration-year",
    "m": "duration-month",
    "w": "duration-week",
    "d": "duration-day",
}


def _show(value: Param, locale: str) -> str:
    if isinstance(value, Age):
        number, unit = value.value[:-1], _AGE_UNITS.get(value.value[-1:])
        if unit is None or not number.isdigit():
            return value.value
        try:
            return format_unit(int(number), unit, length="long", locale=locale.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            return format_unit(int(number), unit, length="long", locale=SOURCE_LOCALE)
    return str(value)


def render_message(
    translations: gettext.NullTranslations | None,
    locale: str,
    template: str,
    params: Mapping[str, Param] | None = None,
) -> str:
    """A message id translated (``None``: the source language) with its ``{name}`` filled.

    A translation whose placeholders do not match falls back to the source text, so a
    translator's slip never becomes an error page.
    """
    text = translations.gettext(template) if translations is not None else template
    if not params:
        return text
    shown = {k: _show(v, locale) for k, v in params.items()}
    try:
        return text.format(**shown)
    except (KeyError, IndexError, ValueError):
        try:
            return template.format(**shown)
        except (KeyError, IndexError, ValueError):
            return template
