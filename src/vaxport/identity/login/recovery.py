"""Account recovery: a citizen whose phone changed moves the account to a new phone.

The new phone is proven by a one-time code; the account is proven by a second factor
the tenant allows (``recovery.methods``):

* ``email-code``: a code sent to the account's e-mail address (the account is the
  citizen account holding that address);
* ``id-dob``: the account's old phone number, plus the ID number and date of birth of a
  registered member of it (the ``member_lookup`` port: registration answers).

Starting always sends the same codes and answers the same whatever was given: an
unknown account and a wrong factor are found out only at the end, where they get the
same refusal as a wrong code. Success moves the phone, bumps ``token_version`` and
revokes every session (a lost phone's sessions end), audits, and signs the person in;
``recovery_guard`` tells the old phone and e-mail (with an undo) and holds the family's
records back for a while after an ``id-dob`` recovery.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import Conflict, Problem, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.identity.credentials import sessions
from vaxport.identity.login import citizen, otp, recovery_guard
from vaxport.identity.login import staff as login
from vaxport.identity.login.staff import Channel, LoginOutcome
from vaxport.identity.models import STATUS_ACTIVE, Account
from vaxport.identity.ports import ports
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo, validate_id_number

_NOBODY = "none"


@dataclass(frozen=True, slots=True)
class RecoveryStarted:
    """The code sent to the new phone and, for ``email-code``, the e-mailed one."""

    transaction_id: uuid.UUID
    factor_transaction_id: uuid.UUID | None


def _required(value: str | None, field: str) -> str:
    if not value:
        raise invalid(field, N_("is required for this recovery method"))
    return value


async def start_recovery(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    method: str,
    new_phone: str,
    email: str | None = None,
    phone: str | None = None,
    id_type: str | None = None,
    id_number: str | None = None,
    birth_date: dt.date | None = None,
    client_ip: str | None,
    locale: str | None,
) -> RecoveryStarted:
    """Send the recovery codes (422 for malformed input, 429 for a capped destination)."""
    if method not in tenant.config.recovery.methods:
        raise invalid("method", N_("is not offered here"))
    new = otp.parse_destination(tenant, new_phone, kind="phone", field="new_phone")
    factor_tx: uuid.UUID | None = None
    if method == "email-code":
        address = otp.parse_destination(
            tenant, _required(email, "email"), kind="email", field="email"
        )
        factor_tx = await otp.request_code(
            db=db,
            settings=settings,
            tenant=tenant,
            destination=address.value,
            kind="email",
            purpose="recovery",
            client_ip=client_ip,
            locale=locale,
            field="email",
        )
        context = f"email-code:{factor_tx}"
    else:
        old = otp.parse_destination(tenant, _required(phone, "phone"), kind="phone", field="phone")
        number = validate_id_number(
            config=tenant.config, id_type=_required(id_type, "id_type"), value=id_number or ""
        )
        if birth_date is None:
            raise invalid("birth_date", N_("is required for this recovery method"))
        account = await citizen.find_citizen(db, tenant.id, old)
        # The same lookup runs for an unknown account (against an id that holds nobody).
        holds = await ports().member_lookup(
            db,
            tenant_id=tenant.id,
            account_id=account.id if account is not None else uuid.uuid4(),
            id_type=str(id_type),
            id_number=number,
            birth_date=birth_date,
        )
        context = f"id-dob:{account.id if account is not None and holds else _NOBODY}"
    transaction_id = await otp.request_code(
        db=db,
        settings=settings,
        tenant=tenant,
        destination=new.value,
        kind="phone",
        purpose="recovery",
        client_ip=client_ip,
        locale=locale,
        context=context,
        field="new_phone",
    )
    return RecoveryStarted(transaction_id, factor_tx)


async def _proven_account(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    context: str,
    factor_transaction_id: uuid.UUID | None,
    factor_code: str | None,
) -> tuple[str, uuid.UUID | None]:
    """``(method, account id or None)`` of a verified new-phone code's context."""
    method, _, ref = context.partition(":")
    if method == "id-dob":
        return method, None if ref == _NOBODY else uuid.UUID(ref)
    if str(factor_transaction_id) != ref or not factor_code:
        raise otp.rejected("factor_code")
    try:
        address = await otp.verify_code(
            db=db,
            settings=settings,
            tenant=tenant,
            transaction_id=uuid.UUID(ref),
            code=factor_code,
            purpose="recovery",
        )
    except Problem:
        raise otp.rejected("factor_code") from None
    found = await citizen.find_citizen(db, tenant.id, address)
    if found is None:  # the same refusal as a wrong e-mail code
        raise otp.rejected("factor_code")
    return method, found.id


async def finish_recovery(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    transaction_id: uuid.UUID,
    code: str,
    factor_transaction_id: uuid.UUID | None = None,
    factor_code: str | None = None,
    client_ip: str | None,
    channel: Channel,
    locale: str | None = None,
) -> LoginOutcome:
    """Verify both proofs, move the account to the new phone, sign in on it.

    A wrong code, a wrong factor and an unknown account are the same 422.
    """
    method = "unknown"
    try:
        new = await otp.verify_code(
            db=db,
            settings=settings,
            tenant=tenant,
            transaction_id=transaction_id,
            code=code,
            purpose="recovery",
        )
        method, account_id = await _proven_account(
            db=db,
            settings=settings,
            tenant=tenant,
            context=new.context or "",
            factor_transaction_id=factor_transaction_id,
            factor_code=factor_code,
        )
        account = await _move_phone(
            db,
            cache,
            settings=settings,
            locale=locale,
            tenant=tenant,
            account_id=account_id,
            phone=new.value,
            method=method,
            client_ip=client_ip,
        )
    except Problem as problem:
        if problem.status != 409:
            await login.audit_refusal(
                db,
                tenant_id=tenant.id,
                action="auth.recovery",
                client_ip=client_ip,
                details={"method": method},
            )
        raise
    return await login.authenticated(
        db=db,
        settings=settings,
        tenant=tenant,
        account=account,
        amr=["sms", "otp" if method == "email-code" else "kba"],
        channel=channel,
        client_ip=client_ip,
    )


async def _move_phone(
    db: Database,
    cache: Cache,
    *,
    settings: Settings,
    locale: str | None,
    tenant: TenantInfo,
    account_id: uuid.UUID | None,
    phone: str,
    method: str,
    client_ip: str | None,
) -> Account:
    if account_id is None:
        raise otp.rejected()
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            account = (
                await uow.session.execute(
                    select(Account)
                    .where(
                        Account.tenant_id == tenant.id,
                        Account.id == account_id,
                        Account.kind == "citizen",
                        Account.status == STATUS_ACTIVE,
                    )
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if account is None:
                raise otp.rejected()
            old_phone = account.phone
            account.phone = phone
            account.token_version += 1
            await uow.session.flush()
            await sessions.revoke_all_sessions(uow, cache, account=account, reason="recovery")
            guarded = await recovery_guard.guard(
                uow,
                settings=settings,
                tenant=tenant,
                account=account,
                old_phone=old_phone,
                method=method,
                locale=locale,
            )
            await audit.record(
                uow,
                by=account.principal,
                action="auth.recovery",
                object_type="account",
                object_id=account.id,
                client_ip=client_ip,
                details={
                    "method": method,
                    "recovery_id": str(guarded.id),
                    "notified": guarded.notified,
                    "hold_until": guarded.hold_until.isoformat() if guarded.hold_until else None,
                },
            )
            await uow.session.flush()
            uow.session.expunge(account)
    except IntegrityError as exc:
        raise Conflict(
            N_("this phone number already belongs to another account"),
            errors=[field_error("new_phone", N_("already belongs to another account"))],
        ) from exc
    return account
