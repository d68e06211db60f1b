"""Staff sign-in pages: password, second factor, authenticator set-up, activation, sign-out.

They work without JavaScript: each step is a form posting to the next (the signed,
short-lived login ticket travels in a hidden field). Every form carries the CSRF token;
the session cookie is HttpOnly, SameSite=Lax, and Secure with the ``__Host-`` prefix
outside development.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from vaxport.core.errors import Problem, TooManyRequests, Unauthorized
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity import service as identity
from vaxport.identity.service import CurrentActor, PathTenant, client_ip
from vaxport.tenancy.service import TenantInfo
from vaxport.web.staff_common import (
    FormError,
    errors_of,
    facility_names,
    locale_of,
    page,
    region_labels,
    retry_after,
    safe_next,
    set_session_cookie,
    settings_of,
    signed_in,
    signed_out,
)

router = APIRouter(include_in_schema=False)
BASE = "/{tenant}/staff"
GET = ["GET", "HEAD"]


async def _csrf(request: Request) -> None:
    await identity.verify_csrf(request, settings_of(request))


CSRF = Depends(_csrf)
Text = Annotated[str, Form(max_length=1024)]
Ticket = Annotated[str, Form(max_length=512)]
Next = Annotated[str, Form(max_length=512)]


def _refused(
    request: Request,
    tenant: TenantInfo,
    exc: Problem,
    *,
    template: str = "staff/login.html",
    field: str | None = None,
    **ctx: object,
) -> Response:
    headers = {"Retry-After": str(retry_after(exc))} if isinstance(exc, TooManyRequests) else None
    return page(
        request,
        tenant,
        template,
        status=exc.status,
        errors=errors_of(exc, field=field),
        headers=headers,
        **{"username": "", "next_url": "", "ticket": "", **ctx},
    )


def _outcome(
    request: Request, tenant: TenantInfo, outcome: identity.LoginOutcome, next_url: str
) -> Response:
    if outcome.status == "authenticated":
        assert outcome.web is not None
        if outcome.recovery_codes:
            # Shown once, on the answer that also starts the session.
            response = page(
                request,
                tenant,
                "staff/recovery_codes.html",
                recovery_codes=outcome.recovery_codes,
                next_url=next_url,
            )
            return set_session_cookie(
                request, response, cookie=outcome.web.cookie, expires_at=outcome.web.expires_at
            )
        return signed_in(
            request,
            cookie=outcome.web.cookie,
            expires_at=outcome.web.expires_at,
            location=next_url,
        )
    template = (
        "staff/second_factor.html"
        if outcome.status == "totp_required"
        else "staff/enrol_start.html"
    )
    return page(request, tenant, template, ticket=outcome.ticket, next_url=next_url)


@router.api_route(BASE + "/login", methods=GET, dependencies=[requires("pages:read", public=True)])
async def login_form(tenant: PathTenant, request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return page(request, tenant, "staff/login.html", username="", next_url=safe_next(tenant, next))


@router.post(
    BASE + "/login", dependencies=[requires("auth:login", public=True, rate="login"), CSRF]
)
async def login_submit(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Text = "",
    next: Next = "",
) -> Response:
    """Check the password; then ask for the code (or set-up of the authenticator)."""
    next_url = safe_next(tenant, next)
    try:
        outcome = await identity.login_password(
            db=ctx.db,
            settings=ctx.settings,
            tenant=tenant,
            username=username,
            password=password,
            client_ip=client_ip(request),
            channel="web",
        )
    except (Unauthorized, TooManyRequests) as exc:
        return _refused(request, tenant, exc, username=username[:64], next_url=next_url)
    return _outcome(request, tenant, outcome, next_url)


@router.post(
    BASE + "/login/code", dependencies=[requires("auth:login", public=True, rate="login"), CSRF]
)
async def code_submit(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    request: Request,
    ticket: Ticket = "",
    code: Annotated[str, Form(max_length=12)] = "",
    recovery_code: Annotated[str, Form(max_length=40)] = "",
    next: Next = "",
) -> Response:
    """Check the authenticator code (or a recovery code): signed in."""
    next_url = safe_next(tenant, next)
    try:
        outcome = await identity.login_second_factor(
            db=ctx.db,
            settings=ctx.settings,
            tenant=tenant,
            ticket=ticket,
            code=None if recovery_code.strip() else code,
            recovery_code=recovery_code.strip() or None,
            client_ip=client_ip(request),
            channel="web",
        )
    except (Unauthorized, TooManyRequests) as exc:
        if exc.detail == identity.BAD_LOGIN_CODE:
            return _refused(
                request,
                tenant,
                exc,
                template="staff/second_factor.html",
                field="code",
                ticket=ticket,
                next_url=next_url,
            )
        return _refused(request, tenant, exc, next_url=next_url)
    return _outcome(request, tenant, outcome, next_url)


@router.post(
    BASE + "/login/setup", dependencies=[requires("auth:login", public=True, rate="login"), CSRF]
)
async def setup_start(
    *, tenant: PathTenant, ctx: Ctx, request: Request, ticket: Ticket = "", next: Next = ""
) -> Response:
    """A new authenticator secret, shown as a QR code and as text."""
    next_url = safe_next(tenant, next)
    try:
        pending = await identity.start_enrolment(
            db=ctx.db, settings=ctx.settings, tenant=tenant, ticket=ticket
        )
    except Unauthorized as exc:
        return _refused(request, tenant, exc, next_url=next_url)
    return page(
        request, tenant, "staff/enrol.html", enrolment=pending, ticket=ticket, next_url=next_url
    )


@router.post(
    BASE + "/login/enrol", dependencies=[requires("auth:login", public=True, rate="login"), CSRF]
)
async def setup_confirm(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    request: Request,
    ticket: Ticket = "",
    code: Annotated[str, Form(max_length=12)] = "",
    next: Next = "",
) -> Response:
    """Confirm the authenticator with a code: signed in, recovery codes shown once."""
    next_url = safe_next(tenant, next)
    try:
        outcome = await identity.confirm_enrolment(
            db=ctx.db,
            cache=ctx.cache,
            settings=ctx.settings,
            tenant=tenant,
            ticket=ticket,
            code=code,
            client_ip=client_ip(request),
            channel="web",
        )
    except (Unauthorized, TooManyRequests) as exc:
        if exc.detail == identity.BAD_LOGIN_CODE:
            # A new secret is made on the way back: the set-up starts over.
            return _refused(
                request,
                tenant,
                exc,
                template="staff/enrol_start.html",
                ticket=ticket,
                next_url=next_url,
            )
        return _refused(request, tenant, exc, next_url=next_url)
    return _outcome(request, tenant, outcome, next_url)


@router.api_route(
    BASE + "/activate", methods=GET, dependencies=[requires("pages:read", public=True)]
)
async def activate_form(tenant: PathTenant, request: Request, token: str = "") -> Response:
    """Choose a password (from an invitation link)."""
    return page(request, tenant, "staff/activate.html", token=token[:200])


@router.post(
    BASE + "/activate", dependencies=[requires("auth:login", public=True, rate="login"), CSRF]
)
async def activate_submit(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    password: Text = "",
) -> Response:
    """Set the password; then the authenticator (if the role needs one)."""
    try:
        outcome = await identity.activate(
            db=ctx.db,
            settings=ctx.settings,
            tenant=tenant,
            token=token,
            password=password,
            client_ip=client_ip(request),
            channel="web",
        )
    except Problem as exc:
        if exc.status >= 500:
            raise
        errors = [
            FormError(e["reason"], "password") for e in exc.errors if e["field"] == "password"
        ]
        return page(
            request,
            tenant,
            "staff/activate.html",
            status=exc.status,
            errors=errors or errors_of(exc),
            token=token,
        )
    return _outcome(request, tenant, outcome, safe_next(tenant, None))


@router.post(BASE + "/logout", dependencies=[requires("self:read")])
async def logout(tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request) -> Response:
    """Sign out: the session ends everywhere it is used."""
    await identity.logout(db=ctx.db, cache=ctx.cache, actor=actor)
    return signed_out(request, f"/{tenant.code}/staff/login")


@router.api_route(BASE + "/", methods=GET, dependencies=[requires("self:read")])
async def home(tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request) -> Response:
    """The signed-in staff member's home."""
    me = await identity.get_me(db=ctx.db, actor=actor)
    labels = region_labels(tenant, locale_of(request, tenant).locale)
    return page(
        request,
        tenant,
        "staff/home.html",
        me=me,
        region_label=labels.get(me.region_code or "", ""),
        facility_names=await facility_names(ctx.db, request, tenant, [me.facility_id]),
    )
