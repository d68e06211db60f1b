"""HTTP routes of identity: login, tokens, one's own account, staff management, JWKS."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.access.edge import CurrentActor, PathTenant, client_ip
from vaxport.identity.access.edge import no_store as _no_store
from vaxport.identity.credentials import sessions, signing
from vaxport.identity.login import enrolment
from vaxport.identity.login import staff as login
from vaxport.identity.schemas import (
    AccessTokenOut,
    ActivateIn,
    CodeIn,
    EnrolmentConfirmIn,
    EnrolmentOut,
    InvitationOut,
    LoginIn,
    LoginOut,
    MeUpdateIn,
    PasswordChangeIn,
    ReauthenticateIn,
    RecoveryCodesOut,
    RefreshIn,
    SecondFactorIn,
    StaffChangeIn,
    StaffCreateIn,
    StaffOut,
    StaffPageOut,
    StaffQuery,
    TicketIn,
    TokenOut,
)
from vaxport.identity.staff import account
from vaxport.identity.staff import admin as staff

router = APIRouter(tags=["identity"])
AUTH = "/api/v1/{tenant}/auth"


def _login_out(outcome: login.LoginOutcome) -> LoginOut:
    out = LoginOut(status=outcome.status, ticket=outcome.ticket)
    if outcome.tokens is not None:
        out.access_token = outcome.tokens.access_token
        out.refresh_token = outcome.tokens.refresh_token
        out.token_type = "Bearer"  # noqa: S105 - the scheme name, not a secret
        out.expires_in = outcome.tokens.expires_in
    if outcome.recovery_codes:
        out.recovery_codes = outcome.recovery_codes
    return out


@router.get("/.well-known/jwks.json", dependencies=[requires("keys:read", public=True)])
async def jwks(ctx: Ctx, response: Response) -> dict[str, list[dict[str, object]]]:
    """The public keys that verify access tokens (old ones until their tokens expire)."""
    response.headers["Cache-Control"] = "public, max-age=60"
    keys: dict[str, list[dict[str, object]]] = await signing.jwks(ctx.db)
    return keys


@router.post(AUTH + "/login", dependencies=[requires("auth:login", public=True, rate="login")])
async def login_password(
    *, body: LoginIn, tenant: PathTenant, ctx: Ctx, request: Request, response: Response
) -> LoginOut:
    """Username and password; then a second factor (``totp_required``) or enrolment."""
    _no_store(response)
    outcome = await login.login_password(
        db=ctx.db,
        settings=ctx.settings,
        tenant=tenant,
        username=body.username,
        password=body.password,
        client_ip=client_ip(request),
        channel="api",
    )
    return _login_out(outcome)


@router.post(
    AUTH + "/second-factor", dependencies=[requires("auth:login", public=True, rate="login")]
)
async def login_second_factor(
    *, body: SecondFactorIn, tenant: PathTenant, ctx: Ctx, request: Request, response: Response
) -> LoginOut:
    """A TOTP code (or a recovery code) with the ticket of the password step."""
    _no_store(response)
    outcome = await login.login_second_factor(
        db=ctx.db,
        settings=ctx.settings,
        tenant=tenant,
        ticket=body.ticket,
        code=body.code,
        recovery_code=body.recovery_code,
        client_ip=client_ip(request),
        channel="api",
    )
    return _login_out(outcome)


@router.post(AUTH + "/enrolment", dependencies=[requires("auth:login", public=True, rate="login")])
async def start_enrolment(
    *, body: TicketIn, tenant: PathTenant, ctx: Ctx, response: Response
) -> EnrolmentOut:
    """A new TOTP secret for the authenticator app (confirm it with a code)."""
    _no_store(response)
    made = await enrolment.start_enrolment(
        db=ctx.db, settings=ctx.settings, tenant=tenant, ticket=body.ticket
    )
    return EnrolmentOut(secret=made.secret, otpauth_uri=made.uri, qr_data_uri=made.qr_data_uri)


@router.post(
    AUTH + "/enrolment/confirm", dependencies=[requires("auth:login", public=True, rate="login")]
)
async def confirm_enrolment(
    *, body: EnrolmentConfirmIn, tenant: PathTenant, ctx: Ctx, request: Request, response: Response
) -> LoginOut:
    """Confirm the new secret with a code: logged in, with recovery codes (shown once)."""
    _no_store(response)
    outcome = await enrolment.confirm_enrolment(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant=tenant,
        ticket=body.ticket,
        code=body.code,
        client_ip=client_ip(request),
        channel="api",
    )
    return _login_out(outcome)


@router.post(AUTH + "/activate", dependencies=[requires("auth:login", public=True, rate="login")])
async def activate(
    *, body: ActivateIn, tenant: PathTenant, ctx: Ctx, request: Request, response: Response
) -> LoginOut:
    """Follow an invitation: set the password (then enrol a second factor if needed)."""
    _no_store(response)
    outcome = await account.activate(
        db=ctx.db,
        settings=ctx.settings,
        tenant=tenant,
        token=body.token,
        password=body.password,
        client_ip=client_ip(request),
        channel="api",
    )
    return _login_out(outcome)


@router.post(AUTH + "/refresh", dependencies=[requires("auth:refresh", public=True, rate="login")])
async def refresh(body: RefreshIn, tenant: str, ctx: Ctx, response: Response) -> TokenOut:
    """A new token pair; the refresh token given is spent (reusing it ends the session)."""
    _no_store(response)
    pair = await sessions.refresh(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant_code=tenant,
        refresh_token=body.refresh_token,
    )
    return TokenOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post(AUTH + "/logout", status_code=204, dependencies=[requires("self:read")])
async def logout(tenant: str, ctx: Ctx, actor: CurrentActor) -> Response:
    """End this session: its access and refresh tokens stop working now."""
    await account.logout(db=ctx.db, cache=ctx.cache, actor=actor)
    return Response(status_code=204)


@router.post(AUTH + "/reauthenticate", dependencies=[requires("self:write", rate="login")])
async def reauthenticate(
    *,
    body: ReauthenticateIn,
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> AccessTokenOut:
    """Prove identity again; the new access token allows sensitive changes for a while."""
    _no_store(response)
    done = await account.reauthenticate(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant=tenant,
        actor=actor,
        password=body.password,
        code=body.code,
        client_ip=client_ip(request),
    )
    return AccessTokenOut(access_token=done.access_token, expires_in=done.expires_in)


ME = "/api/v1/{tenant}/me"


@router.get(ME, dependencies=[requires("self:read")])
async def get_me(tenant: str, ctx: Ctx, actor: CurrentActor) -> StaffOut:
    """One's own account."""
    return StaffOut.model_validate(await account.get_me(db=ctx.db, actor=actor))


@router.patch(ME, dependencies=[requires("self:write")])
async def update_me(
    *, body: MeUpdateIn, tenant: PathTenant, ctx: Ctx, actor: CurrentActor
) -> StaffOut:
    """Change one's name, e-mail or phone (e-mail and phone need a recent login)."""
    changes = body.model_dump(exclude_unset=True)
    updated = await account.update_me(
        db=ctx.db, settings=ctx.settings, tenant=tenant, actor=actor, **changes
    )
    return StaffOut.model_validate(updated)


@router.post(ME + "/password", status_code=204, dependencies=[requires("self:write", rate="login")])
async def change_password(
    *, body: PasswordChangeIn, tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Change one's password; one's other sessions end."""
    await account.change_password(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant=tenant,
        actor=actor,
        current_password=body.current_password,
        new_password=body.new_password,
        client_ip=client_ip(request),
    )
    return Response(status_code=204)


@router.post(ME + "/totp", dependencies=[requires("self:write")])
async def begin_totp_change(
    *, tenant: PathTenant, ctx: Ctx, actor: CurrentActor, response: Response
) -> EnrolmentOut:
    """A new TOTP secret to replace the current one (needs a recent login)."""
    _no_store(response)
    made = await account.begin_totp_change(
        db=ctx.db, settings=ctx.settings, tenant=tenant, actor=actor
    )
    return EnrolmentOut(secret=made.secret, otpauth_uri=made.uri, qr_data_uri=made.qr_data_uri)


@router.post(ME + "/totp/confirm", dependencies=[requires("self:write", rate="login")])
async def confirm_totp_change(
    *, body: CodeIn, tenant: str, ctx: Ctx, actor: CurrentActor, response: Response
) -> RecoveryCodesOut:
    """Switch to the new secret once a code proves it works; new recovery codes."""
    _no_store(response)
    codes = await account.confirm_totp_change(
        db=ctx.db, cache=ctx.cache, settings=ctx.settings, actor=actor, code=body.code
    )
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(ME + "/recovery-codes", dependencies=[requires("self:write")])
async def regenerate_recovery_codes(
    *, tenant: str, ctx: Ctx, actor: CurrentActor, response: Response
) -> RecoveryCodesOut:
    """New recovery codes; the unused old ones stop working."""
    _no_store(response)
    codes = await account.regenerate_recovery_codes(db=ctx.db, settings=ctx.settings, actor=actor)
    return RecoveryCodesOut(recovery_codes=codes)


STAFF = "/api/v1/{tenant}/staff"


def _invitation(made: staff.Invitation, ctx: Ctx, tenant: str) -> InvitationOut:
    return InvitationOut(
        account=StaffOut.model_validate(made.account),
        activation_url=made.url(ctx.settings, tenant),
        expires_at=made.expires_at,
    )


@router.get(STAFF, dependencies=[requires("staff:read")])
async def list_staff(
    *, tenant: str, ctx: Ctx, actor: CurrentActor, query: Annotated[StaffQuery, Query()]
) -> StaffPageOut:
    """Staff in the caller's jurisdiction, oldest first, cursor-paginated."""
    page = await staff.list_staff(db=ctx.db, actor=actor, **query.model_dump())
    return StaffPageOut.model_validate(page)


@router.post(STAFF, status_code=201, dependencies=[requires("staff:manage")])
async def invite_staff(
    *, body: StaffCreateIn, tenant: PathTenant, ctx: Ctx, actor: CurrentActor, response: Response
) -> InvitationOut:
    """Invite a staff member; hand them the activation link (valid once)."""
    _no_store(response)
    made = await staff.create_staff(
        db=ctx.db, settings=ctx.settings, tenant=tenant, actor=actor, **body.model_dump()
    )
    response.headers["Location"] = f"/api/v1/{tenant.code}/staff/{made.account.id}"
    return _invitation(made, ctx, tenant.code)


@router.get(STAFF + "/{account_id}", dependencies=[requires("staff:read")])
async def get_staff(tenant: str, account_id: uuid.UUID, ctx: Ctx, actor: CurrentActor) -> StaffOut:
    """One staff member (404 outside the caller's jurisdiction)."""
    return StaffOut.model_validate(
        await staff.get_staff(db=ctx.db, actor=actor, account_id=account_id)
    )


@router.patch(STAFF + "/{account_id}", dependencies=[requires("staff:manage")])
async def change_staff(
    *, account_id: uuid.UUID, body: StaffChangeIn, tenant: PathTenant, ctx: Ctx, actor: CurrentActor
) -> StaffOut:
    """Change role and scope; their current tokens stop working on their next request."""
    changed = await staff.change_staff(
        db=ctx.db,
        cache=ctx.cache,
        tenant=tenant,
        actor=actor,
        account_id=account_id,
        **body.model_dump(),
    )
    return StaffOut.model_validate(changed)


@router.post(STAFF + "/{account_id}/disable", dependencies=[requires("staff:manage")])
async def disable_staff(
    *, tenant: str, account_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> StaffOut:
    """Disable an account: effective on its next request."""
    return StaffOut.model_validate(
        await staff.set_status(
            db=ctx.db, cache=ctx.cache, actor=actor, account_id=account_id, enabled=False
        )
    )


@router.post(STAFF + "/{account_id}/enable", dependencies=[requires("staff:manage")])
async def enable_staff(
    *, tenant: str, account_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> StaffOut:
    """Re-enable a disabled account."""
    return StaffOut.model_validate(
        await staff.set_status(
            db=ctx.db, cache=ctx.cache, actor=actor, account_id=account_id, enabled=True
        )
    )


@router.post(STAFF + "/{account_id}/reset", dependencies=[requires("staff:manage")])
async def reset_staff(
    *, tenant: str, account_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, response: Response
) -> InvitationOut:
    """Void password, second factor and sessions; a new activation link."""
    _no_store(response)
    made = await staff.reset_staff(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        actor=actor,
        account_id=account_id,
        tenant_code=tenant,
    )
    return _invitation(made, ctx, tenant)
