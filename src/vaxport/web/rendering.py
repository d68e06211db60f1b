"""Jinja2 rendering of pages in the visitor's language.

One autoescaping environment for the process. Translations are not installed globally
(requests in different languages run concurrently): templates call ``_``/``gettext``,
which read the catalog from the render context of the page being rendered.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from starlette.responses import HTMLResponse

from vaxport.core.i18n import (
    LanguageInfo,
    date_example,
    describe,
    display_name,
    negotiate,
    normalize,
    translations_for,
)
from vaxport.web.assets import static_url
from vaxport.web.problems import FormError, text_of

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
LANG_COOKIE = "lang"
LANG_PARAM = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


@pass_context
def _gettext(context: Context, message: str) -> str:
    translations: gettext.NullTranslations = context["translations"]
    return translations.gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    translations: gettext.NullTranslations = context["translations"]
    return translations.ngettext(singular, plural, n)


@pass_context
def _error_text(context: Context, error: FormError) -> str:
    return text_of(error, context["translations"], context["lang"])


@pass_context
def _language_name(context: Context, tag: str) -> str:
    return display_name(tag, context["lang"])


@pass_context
def _example_date(context: Context) -> str:
    return date_example(context["lang"])


@functools.cache
def environment() -> Environment:
    """The process' template environment (autoescape on, undefined names are errors)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.globals["static_url"] = static_url
    env.globals["error_message"] = _error_text
    env.globals["language_name"] = _language_name
    env.globals["example_date"] = _example_date
    return env


@dataclass(frozen=True, slots=True)
class LanguageLink:
    """One entry of the language switcher."""

    tag: str
    name: str
    rtl: bool
    url: str
    current: bool


@dataclass(frozen=True, slots=True)
class PageLocale:
    """The language a page is rendered in, the ones it offers, and whether to remember it."""

    locale: str
    info: LanguageInfo
    available: tuple[str, ...]
    translations: gettext.NullTranslations
    remember: bool


def choose_locale(
    request: Request,
    *,
    available: Sequence[str],
    default: str,
    remember: bool = True,
    fallbacks: Mapping[str, str] | None = None,
) -> PageLocale:
    """Negotiate the page language: ``?lang=`` > ``lang`` cookie > Accept-Language > default.

    A valid ``?lang=`` choice is remembered in the cookie when ``remember`` is true.
    Locales may be given as Babel writes them (``pt_BR``); pages use BCP 47 (``pt-BR``).
    ``fallbacks`` (a tenant's ``language_fallbacks``) fill what a language's catalog lacks.
    """
    tags = tuple(dict.fromkeys(normalize(t) or t for t in available))
    choice = negotiate(
        available=tags,
        default=normalize(default) or default,
        explicit=request.query_params.get(LANG_PARAM),
        cookie=request.cookies.get(LANG_COOKIE),
        accept_language=request.headers.get("accept-language"),
    )
    return PageLocale(
        locale=choice.locale,
        info=describe(choice.locale),
        available=tags,
        translations=translations_for(choice.locale, fallback=_fallback(choice.locale, fallbacks)),
        remember=remember and choice.explicit,
    )


def _fallback(locale: str, fallbacks: Mapping[str, str] | None) -> str | None:
    for tag, target in (fallbacks or {}).items():
        if normalize(tag) == locale:
            return normalize(target) or target
    return None


def _switch_url(request: Request, tag: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != LANG_PARAM]
    params.append((LANG_PARAM, tag))
    return f"{request.url.path}?{urlencode(params)}"


def language_links(request: Request, page: PageLocale) -> list[LanguageLink]:
    """The switcher entries: every offered language, named in itself, linking to ``?lang=``."""
    links = []
    for tag in page.available:
        info = describe(tag)
        links.append(
            LanguageLink(
                tag=info.tag,
                name=info.name,
                rtl=info.rtl,
                url=_switch_url(request, tag),
                current=tag == page.locale,
            )
        )
    return links


def render(
    request: Request,
    template: str,
    page: PageLocale,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` in the page's language; remember an explicit choice in a cookie."""
    # The layouts mark the current menu entry for whoever is signed in, on any page: one
    # that sets none (a staff activation link opened while signed in) marks none.
    context.setdefault("nav_current", None)
    body = (
        environment()
        .get_template(template)
        .render(
            lang=page.locale,
            dir="rtl" if page.info.rtl else "ltr",
            languages=language_links(request, page),
            translations=page.translations,
            **context,
        )
    )
    response = HTMLResponse(body, status_code=status, headers=headers)
    response.headers["content-language"] = page.locale
    # The same URL answers in several languages: caches must key on what chose it.
    response.headers["vary"] = "Accept-Language, Cookie"
    response.headers.setdefault("cache-control", "no-cache")
    if page.remember:
        response.set_cookie(
            LANG_COOKIE,
            page.locale,
            max_age=LANG_COOKIE_MAX_AGE,
            path="/",
            samesite="lax",
            httponly=True,
            secure=request.url.scheme == "https",
        )
    return response
