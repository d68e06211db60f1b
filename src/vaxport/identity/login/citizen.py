"""Citizen login by one-time code to a phone or e-mail address.

Asking for a code never looks at accounts (``otp.request_code``): a known and an unknown
destination get the same answer after the same work. A correct code finds the citizen
account by the destination's blind index, or creates it: the first successful login is
how a citizen account comes to exist. Two first logins at once create one account (the
unique blind index decides; the loser reads the winner's row).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.crypto import blind_match
from vaxport.core.db import Database
from vaxport.core.errors import Problem
from vaxport.identity.access import policy
from vaxport.identity.login import otp
from vaxport.identity.login import staff as login
from vaxport.identity.login.otp import Destination, DestinationKind
from vaxport.identity.login.staff import Channel, LoginOutcome
from vaxport.identity.models import STATUS_ACTIVE, Account
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

AMR_BY_KIND = {"phone": "sms", "email": "otp"}


async def request_login_code(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    destination: str,
    kind: DestinationKind | None,
    client_ip: str | None,
    locale: str | None,
    field: str = "destination",
) -> uuid.UUID:
    """Send a login code; the transaction id (the same answer for any valid destination)."""
    return await otp.request_code(
        db=db,
        settings=settings,
        tenant=tenant,
        destination=destination,
        kind=kind,
        purpose="login",
        client_ip=client_ip,
        locale=locale,
        field=field,
    )


async def find_citizen(db: Database, tenant_id: uuid.UUID, dest: Destination) -> Account | None:
    """The citizen account a destination belongs to (detached), if any."""
    async with db.read(tenant_id=tenant_id) as s:
        column = Account.phone_bidx if dest.kind == "phone" else Account.email_bidx  # type: ignore[attr-defined]
        match = await blind_match(s, column, tenant_id=tenant_id, kind=dest.kind, value=dest.value)
        found = (
            await s.execute(
                select(Account).where(
                    Account.tenant_id == tenant_id, Account.kind == "citizen", match
                )
            )
        ).scalar_one_or_none()
        if found is not None:
            s.expunge(found)
        return found


async def citizen_account_for(
    *, db: Database, tenant: TenantInfo, dest: Destination, client_ip: str | None = None
) -> tuple[Account, bool]:
    """The citizen account of a proven destination, created if there is none yet.

    ``(account, created)``; race-safe: concurrent calls for one destination make one row.
    """
    found = await find_citizen(db, tenant.id, dest)
    if found is not None:
        return found, False
    account = Account(
        tenant_id=tenant.id,
        kind="citizen",
        role=policy.CITIZEN,
        status=STATUS_ACTIVE,
        token_version=1,
    )
    if dest.kind == "phone":
        account.phone = dest.value
    else:
        account.email = dest.value
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            uow.session.add(account)
            await uow.session.flush()
            await audit.record(
                uow,
                by=account.principal,
                action="auth.account_create",
                object_type="account",
                object_id=account.id,
                client_ip=client_ip,
                details={"kind": "citizen", "via": dest.kind},
            )
            uow.session.expunge(account)
    except IntegrityError:
        winner = await find_citizen(db, tenant.id, dest)
        if winner is None:
            raise
        return winner, False
    return account, True


async def login_with_code(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    transaction_id: uuid.UUID,
    code: str,
    client_ip: str | None,
    channel: Channel,
) -> LoginOutcome:
    """A correct login code: tokens (API) or a browser session, the account made if new.

    Wrong, expired, used-up codes and disabled accounts are the same 422 on ``code``.
    """
    try:
        dest = await otp.verify_code(
            db=db,
            settings=settings,
            tenant=tenant,
            transaction_id=transaction_id,
            code=code,
            purpose="login",
        )
        account, _ = await citizen_account_for(db=db, tenant=tenant, dest=dest, client_ip=client_ip)
        if account.status != STATUS_ACTIVE:
            raise otp.rejected()
    except Problem:
        await login.audit_refusal(
            db,
            tenant_id=tenant.id,
            action="auth.login",
            client_ip=client_ip,
            details={"method": "code", "channel": channel},
        )
        raise
    return await login.authenticated(
        db=db,
        settings=settings,
        tenant=tenant,
        account=account,
        amr=[AMR_BY_KIND[dest.kind]],
        channel=channel,
        client_ip=client_ip,
    )
