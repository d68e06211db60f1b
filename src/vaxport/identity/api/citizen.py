"""HTTP routes of citizen login by one-time code, and of recovery to a new phone.

Each code request and each login step is rate-limited per address by its route class
(``code_request``, ``login``), which fails closed (503) when the limiter's store is down.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import negotiate
from vaxport.identity.access.edge import PathTenant, client_ip
from vaxport.identity.access.edge import no_store as _no_store
from vaxport.identity.login import citizen, otp, recovery
from vaxport.identity.login.otp import DestinationKind
from vaxport.identity.login.staff import LoginOutcome
from vaxport.identity.schemas import (
    CodeRequestIn,
    CodeRequestOut,
    CodeVerifyIn,
    LoginOut,
    RecoveryStartIn,
    RecoveryStartOut,
    RecoveryVerifyIn,
)
from vaxport.tenancy.service import TenantInfo

router = APIRouter(tags=["identity"])
AUTH = "/api/v1/{tenant}/auth"


def _locale(request: Request, tenant: TenantInfo) -> str:
    return negotiate(
        available=tenant.config.locales,
        default=tenant.config.default_locale,
        accept_language=request.headers.get("accept-language"),
    ).locale


def _tokens(outcome: LoginOutcome) -> LoginOut:
    assert outcome.tokens is not None
    return LoginOut(
        status="authenticated",
        access_token=outcome.tokens.access_token,
        refresh_token=outcome.tokens.refresh_token,
        token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
        expires_in=outcome.tokens.expires_in,
    )


@router.post(
    AUTH + "/code",
    status_code=202,
    dependencies=[requires("auth:code", public=True, rate="code_request")],
)
async def request_login_code(
    *, body: CodeRequestIn, tenant: PathTenant, ctx: Ctx, request: Request, response: Response
) -> CodeRequestOut:
    """Send a login code to a phone or an e-mail address (the same answer for any)."""
    _no_store(response)
    field: DestinationKind = "phone" if body.phone is not None else "email"
    transaction_id = await citizen.request_login_code(
        db=ctx.db,
        settings=ctx.settings,
        tenant=tenant,
        destination=str(body.phone if body.phone is not None else body.email),
        kind=field,
        client_ip=client_ip(request),
        locale=_locale(request, tenant),
        field=field,
    )
    return CodeRequestOut(transaction_id=transaction_id, expires_in=otp.CODE_MINUTES * 60)


@router.post(
    AUTH + "/code/verify", dependencies=[requires("auth:login", public=True, rate="login")]
)
async def verify_login_code(
    *, body: CodeVerifyIn, tenant: PathTenant, ctx: Ctx, request: Request, response: Response
) -> LoginOut:
    """The code that was sent: tokens for the citizen account (made on first login)."""
    _no_store(response)
    outcome = await citizen.login_with_code(
        db=ctx.db,
        settings=ctx.settings,
        tenant=tenant,
        transaction_id=body.transaction_id,
        code=body.code,
        client_ip=client_ip(request),
        channel="api",
    )
    return _tokens(outcome)


@router.post(
    AUTH + "/recovery",
    status_code=202,
    dependencies=[requires("auth:recover", public=True, rate="code_request")],
)
async def start_recovery(
    *, body: RecoveryStartIn, tenant: PathTenant, ctx: Ctx, request: Request, response: Response
) -> RecoveryStartOut:
    """Start moving an account to a new phone: codes to the new phone (and the e-mail)."""
    _no_store(response)
    started = await recovery.start_recovery(
        db=ctx.db,
        settings=ctx.settings,
        tenant=tenant,
        client_ip=client_ip(request),
        locale=_locale(request, tenant),
        **body.model_dump(),
    )
    return RecoveryStartOut(
        transaction_id=started.transaction_id,
        factor_transaction_id=started.factor_transaction_id,
        expires_in=otp.CODE_MINUTES * 60,
    )


@router.post(
    AUTH + "/recovery/verify",
    dependencies=[requires("auth:recover", public=True, rate="login")],
)
async def finish_recovery(
    *, body: RecoveryVerifyIn, tenant: PathTenant, ctx: Ctx, request: Request, response: Response
) -> LoginOut:
    """Both codes: the account moves to the new phone, its old sessions end, tokens."""
    _no_store(response)
    outcome = await recovery.finish_recovery(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant=tenant,
        client_ip=client_ip(request),
        channel="api",
        **body.model_dump(),
    )
    return _tokens(outcome)
