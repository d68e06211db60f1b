"""Citizen sign-in pages: a code to a phone or e-mail, then the code; sign-out; recovery
to a new phone. Forms only (no script), CSRF on every post, the same ``__Host-`` session
cookie as staff pages. The code step carries the transaction id in a hidden field.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import Problem, TooManyRequests, invalid
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import N_
from vaxport.identity import service as identity
from vaxport.identity.service import LoginOutcome, OptionalActor, PathTenant, client_ip
from vaxport.tenancy.service import TenantInfo
from vaxport.web.staff_auth import CSRF
from vaxport.web.staff_common import (
    FormError,
    errors_of,
    locale_of,
    page,
    retry_after,
    signed_in,
    signed_out,
    text_in,
)

router = APIRouter(include_in_schema=False)
BASE = "/{tenant}"
GET = ["GET", "HEAD"]
Short = Annotated[str, Form(max_length=254)]
Code = Annotated[str, Form(max_length=12)]
Next = Annotated[str, Form(max_length=512)]
NEXT_MAX = 512


def safe_next(tenant: TenantInfo, value: str | None) -> str:
    """Where to go after signing in (``next=``): a page of this tenant on this site, or ""
    (then: the account page). Never another site: no scheme, no ``//``, no backslash."""
    if not value or len(value) > NEXT_MAX or not value.startswith(f"/{tenant.code}/"):
        return ""
    if "//" in value or "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return ""
    if value.startswith((f"/{tenant.code}/sign-in", f"/{tenant.code}/sign-out")):
        return ""
    return value


def _errors(exc: Problem) -> list[FormError]:
    if isinstance(exc, TooManyRequests):
        return errors_of(exc)
    if exc.errors and exc.errors[0]["reason"] == identity.BAD_OTP_CODE:
        return [FormError(exc.detail, field=exc.errors[0]["field"], key="bad_code")]
    return errors_of(exc)


def _refused(
    request: Request, tenant: TenantInfo, exc: Problem, template: str, **ctx: Any
) -> Response:
    if exc.status >= 500:
        raise exc
    headers = {"Retry-After": str(retry_after(exc))} if isinstance(exc, TooManyRequests) else None
    return page(
        request,
        tenant,
        template,
        status=exc.status,
        errors=_errors(exc),
        headers=headers,
        **ctx,
    )


def _code_page(
    request: Request,
    tenant: TenantInfo,
    *,
    action: str,
    transaction_id: str,
    factor_transaction_id: str = "",
    start_over: str,
    code_label: str | None = None,
    exc: Problem | None = None,
    next_url: str = "",
) -> Response:
    ctx: dict[str, Any] = {
        "next_url": next_url,
        "action": action,
        "transaction_id": transaction_id,
        "factor_transaction_id": factor_transaction_id,
        "start_over": start_over,
        "minutes": identity.OTP_CODE_MINUTES,
        "code_label": code_label or "",
    }
    if exc is not None:
        return _refused(request, tenant, exc, "citizen/code.html", **ctx)
    return page(request, tenant, "citizen/code.html", **ctx)


def _signed_in(
    request: Request, tenant: TenantInfo, outcome: LoginOutcome, next_url: str = ""
) -> Response:
    assert outcome.web is not None
    return signed_in(
        request,
        cookie=outcome.web.cookie,
        expires_at=outcome.web.expires_at,
        location=next_url or f"/{tenant.code}/account",
    )


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise invalid(field, N_("is not a valid transaction")) from None


@router.api_route(
    BASE + "/sign-in", methods=GET, dependencies=[requires("pages:read", public=True)]
)
async def sign_in_form(tenant: PathTenant, request: Request, next: str | None = None) -> Response:
    """Where to send the code (``next``: the page to come back to, when it is one of ours)."""
    next_url = safe_next(tenant, next)
    return page(request, tenant, "citizen/sign_in.html", destination="", next_url=next_url)


@router.post(
    BASE + "/sign-in",
    dependencies=[requires("auth:code", public=True, rate="code_request"), CSRF],
)
async def sign_in_submit(
    *, tenant: PathTenant, ctx: Ctx, request: Request, destination: Short = "", next: Next = ""
) -> Response:
    """Send the code; then ask for it."""
    next_url = safe_next(tenant, next)
    try:
        transaction_id = await identity.request_login_code(
            db=ctx.db,
            settings=ctx.settings,
            tenant=tenant,
            destination=destination,
            kind=None,
            client_ip=client_ip(request),
            locale=locale_of(request, tenant).locale,
        )
    except Problem as exc:
        return _refused(
            request,
            tenant,
            exc,
            "citizen/sign_in.html",
            destination=destination[:254],
            next_url=next_url,
        )
    return _code_page(
        request,
        tenant,
        action=f"/{tenant.code}/sign-in/code",
        transaction_id=str(transaction_id),
        start_over=f"/{tenant.code}/sign-in",
        next_url=next_url,
    )


@router.post(
    BASE + "/sign-in/code", dependencies=[requires("auth:login", public=True, rate="login"), CSRF]
)
async def sign_in_code(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    request: Request,
    transaction_id: Annotated[str, Form(max_length=64)] = "",
    code: Code = "",
    next: Next = "",
) -> Response:
    """Check the code: signed in (and back to ``next``, when it is one of our pages)."""
    next_url = safe_next(tenant, next)
    try:
        outcome = await identity.login_with_code(
            db=ctx.db,
            settings=ctx.settings,
            tenant=tenant,
            transaction_id=_uuid(transaction_id, "code"),
            code=code,
            client_ip=client_ip(request),
            channel="web",
        )
    except Problem as exc:
        return _code_page(
            request,
            tenant,
            action=f"/{tenant.code}/sign-in/code",
            transaction_id=transaction_id,
            start_over=f"/{tenant.code}/sign-in",
            exc=exc,
            next_url=next_url,
        )
    return _signed_in(request, tenant, outcome, next_url)


@router.api_route(
    BASE + "/account", methods=GET, dependencies=[requires("pages:read", public=True)]
)
async def account_home(
    tenant: PathTenant, ctx: Ctx, actor: OptionalActor, request: Request
) -> Response:
    """The signed-in citizen's account (the sign-in page for anyone else)."""
    if actor is None or actor.role != "citizen" or actor.tenant_code != tenant.code:
        return RedirectResponse(f"/{tenant.code}/sign-in", status_code=303)
    me = await identity.get_me(db=ctx.db, actor=actor)
    return page(request, tenant, "citizen/home.html", me=me)


@router.post(BASE + "/sign-out", dependencies=[requires("self:read")])
async def sign_out(
    tenant: PathTenant, ctx: Ctx, actor: OptionalActor, request: Request
) -> Response:
    """End the session everywhere it is used."""
    assert actor is not None  # requires() refused anonymous callers
    await identity.logout(db=ctx.db, cache=ctx.cache, actor=actor)
    return signed_out(request, f"/{tenant.code}/")


def _recover_form(request: Request, tenant: TenantInfo, form: dict[str, str]) -> dict[str, Any]:
    locale = locale_of(request, tenant).locale
    return {
        "form": form,
        "methods": tenant.config.recovery.methods,
        "id_types": [
            {"code": t.code, "label": text_in(t.label, locale, tenant.config.default_locale)}
            for t in tenant.config.id_types
        ],
    }


_RECOVER_FIELDS = ("method", "new_phone", "email", "phone", "id_type", "id_number", "birth_date")


@router.api_route(
    BASE + "/recover", methods=GET, dependencies=[requires("pages:read", public=True)]
)
async def recover_form(tenant: PathTenant, request: Request, method: str = "") -> Response:
    """Move an account to a new phone: first how to prove it is yours, then that way's fields.

    The choice is a GET (``?method=``), so the form shows only the chosen way's fields
    without any script; a tenant with one way skips the choice.
    """
    methods = tenant.config.recovery.methods
    if method not in methods:
        method = methods[0] if len(methods) == 1 else ""
    form = dict.fromkeys(_RECOVER_FIELDS, "") | {"method": method}
    return page(request, tenant, "citizen/recover.html", **_recover_form(request, tenant, form))


def _birth_date(value: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise invalid("birth_date", N_("is not a date: write it as YYYY-MM-DD")) from None


@router.post(
    BASE + "/recover",
    dependencies=[requires("auth:recover", public=True, rate="code_request"), CSRF],
)
async def recover_submit(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    request: Request,
    method: Annotated[str, Form(max_length=16)] = "",
    new_phone: Short = "",
    email: Short = "",
    phone: Short = "",
    id_type: Annotated[str, Form(max_length=32)] = "",
    id_number: Annotated[str, Form(max_length=64)] = "",
    birth_date: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Send the codes; then ask for them."""
    form = {
        "method": method,
        "new_phone": new_phone,
        "email": email,
        "phone": phone,
        "id_type": id_type,
        "id_number": id_number,
        "birth_date": birth_date,
    }
    try:
        started = await identity.start_recovery(
            db=ctx.db,
            settings=ctx.settings,
            tenant=tenant,
            method=method,
            new_phone=new_phone,
            email=email or None,
            phone=phone or None,
            id_type=id_type or None,
            id_number=id_number or None,
            birth_date=_birth_date(birth_date),
            client_ip=client_ip(request),
            locale=locale_of(request, tenant).locale,
        )
    except Problem as exc:
        return _refused(
            request, tenant, exc, "citizen/recover.html", **_recover_form(request, tenant, form)
        )
    return _code_page(
        request,
        tenant,
        action=f"/{tenant.code}/recover/code",
        transaction_id=str(started.transaction_id),
        factor_transaction_id=str(started.factor_transaction_id or ""),
        start_over=f"/{tenant.code}/recover",
        code_label="new_phone",
    )


@router.post(
    BASE + "/recover/code",
    dependencies=[requires("auth:recover", public=True, rate="login"), CSRF],
)
async def recover_code(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    request: Request,
    transaction_id: Annotated[str, Form(max_length=64)] = "",
    factor_transaction_id: Annotated[str, Form(max_length=64)] = "",
    code: Code = "",
    factor_code: Code = "",
) -> Response:
    """Check both codes: the account is on the new phone, signed in."""
    try:
        outcome = await identity.finish_recovery(
            db=ctx.db,
            cache=ctx.cache,
            settings=ctx.settings,
            tenant=tenant,
            transaction_id=_uuid(transaction_id, "code"),
            code=code,
            factor_transaction_id=(
                _uuid(factor_transaction_id, "factor_code") if factor_transaction_id else None
            ),
            factor_code=factor_code or None,
            client_ip=client_ip(request),
            channel="web",
        )
    except Problem as exc:
        return _code_page(
            request,
            tenant,
            action=f"/{tenant.code}/recover/code",
            transaction_id=transaction_id,
            factor_transaction_id=factor_transaction_id,
            start_over=f"/{tenant.code}/recover",
            code_label="new_phone",
            exc=exc,
        )
    return _signed_in(request, tenant, outcome)
