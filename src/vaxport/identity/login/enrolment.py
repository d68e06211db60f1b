"""Enrolling the TOTP second factor: a pending secret, shown as a QR code, confirmed by a
code from the app; then single-use recovery codes.

A pending secret never signs anyone in: it becomes the account's factor only once a code
it produced is typed back. Asking again shows the same pending secret (a mistyped code
needs no new scan).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update

from vaxport.core import audit, clock
from vaxport.core.cache import Cache
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Unauthorized
from vaxport.identity.login import throttle, totp
from vaxport.identity.login.staff import (
    BAD_CODE,
    Channel,
    LoginOutcome,
    authenticated,
    count_attempt,
    factor_keys,
    ticket_account,
)
from vaxport.identity.models import Account, RecoveryCode
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A new TOTP secret awaiting confirmation, and how to put it in an authenticator."""

    secret: str
    uri: str
    qr_data_uri: str


def _issuer(tenant: TenantInfo) -> str:
    return f"vaxport {tenant.name}"[:60].replace(":", " ")


async def start_enrolment(
    *, db: Database, settings: Settings, tenant: TenantInfo, ticket: str
) -> Enrolment:
    """The TOTP secret an account must enrol (kept pending until confirmed).

    Asking again shows the same pending secret: a mistyped code needs no new scan.
    """
    account = await ticket_account(db, settings, tenant, ticket, "enrol")
    return await new_pending_secret(db=db, tenant=tenant, account_id=account.id, reuse=True)


async def new_pending_secret(
    *, db: Database, tenant: TenantInfo, account_id: uuid.UUID, reuse: bool = False
) -> Enrolment:
    """Store a pending TOTP secret for the account (``reuse``: keep one that exists)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        account = (
            await uow.session.execute(
                select(Account).where(Account.tenant_id == tenant.id, Account.id == account_id)
            )
        ).scalar_one()
        secret = (account.totp_pending if reuse else None) or totp.new_secret()
        account.totp_pending = secret
        name = account.username or str(account.id)
    uri = totp.provisioning_uri(secret, account_name=name, issuer=_issuer(tenant))
    return Enrolment(secret=secret, uri=uri, qr_data_uri=totp.qr_data_uri(uri))


async def replace_recovery_codes(uow: UnitOfWork, *, account: Account) -> list[str]:
    """Void the account's unused recovery codes and store a new set (hashed); the codes."""
    codes = totp.new_recovery_codes()
    await uow.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))
        .values(used_at=clock.utcnow())
    )
    uow.session.add_all(
        RecoveryCode(
            tenant_id=account.tenant_id,
            account_id=account.id,
            code_hash=totp.recovery_code_hash(c),
        )
        for c in codes
    )
    return codes


async def confirm_pending_secret(
    uow: UnitOfWork, *, account: Account, code: str
) -> list[str] | None:
    """Make the pending secret the account's factor if ``code`` matches; recovery codes."""
    pending = account.totp_pending
    if not pending:
        return None
    step = totp.matching_step(pending, code, now=clock.utcnow(), last_step=None)
    if step is None:
        return None
    account.totp_secret = pending
    account.totp_pending = None
    account.totp_enabled_at = clock.utcnow()
    account.totp_last_step = step
    codes = await replace_recovery_codes(uow, account=account)
    await audit.record(
        uow,
        by=account.principal,
        action="auth.totp_enrol",
        object_type="account",
        object_id=account.id,
    )
    return codes


async def confirm_enrolment(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    ticket: str,
    code: str,
    client_ip: str | None,
    channel: Channel,
) -> LoginOutcome:
    """Confirm the new secret with a code from the app; the login then completes."""
    found = await ticket_account(db, settings, tenant, ticket, "enrol")
    factor_key, address_key = keys = factor_keys(settings, tenant, found, client_ip)
    await count_attempt(db, tenant, keys)
    async with db.transaction(tenant_id=tenant.id) as uow:
        account = (
            await uow.session.execute(
                select(Account).where(Account.tenant_id == tenant.id, Account.id == found.id)
            )
        ).scalar_one()
        codes = await confirm_pending_secret(uow, account=account, code=code)
    if codes is None:
        raise Unauthorized(BAD_CODE)
    await throttle.succeeded(db, tenant_id=tenant.id, user=factor_key, address=address_key)
    outcome = await authenticated(
        db=db,
        settings=settings,
        tenant=tenant,
        account=account,
        amr=["pwd", "otp"],
        channel=channel,
        client_ip=client_ip,
        recovery_codes=codes,
    )
    if outcome.web is not None:
        return LoginOutcome(
            "authenticated", web=outcome.web, account_id=account.id, recovery_codes=codes
        )
    return outcome
