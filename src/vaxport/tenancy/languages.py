"""Every language a tenant declares is complete: pages, messages and errors translated.

A language is complete when its catalog (``vaxport/locales/<lang>/LC_MESSAGES``)
translates every msgid of the template; English, the msgids' own language, always is.
A tenant may still serve a language whose catalog is partial or absent by declaring,
explicitly, which of its other (complete) languages fills the gaps::

    locales: [sv, en, fi]
    language_fallbacks: {fi: sv}

Run by :func:`vaxport.tenancy.validation.validate_text` on every configuration; the
notification templates of each language are checked by the notifications context.
"""

from __future__ import annotations

from collections.abc import Iterator

from vaxport.core.i18n import missing_translations, source_messages
from vaxport.tenancy.config import TenantConfig


def language_problems(config: TenantConfig) -> Iterator[tuple[str, str]]:
    """``(field, reason)`` for each declared language that is neither complete nor given a
    fallback, and for each fallback that cannot serve."""
    fallbacks = config.fallbacks
    total = len(source_messages())
    for i, locale in enumerate(config.locales):
        if locale in fallbacks:
            continue
        missing = missing_translations(locale)
        if missing:
            yield (
                f"locales.{i}",
                f"{locale!r} has no complete catalog ({len(missing)} of {total} texts "
                f"untranslated, first {missing[0]!r}): complete "
                f"src/vaxport/locales/{locale}/LC_MESSAGES/messages.po, or declare "
                f"language_fallbacks: {{{locale}: <another of locales>}}",
            )
    for locale, target in fallbacks.items():
        where = f"language_fallbacks.{locale}"
        if locale not in config.locales:
            yield where, f"{locale!r} is not one of locales"
        elif target not in config.locales:
            yield where, f"falls back to {target!r}, which is not one of locales"
        elif target in fallbacks or missing_translations(target):
            yield where, f"falls back to {target!r}, which is not complete itself"
