"""What keeps an account recovery from being a silent takeover.

Anyone who knows a family member's ID number and birth date can move the account to
their phone (``id-dob``). So every recovery, in its own transaction:

* tells the **old phone and the e-mail** at once (an essential, urgent message: sent
  despite an opt-out, outside quiet hours) with a one-time **undo** code and link;
* puts the account on **hold** for ``recovery.hold_hours`` (tenant configuration) after
  an ``id-dob`` recovery: the new phone signs in and sees its own account, but not the
  family's records (403 ``recovery-hold``). ``email-code`` proves a second possession
  (the account's e-mail), the stronger factor: no hold;
* is kept as an :class:`~vaxport.identity.models.AccountRecovery` row (audited too), which
  support reads through :func:`list_recoveries`.

The undo (:func:`undo`) works once, within ``UNDO_DAYS`` (or the hold, if longer): the
old phone comes back, the hold ends, ``token_version`` is bumped and every session,
the new phone's included, is revoked.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit, clock
from vaxport.core.cache import Cache
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.core.principal import ANONYMOUS
from vaxport.identity.access import policy
from vaxport.identity.access.actor import Actor
from vaxport.identity.credentials import sessions
from vaxport.identity.credentials.secrets import mac
from vaxport.identity.login import totp
from vaxport.identity.models import STATUS_ACTIVE, Account, AccountRecovery
from vaxport.identity.ports import ports
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

UNDO_DAYS = 14
# Every recovery method is one or the other (a test walks the tenant's method list):
HELD_METHODS = frozenset({"id-dob"})  # knowledge only: a relative may know both facts
STRONGER_METHODS = frozenset({"email-code"})  # proves the account's e-mail: no hold
BAD_UNDO = N_("is invalid, expired or already used")
LIST_LIMIT = 50


@dataclass(frozen=True, slots=True)
class RecoveryView:
    """A recovery as support sees it: when, how, who was told, hold, undone."""

    id: uuid.UUID
    account_id: uuid.UUID
    method: str
    created_at: dt.datetime
    notified: list[str]
    hold_until: dt.datetime | None
    undo_expires_at: dt.datetime
    undone_at: dt.datetime | None


def _undo_hash(settings: Settings, code: str) -> bytes:
    return mac(settings, "recovery-undo", totp.normalise_recovery_code(code).encode())


def undo_url(settings: Settings, tenant: TenantInfo, code: str) -> str:
    """The link the old phone and e-mail receive (a page asking to confirm)."""
    base = settings.public_url.rstrip("/")
    return f"{base}/{quote(tenant.code)}/recover/undo?code={quote(code)}"


async def guard(
    uow: UnitOfWork,
    *,
    settings: Settings,
    tenant: TenantInfo,
    account: Account,
    old_phone: str | None,
    method: str,
    locale: str | None,
) -> AccountRecovery:
    """In the recovery's transaction: the hold, the undo code and the notices."""
    notice = ports().send_recovery_notice
    if notice is None:  # a recovery nobody hears of is the hole this closes
        raise RuntimeError("identity's send_recovery_notice port is not installed")
    now = clock.utcnow()
    hours = tenant.config.recovery.hold_hours if method in HELD_METHODS else 0
    hold_until = now + dt.timedelta(hours=hours) if hours else None
    account.recovery_hold_until = hold_until
    code = totp.new_recovery_codes(1)[0]
    recovery = AccountRecovery(
        tenant_id=tenant.id,
        account_id=account.id,
        method=method,
        old_phone=old_phone,
        notified=[],
        hold_until=hold_until,
        undo_hash=_undo_hash(settings, code),
        undo_expires_at=max(now + dt.timedelta(days=UNDO_DAYS), hold_until or now),
    )
    uow.session.add(recovery)
    await uow.session.flush()
    told: list[str] = []
    for kind, destination in (("sms", old_phone), ("email", account.email)):
        if destination:
            await notice(
                uow,
                tenant_id=tenant.id,
                destination=destination,
                kind=kind,  # type: ignore[arg-type]
                undo_url=undo_url(settings, tenant, code),
                undo_code=code,
                hold_hours=hours,
                locale=locale,
                recovery_id=recovery.id,
            )
            told.append(kind)
    recovery.notified = told
    return recovery


async def undo(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    code: str,
    client_ip: str | None,
) -> uuid.UUID:
    """Undo a recovery with the code its notice carried (once); the account's id.

    422 on ``code`` when it is unknown, expired or used; 409 when the old phone now
    belongs to another account.
    """
    digest = _undo_hash(settings, code)
    now = clock.utcnow()
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            s = uow.session
            recovery = (
                await s.execute(
                    select(AccountRecovery)
                    .where(
                        AccountRecovery.tenant_id == tenant.id,
                        AccountRecovery.undo_hash == digest,
                    )
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if (
                recovery is None
                or recovery.undone_at is not None
                or recovery.undo_expires_at <= now
            ):
                raise invalid("code", BAD_UNDO)
            account = (
                await s.execute(
                    select(Account)
                    .where(
                        Account.tenant_id == tenant.id,
                        Account.id == recovery.account_id,
                        Account.status == STATUS_ACTIVE,
                    )
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if account is None:
                raise invalid("code", BAD_UNDO)
            account.phone = recovery.old_phone
            account.token_version += 1
            account.recovery_hold_until = None
            recovery.undone_at = now
            await s.flush()
            await sessions.revoke_all_sessions(
                uow, cache, account=account, reason="recovery_undone"
            )
            await audit.record(
                uow,
                by=ANONYMOUS,
                action="auth.recovery_undo",
                object_type="account",
                object_id=account.id,
                client_ip=client_ip,
                details={"recovery_id": str(recovery.id), "method": recovery.method},
            )
            return account.id
    except IntegrityError as exc:
        raise Conflict(
            N_("the old phone number now belongs to another account: ask support"),
            errors=[field_error("code", N_("the old phone number now belongs to another account"))],
        ) from exc


async def list_recoveries(
    *, db: Database, tenant: TenantInfo, actor: Actor, account_id: uuid.UUID
) -> list[RecoveryView]:
    """The account's recent recoveries, newest first (support and administrators)."""
    policy.authorize(actor, "accounts:recoveries", policy.Resource(tenant_id=tenant.id))
    async with db.read(tenant_id=tenant.id) as s:
        rows = (
            await s.execute(
                select(AccountRecovery)
                .where(
                    AccountRecovery.tenant_id == tenant.id,
                    AccountRecovery.account_id == account_id,
                )
                .order_by(AccountRecovery.created_at.desc(), AccountRecovery.id.desc())
                .limit(LIST_LIMIT)
            )
        ).scalars()
        return [
            RecoveryView(
                id=r.id,
                account_id=r.account_id,
                method=r.method,
                created_at=r.created_at,
                notified=list(r.notified),
                hold_until=r.hold_until,
                undo_expires_at=r.undo_expires_at,
                undone_at=r.undone_at,
            )
            for r in rows
        ]
