"""Staff login: password, then TOTP (or a recovery code), or TOTP enrolment first.

Every step answers the same for an unknown username, a wrong password, and a disabled
account, and does the same work (one argon2 verification). Attempts are throttled per
username and per client address (``throttle``), counted before the check; second-factor
attempts per account and address, a count the right password does not clear.

Outcomes are ``authenticated`` (tokens or a browser session), ``totp_required`` or
``enrolment_required`` (with a ticket for the next step). Roles that see personal data
or administer must use a second factor (``policy.requires_mfa``); accounts that enrolled
one always use it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select, update

from vaxport.core import audit, clock
from vaxport.core.db import Database, UnitOfWork, affected
from vaxport.core.errors import TooManyRequests, Unauthorized
from vaxport.core.i18n import N_
from vaxport.core.principal import ANONYMOUS
from vaxport.identity.access import policy
from vaxport.identity.credentials import sessions, tickets
from vaxport.identity.credentials.sessions import Grant, TokenPair, WebLogin
from vaxport.identity.login import passwords, throttle, totp
from vaxport.identity.models import STATUS_ACTIVE, Account, RecoveryCode
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

Channel = Literal["api", "web"]
Status = Literal["authenticated", "totp_required", "enrolment_required"]
BAD_CREDENTIALS = N_("invalid username or password")
BAD_CODE = N_("invalid or already used code")
EXPIRED = N_("the login has expired; start again")


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """Where a login stands after a step."""

    status: Status
    ticket: str | None = None
    tokens: TokenPair | None = None
    web: WebLogin | None = None
    account_id: uuid.UUID | None = None
    recovery_codes: list[str] = field(default_factory=list)


def attempt_keys(
    settings: Settings, tenant: TenantInfo, account: Account, client_ip: str | None
) -> tuple[throttle.Key, throttle.Key]:
    """The throttle keys of a known account's later steps (second factor, re-auth)."""
    return (
        throttle.user_key(settings, tenant.id, account.username or str(account.id)),
        throttle.address_key(settings, tenant.id, client_ip),
    )


def factor_keys(
    settings: Settings, tenant: TenantInfo, account: Account, client_ip: str | None
) -> tuple[throttle.Key, throttle.Key]:
    """The throttle keys of a second-factor check: the account's own, and the address.

    Not the username's: a right password clears that one, and must not buy more codes.
    """
    return (
        throttle.factor_key(settings, tenant.id, account.id),
        throttle.address_key(settings, tenant.id, client_ip),
    )


async def count_attempt(db: Database, tenant: TenantInfo, keys: tuple[throttle.Key, ...]) -> None:
    """Count an attempt on every key, or refuse with 429 when one is throttled."""
    try:
        await throttle.attempt(db, tenant_id=tenant.id, keys=list(keys))
    except throttle.Throttled as exc:
        raise _throttled(exc) from exc


def _throttled(exc: throttle.Throttled) -> TooManyRequests:
    seconds = max(1, int(exc.retry_after + 0.999))
    return TooManyRequests(
        N_("too many failed attempts; try again later"),
        headers={"Retry-After": str(seconds)},
        retry_after=seconds,
    )


async def audit_refusal(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    action: str,
    client_ip: str | None,
    details: dict[str, object],
    account_id: uuid.UUID | None = None,
    outcome: str = "failure",
) -> None:
    """Audit a refused sign-in step in a transaction of its own (the step's rolls back).

    By no one: a refused caller has proven nothing, whichever account they named (the
    entry's object, ``account_id``, when one was found).
    """
    await audit.record_standalone(
        db,
        tenant_id=tenant_id,
        by=ANONYMOUS,
        action=action,
        object_type="account",
        object_id=account_id,
        outcome=outcome,
        client_ip=client_ip,
        details=details,
    )


async def load_account(db: Database, tenant_id: uuid.UUID, *where: Any) -> Account | None:
    """One account of the tenant, detached with its attributes (and field keys) loaded."""
    async with db.read(tenant_id=tenant_id) as s:
        found = (
            await s.execute(select(Account).where(Account.tenant_id == tenant_id, *where))
        ).scalar_one_or_none()
        if found is not None:
            s.expunge(found)  # the read's rollback would expire it otherwise
        return found


async def _account_by_username(db: Database, tenant_id: uuid.UUID, username: str) -> Account | None:
    return await load_account(
        db, tenant_id, Account.kind == "staff", Account.username == username.strip().lower()
    )


async def _account(db: Database, tenant_id: uuid.UUID, account_id: uuid.UUID) -> Account | None:
    return await load_account(db, tenant_id, Account.id == account_id)


async def _finish(
    uow: UnitOfWork,
    *,
    settings: Settings,
    tenant: TenantInfo,
    account: Account,
    amr: list[str],
    channel: Channel,
) -> Grant | WebLogin:
    await uow.session.execute(
        update(Account).where(Account.id == account.id).values(last_login_at=clock.utcnow())
    )
    if channel == "web":
        return await sessions.open_web_session(
            uow, settings=settings, account=account, tenant_code=tenant.code, amr=amr
        )
    return await sessions.open_api_session(uow, settings=settings, account=account, amr=amr)


async def authenticated(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    account: Account,
    amr: list[str],
    channel: Channel,
    client_ip: str | None,
    recovery_codes: list[str] | None = None,
) -> LoginOutcome:
    async with db.transaction(tenant_id=tenant.id) as uow:
        made = await _finish(
            uow, settings=settings, tenant=tenant, account=account, amr=amr, channel=channel
        )
        await audit.record(
            uow,
            by=account.principal,
            action="auth.login",
            object_type="account",
            object_id=account.id,
            client_ip=client_ip,
            details={"amr": amr, "channel": channel},
        )
    if isinstance(made, WebLogin):
        return LoginOutcome("authenticated", web=made, account_id=account.id)
    pair = await sessions.issue_pair(db=db, settings=settings, grant=made, tenant_code=tenant.code)
    return LoginOutcome(
        "authenticated", tokens=pair, account_id=account.id, recovery_codes=recovery_codes or []
    )


async def after_first_factor(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    account: Account,
    channel: Channel,
    client_ip: str | None,
) -> LoginOutcome:
    """The next step once the password is proven: second factor, enrolment, or done."""
    if account.totp_enabled_at is not None or policy.requires_mfa(account.role):
        stage: tickets.Stage = "totp" if account.totp_enabled_at is not None else "enrol"
        ticket = tickets.issue(
            settings,
            account_id=account.id,
            tenant_id=tenant.id,
            stage=stage,
            token_version=account.token_version,
        )
        return LoginOutcome(
            "totp_required" if stage == "totp" else "enrolment_required",
            ticket=ticket,
            account_id=account.id,
        )
    return await authenticated(
        db=db,
        settings=settings,
        tenant=tenant,
        account=account,
        amr=["pwd"],
        channel=channel,
        client_ip=client_ip,
    )


async def login_password(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    username: str,
    password: str,
    client_ip: str | None,
    channel: Channel,
) -> LoginOutcome:
    """First factor. Unauthorized (the same for every failure) or TooManyRequests."""
    user_key = throttle.user_key(settings, tenant.id, username.strip())
    address_key = throttle.address_key(settings, tenant.id, client_ip)
    try:
        await throttle.attempt(db, tenant_id=tenant.id, keys=[user_key, address_key])
    except throttle.Throttled as exc:
        await audit_refusal(
            db,
            tenant_id=tenant.id,
            action="auth.login",
            outcome="denied",
            client_ip=client_ip,
            details={"reason": "throttled"},
        )
        raise _throttled(exc) from exc
    account = await _account_by_username(db, tenant.id, username)
    usable = account is not None and account.status == STATUS_ACTIVE
    ok, new_hash = await passwords.verify_password(
        account.password_hash if account is not None and usable else None, password
    )
    if not ok or account is None:
        await audit_refusal(
            db,
            tenant_id=tenant.id,
            action="auth.login",
            account_id=account.id if account else None,
            client_ip=client_ip,
            details={"reason": "bad_credentials"},
        )
        raise Unauthorized(BAD_CREDENTIALS)
    await throttle.succeeded(db, tenant_id=tenant.id, user=user_key, address=address_key)
    if new_hash is not None:
        async with db.transaction(tenant_id=tenant.id) as uow:
            await uow.session.execute(
                update(Account).where(Account.id == account.id).values(password_hash=new_hash)
            )
    return await after_first_factor(
        db=db,
        settings=settings,
        tenant=tenant,
        account=account,
        channel=channel,
        client_ip=client_ip,
    )


async def ticket_account(
    db: Database, settings: Settings, tenant: TenantInfo, ticket: str, stage: tickets.Stage
) -> Account:
    found = tickets.verify(settings, ticket, tenant_id=tenant.id, stage=stage)
    account = await _account(db, tenant.id, found.account_id) if found else None
    if (
        found is None
        or account is None
        or account.status != STATUS_ACTIVE
        or account.token_version != found.token_version
    ):
        raise Unauthorized(EXPIRED)
    return account


async def login_second_factor(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    ticket: str,
    code: str | None,
    recovery_code: str | None,
    client_ip: str | None,
    channel: Channel,
) -> LoginOutcome:
    """Second factor: a TOTP code (never one already used) or a recovery code (once)."""
    account = await ticket_account(db, settings, tenant, ticket, "totp")
    factor_key, address_key = keys = factor_keys(settings, tenant, account, client_ip)
    await count_attempt(db, tenant, keys)
    amr: list[str] | None = None
    async with db.transaction(tenant_id=tenant.id) as uow:
        if code is not None:
            amr = await use_totp(uow, account, code, secret=account.totp_secret)
        elif recovery_code is not None:
            amr = await _use_recovery_code(uow, account, recovery_code)
    if amr is None:
        await audit_refusal(
            db,
            tenant_id=tenant.id,
            action="auth.second_factor",
            account_id=account.id,
            client_ip=client_ip,
            details={"method": "totp" if code is not None else "recovery"},
        )
        raise Unauthorized(BAD_CODE)
    await throttle.succeeded(db, tenant_id=tenant.id, user=factor_key, address=address_key)
    return await authenticated(
        db=db,
        settings=settings,
        tenant=tenant,
        account=account,
        amr=amr,
        channel=channel,
        client_ip=client_ip,
    )


async def use_totp(
    uow: UnitOfWork, account: Account, code: str, *, secret: str | None
) -> list[str] | None:
    if not secret:
        return None
    step = totp.matching_step(secret, code, now=clock.utcnow(), last_step=account.totp_last_step)
    if step is None:
        return None
    # Compare-and-set on the last step: two requests with one code, only one wins.
    won = await uow.session.execute(
        update(Account)
        .where(
            Account.id == account.id,
            (Account.totp_last_step.is_(None)) | (Account.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return ["pwd", "otp"] if affected(won) == 1 else None


async def _use_recovery_code(uow: UnitOfWork, account: Account, code: str) -> list[str] | None:
    digest = totp.recovery_code_hash(code)
    used = await uow.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.account_id == account.id,
            RecoveryCode.code_hash == digest,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=clock.utcnow())
    )
    if affected(used) != 1:
        return None
    await audit.record(
        uow,
        by=account.principal,
        action="auth.recovery_code_use",
        object_type="account",
        object_id=account.id,
    )
    return ["pwd", "otp"]
