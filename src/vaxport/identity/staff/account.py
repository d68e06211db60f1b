"""Self-service: one's own account, activation, re-authentication, password and MFA.

Changing e-mail, phone or the second factor needs a *recent* proof of identity (within
``reauth_seconds`` of the last password + second factor): a stolen session alone cannot
take over the account. A stale one gets 401 with the RFC 9470 step-up challenge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update

from vaxport.core import audit, clock
from vaxport.core.cache import Cache
from vaxport.core.db import Database, UnitOfWork, affected
from vaxport.core.errors import Unauthorized, ValidationFailed, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.identity.access import policy
from vaxport.identity.access.actor import Actor
from vaxport.identity.credentials import tokens
from vaxport.identity.credentials.account_state import invalidate_after_commit
from vaxport.identity.credentials.sessions import revoke_session
from vaxport.identity.login import enrolment, passwords, throttle
from vaxport.identity.login import staff as login
from vaxport.identity.models import STATUS_ACTIVE, STATUS_INVITED, Account, AuthSession
from vaxport.identity.staff import admin as staff
from vaxport.identity.staff import contacts
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

_UNSET = object()


class ReauthenticationRequired(Unauthorized):
    """The login is too old for this change: prove who you are again."""

    slug, title = "reauthentication-required", "Recent authentication required"


def require_recent_auth(actor: Actor, settings: Settings) -> None:
    """Refuse unless the actor authenticated within ``reauth_seconds``."""
    if not actor.authenticated_within(settings.reauth_seconds, now=clock.utcnow()):
        raise ReauthenticationRequired(
            "sign in again (password and code) to make this change",
            headers={
                "WWW-Authenticate": (
                    'Bearer error="insufficient_user_authentication", '
                    'error_description="recent authentication required", '
                    f"max_age={settings.reauth_seconds}"
                )
            },
        )


async def _own(uow: UnitOfWork, actor: Actor) -> Account:
    return (
        await uow.session.execute(
            select(Account).where(
                Account.tenant_id == actor.tenant_id, Account.id == actor.account_id
            )
        )
    ).scalar_one()


async def get_me(*, db: Database, actor: Actor) -> staff.StaffView:
    """The actor's own account."""
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        return staff.view(await _own(uow, actor))


async def update_me(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    actor: Actor,
    display_name: object = _UNSET,
    email: object = _UNSET,
    phone: object = _UNSET,
) -> staff.StaffView:
    """Change one's name (any time), e-mail or phone (recent authentication only)."""
    if email is not _UNSET or phone is not _UNSET:
        require_recent_auth(actor, settings)
    changed: list[str] = []
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        account = await _own(uow, actor)
        if display_name is not _UNSET:
            account.display_name = str(display_name) if display_name else None
            changed.append("display_name")
        if email is not _UNSET:
            account.email = contacts.normalise_email(email if isinstance(email, str) else None)
            changed.append("email")
        if phone is not _UNSET:
            number = phone if isinstance(phone, str) else None
            account.phone = contacts.normalise_phone(tenant, number)
            changed.append("phone")
        if changed:
            await audit.record(
                uow,
                by=actor.principal,
                action="account.update",
                object_type="account",
                object_id=actor.account_id,
                details={"fields": changed},
            )
        return staff.view(account)


async def begin_totp_change(
    *, db: Database, settings: Settings, tenant: TenantInfo, actor: Actor
) -> enrolment.Enrolment:
    """A new pending TOTP secret (the current one works until the new one is confirmed)."""
    require_recent_auth(actor, settings)
    return await enrolment.new_pending_secret(db=db, tenant=tenant, account_id=actor.account_id)


async def confirm_totp_change(
    *, db: Database, cache: Cache, settings: Settings, actor: Actor, code: str
) -> list[str]:
    """Switch to the pending secret once a code proves it is set up; new recovery codes."""
    require_recent_auth(actor, settings)
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        account = await _own(uow, actor)
        codes = await enrolment.confirm_pending_secret(uow, account=account, code=code)
        if codes is None:
            raise invalid("code", N_("does not match the new secret"))
        invalidate_after_commit(uow, cache, tenant_id=actor.tenant_id, account_id=account.id)
    return codes


async def regenerate_recovery_codes(*, db: Database, settings: Settings, actor: Actor) -> list[str]:
    """Void unused recovery codes and issue a new set."""
    require_recent_auth(actor, settings)
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        account = await _own(uow, actor)
        if account.totp_enabled_at is None:
            raise invalid("totp", N_("enrol a second factor first"))
        codes = await enrolment.replace_recovery_codes(uow, account=account)
        await audit.record(
            uow,
            by=actor.principal,
            action="auth.recovery_codes_renew",
            object_type="account",
            object_id=actor.account_id,
        )
    return codes


@dataclass(frozen=True, slots=True)
class Reauthenticated:
    """A fresh access token (API sessions) carrying the new ``auth_time``."""

    access_token: str | None
    expires_in: int


async def reauthenticate(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    actor: Actor,
    password: str,
    code: str | None,
    client_ip: str | None,
) -> Reauthenticated:
    """Prove identity again within a session: password, and a code if enrolled."""
    account = await login.load_account(db, actor.tenant_id, Account.id == actor.account_id)
    assert account is not None
    user_key, address_key = login.attempt_keys(settings, tenant, account, client_ip)
    # A code checked here counts against the account's second factor too (and only a
    # right code clears that count), so re-authentication is no side door for guessing.
    factor_key = login.factor_keys(settings, tenant, account, client_ip)[0]
    checks_code = account.totp_enabled_at is not None
    keys = (user_key, factor_key, address_key) if checks_code else (user_key, address_key)
    await login.count_attempt(db, tenant, keys)
    ok, _ = await passwords.verify_password(account.password_hash, password)
    amr: list[str] | None = ["pwd"] if ok else None
    async with db.transaction(tenant_id=tenant.id) as uow:
        if ok and account.totp_enabled_at is not None:
            amr = await login.use_totp(uow, account, code or "", secret=account.totp_secret)
        if amr is not None and actor.session_id is not None:
            await uow.session.execute(
                update(AuthSession)
                .where(AuthSession.id == actor.session_id, AuthSession.revoked_at.is_(None))
                .values(auth_time=clock.utcnow())
            )
            await audit.record(
                uow,
                by=actor.principal,
                action="auth.reauthenticate",
                object_type="account",
                object_id=actor.account_id,
                details={"amr": amr},
            )
            invalidate_after_commit(
                uow,
                cache,
                tenant_id=tenant.id,
                account_id=account.id,
                session_ids=[actor.session_id],
            )
    if amr is None:
        raise Unauthorized(login.BAD_CREDENTIALS)
    await throttle.succeeded(db, tenant_id=tenant.id, user=user_key, address=address_key)
    if checks_code:
        await throttle.clear(db, tenant_id=tenant.id, key=factor_key)
    if actor.session_id is None:
        return Reauthenticated(None, 0)
    issued = await tokens.issue_access_token(
        db=db,
        settings=settings,
        account_id=account.id,
        tenant_id=tenant.id,
        tenant_code=tenant.code,
        kind=account.kind,
        role=account.role,
        scope=actor.scope,
        token_version=account.token_version,
        session_id=actor.session_id,
        auth_time=clock.utcnow(),
        amr=amr,
    )
    return Reauthenticated(issued.token, settings.access_token_seconds)


async def _password_ok(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    account: Account,
    password: str,
    client_ip: str | None,
) -> bool:
    keys = login.attempt_keys(settings, tenant, account, client_ip)
    await login.count_attempt(db, tenant, keys)
    ok, _ = await passwords.verify_password(account.password_hash, password)
    if ok:
        await throttle.succeeded(db, tenant_id=tenant.id, user=keys[0], address=keys[1])
    return ok


async def change_password(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    actor: Actor,
    current_password: str,
    new_password: str,
    client_ip: str | None,
) -> None:
    """Change one's password (the current one required); other sessions end."""
    account = await login.load_account(db, actor.tenant_id, Account.id == actor.account_id)
    assert account is not None
    problems = passwords.reasons(new_password, username=account.username)
    if problems:
        raise _refused("new_password", problems)
    if not await _password_ok(
        db=db,
        settings=settings,
        tenant=tenant,
        account=account,
        password=current_password,
        client_ip=client_ip,
    ):
        raise invalid("current_password", N_("is not your current password"))
    new_hash = await passwords.hash_password(new_password)
    others: list[uuid.UUID] = []
    async with db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Account)
            .where(Account.id == account.id)
            .values(password_hash=new_hash, password_changed_at=clock.utcnow())
        )
        others = list(
            (
                await uow.session.execute(
                    select(AuthSession.id).where(
                        AuthSession.account_id == account.id,
                        AuthSession.revoked_at.is_(None),
                        AuthSession.id != actor.session_id,
                    )
                )
            ).scalars()
        )
        await audit.record(
            uow,
            by=actor.principal,
            action="auth.password_change",
            object_type="account",
            object_id=actor.account_id,
            details={"sessions_ended": len(others)},
        )
    for sid in others:
        await revoke_session(
            db=db,
            cache=cache,
            tenant_id=tenant.id,
            session_id=sid,
            reason="password_change",
            by=actor.principal,
        )


async def activate(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    token: str,
    password: str,
    client_ip: str | None,
    channel: login.Channel,
) -> login.LoginOutcome:
    """Follow an invitation: choose a password; then enrol the second factor if needed."""
    digest = tokens.secret_hash(token)
    account = await login.load_account(db, tenant.id, Account.invite_token_hash == digest)
    now = clock.utcnow()
    if (
        account is None
        or account.status != STATUS_INVITED
        or account.invite_expires_at is None
        or account.invite_expires_at <= now
    ):
        raise invalid("token", N_("this link is invalid, used or expired; ask for a new one"))
    problems = passwords.reasons(password, username=account.username)
    if problems:
        raise _refused("password", problems)
    new_hash = await passwords.hash_password(password)
    async with db.transaction(tenant_id=tenant.id) as uow:
        done = await uow.session.execute(
            update(Account)
            .where(
                Account.id == account.id,
                Account.invite_token_hash == digest,
                Account.status == STATUS_INVITED,
            )
            .values(
                password_hash=new_hash,
                password_changed_at=now,
                status=STATUS_ACTIVE,
                invite_token_hash=None,
                invite_expires_at=None,
            )
        )
        if affected(done) != 1:
            raise invalid("token", N_("this link is invalid, used or expired; ask for a new one"))
        await audit.record(
            uow,
            by=account.principal,
            action="auth.activate",
            object_type="account",
            object_id=account.id,
            client_ip=client_ip,
            details={"mfa_required": policy.requires_mfa(account.role)},
        )
    account.status = STATUS_ACTIVE
    return await login.after_first_factor(
        db=db,
        settings=settings,
        tenant=tenant,
        account=account,
        channel=channel,
        client_ip=client_ip,
    )


async def logout(*, db: Database, cache: Cache, actor: Actor) -> None:
    """End the actor's session: its tokens (or cookie) stop working at once."""
    if actor.session_id is None:
        return
    await revoke_session(
        db=db,
        cache=cache,
        tenant_id=actor.tenant_id,
        session_id=actor.session_id,
        reason="logout",
        by=actor.principal,
    )


def _refused(field: str, problems: list[str]) -> ValidationFailed:
    """The password rules ``problems`` (message ids) broken by ``field``."""
    errors: list[dict[str, str]] = [
        field_error(field, p, min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)
        for p in problems
    ]
    return ValidationFailed("; ".join(e["reason"] for e in errors), errors=errors)
