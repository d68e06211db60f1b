"""What the staff pages share: page context, the session cookie, safe redirects, errors."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from vaxport.core.contacts import example_phone
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, Problem, TooManyRequests, ValidationFailed
from vaxport.facilities import service as facilities
from vaxport.identity import service as identity
from vaxport.identity.service import BAD_CREDENTIALS, EXPIRED, Actor, request_actor, session_cookie
from vaxport.identity.service import BAD_LOGIN_CODE as BAD_CODE
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo
from vaxport.web.problems import FormError, field_errors
from vaxport.web.rendering import PageLocale, choose_locale, render

__all__ = ["FormError"]  # the pages' error type lives with the message rendering


def settings_of(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.ctx.settings
    return settings


def text_in(value: str | dict[str, str], locale: str, default: str) -> str:
    """A configuration text in the page's language (or the tenant's default)."""
    if isinstance(value, str):
        return value
    base = locale.split("-", maxsplit=1)[0]
    return value.get(locale) or value.get(base) or value.get(default) or next(iter(value.values()))


def region_labels(tenant: TenantInfo, locale: str) -> dict[str, str]:
    """Every region's name in the page's language."""
    config = tenant.config
    return {
        item.code: text_in(item.name, locale, config.default_locale)
        for item in config.regions.items
    }


def id_type_names(tenant: TenantInfo, locale: str) -> dict[str, str]:
    """Every ID document type's name in the page's language, by its code."""
    config = tenant.config
    return {t.code: text_in(t.label, locale, config.default_locale) for t in config.id_types}


async def facility_names(
    db: Database, request: Request, tenant: TenantInfo, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """Centres' names in the page's language, by id (shown instead of ids; unknown: left out)."""
    locale = locale_of(request, tenant).locale
    names = {}
    for facility_id in {i for i in ids if i is not None}:
        try:
            found = await facilities.get(db=db, tenant=tenant, facility_id=facility_id)
        except NotFound:
            continue
        names[facility_id] = text_in(found.name, locale, tenant.config.default_locale)
    return names


def locale_of(request: Request, tenant: TenantInfo) -> PageLocale:
    """The language of a tenant page for this request."""
    return choose_locale(
        request,
        available=tenant.config.locales,
        default=tenant.config.default_locale,
        fallbacks=tenant.config.fallbacks,
    )


def page(
    request: Request,
    tenant: TenantInfo,
    template: str,
    *,
    status: int = 200,
    errors: list[FormError] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """Render a staff page in the tenant's language, with CSRF token and session bar."""
    settings = settings_of(request)
    locale = locale_of(request, tenant)
    actor = request_actor(request)
    context.setdefault("can_see_team", bool(actor and actor.has("staff:read")))
    context.setdefault("can_review_corrections", bool(actor and actor.has("beneficiaries:approve")))
    context.setdefault("id_type_names", id_type_names(tenant, locale.locale))
    context.setdefault("facility_names", {})
    context.setdefault(
        "can_find_people",
        bool(actor and actor.kind == "staff" and actor.has("beneficiaries:read")),
    )
    context.setdefault(
        "can_work_the_day",
        bool(actor and actor.kind == "staff" and actor.has("appointments:read")),
    )
    context.setdefault(
        "can_review_duplicates",
        bool(actor and actor.kind == "staff" and actor.has("beneficiaries:write")),
    )
    # Hints show a number as people of the tenant's country write one.
    context.setdefault("phone_example", example_phone(tenant.config.phone.default_region))
    response = render(
        request,
        template,
        locale,
        status=status,
        headers=headers,
        tenant=tenant,
        actor=actor,
        csrf_token=identity.csrf_token_for(request, settings),
        errors=errors or [],
        **context,
    )
    # Pages with tokens, codes and personal data: never stored by a cache.
    response.headers["cache-control"] = "no-store"
    identity.set_csrf_cookie_if_new(request, response, settings)
    return response


def errors_of(problem: Problem, *, field: str | None = None) -> list[FormError]:
    """A problem as messages for the error summary (field errors link to inputs)."""
    if isinstance(problem, TooManyRequests):
        return [FormError(problem.detail, key="throttled", seconds=retry_after(problem))]
    known = {
        BAD_CREDENTIALS: "bad_credentials",
        BAD_CODE: "bad_code",
        EXPIRED: "expired_login",
    }
    if problem.detail in known:
        return [FormError(problem.detail, field=field, key=known[problem.detail])]
    if isinstance(problem, ValidationFailed) and problem.errors:
        return field_errors(problem)
    if len(problem.errors) == 1:  # e.g. a conflict about one field: say it there
        return field_errors(problem)
    return [FormError(problem.detail, template=problem.template, params=problem.params)]


def retry_after(problem: TooManyRequests) -> int:
    """Seconds a throttled person must wait."""
    return int(problem.extra.get("retry_after", 60))


def safe_next(tenant: TenantInfo, value: str | None) -> str:
    """Where to go after signing in: a page of this tenant, never another site."""
    home = f"/{tenant.code}/staff/"
    if not value or not value.startswith(f"/{tenant.code}/") or value.startswith("//"):
        return home
    if "\\" in value or any(ord(c) < 0x20 for c in value) or "/staff/login" in value:
        return home
    return value


def set_session_cookie(
    request: Request, response: Response, *, cookie: str, expires_at: dt.datetime
) -> Response:
    """Give the browser its session cookie (HttpOnly, Lax; Secure outside development)."""
    settings = settings_of(request)
    response.set_cookie(
        session_cookie(settings),
        cookie,
        expires=expires_at,
        path="/",
        httponly=True,
        secure=identity.secure_cookies(settings),
        samesite="lax",
    )
    response.headers["cache-control"] = "no-store"
    return response


def signed_in(request: Request, *, cookie: str, expires_at: dt.datetime, location: str) -> Response:
    """Redirect (303) carrying the new session cookie."""
    response = RedirectResponse(location, status_code=303)
    return set_session_cookie(request, response, cookie=cookie, expires_at=expires_at)


def signed_out(request: Request, location: str) -> Response:
    """Redirect (303) clearing the session cookie."""
    settings = settings_of(request)
    response = RedirectResponse(location, status_code=303)
    response.delete_cookie(
        session_cookie(settings),
        path="/",
        httponly=True,
        secure=identity.secure_cookies(settings),
        samesite="lax",
    )
    return response


def actor_or_none(request: Request) -> Actor | None:
    """The signed-in actor of the request, if any."""
    return request_actor(request)
