"""Staff accounts: invite, list, read, change, disable, enable, reset.

Invitations (and resets) hand out a single-use link valid ``invite_hours``; following
it, the person chooses a password and enrols their second factor. Only the link's
SHA-256 is stored. An admin manages staff inside their own scope, and only gives roles
``policy.ASSIGNABLE`` lets them give; every change that narrows what an account may do
bumps its token version, so its tokens stop working on the next request.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit, clock
from vaxport.core.cache import Cache
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, NotFound, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.core.principal import OPERATOR
from vaxport.identity.access import policy
from vaxport.identity.access.actor import Actor
from vaxport.identity.access.placement import (
    check_manage,
    placement,
)
from vaxport.identity.access.policy import Resource
from vaxport.identity.credentials import tokens
from vaxport.identity.credentials.account_state import invalidate_after_commit
from vaxport.identity.credentials.sessions import revoke_all_sessions
from vaxport.identity.models import (
    STATUS_ACTIVE,
    STATUS_DISABLED,
    STATUS_INVITED,
    Account,
    RecoveryCode,
)
from vaxport.identity.ports import installed_ports
from vaxport.identity.staff.contacts import normalise_email, normalise_phone
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
INVITE_PREFIX = "vxi"
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class StaffView:
    """A staff account as admins (and the person) see it."""

    id: uuid.UUID
    username: str
    role: str
    region_code: str | None
    facility_id: uuid.UUID | None
    status: str
    display_name: str | None
    email: str | None
    phone: str | None
    totp_enabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Invitation:
    """An account and the single-use link that lets its person in."""

    account: StaffView
    token: str
    expires_at: dt.datetime

    def url(self, settings: Settings, tenant_code: str) -> str:
        """The activation link to hand to the person."""
        base = settings.public_url.rstrip("/")
        return f"{base}/{tenant_code}/staff/activate?token={self.token}"


@dataclass(frozen=True, slots=True)
class StaffPage:
    """A page of staff, by creation order; ``next_cursor`` None on the last."""

    items: list[StaffView]
    next_cursor: str | None


def view(account: Account) -> StaffView:
    """The DTO of an account (decrypting its personal fields)."""
    return StaffView(
        id=account.id,
        username=account.username or "",
        role=account.role,
        region_code=account.region_code,
        facility_id=account.facility_id,
        status=account.status,
        display_name=account.display_name,
        email=account.email,
        phone=account.phone,
        totp_enabled=account.totp_enabled_at is not None,
        created_at=account.created_at,
        last_login_at=account.last_login_at,
    )


def resource_of(account: Account) -> Resource:
    """Where a staff account sits, for scope decisions about it."""
    return Resource(
        tenant_id=account.tenant_id,
        region_code=account.region_code,
        facility_id=account.facility_id,
        owner_id=account.id,
    )


def manageable(actor: Actor, member: StaffView) -> bool:
    """Whether ``actor`` may disable, enable or reset ``member`` (to offer the buttons)."""
    target = Resource(
        tenant_id=actor.tenant_id,
        region_code=member.region_code,
        facility_id=member.facility_id,
    )
    return (
        member.id != actor.account_id
        and policy.may_assign(actor, member.role)
        and policy.can(actor, "staff:manage", target)
    )


def _new_invite(settings: Settings) -> tuple[str, bytes, dt.datetime]:
    token, digest = tokens.new_secret_token(INVITE_PREFIX)
    return token, digest, clock.utcnow() + dt.timedelta(hours=settings.invite_hours)


async def create_staff(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    actor: Actor | None,
    username: str,
    role: str,
    region_code: str | None = None,
    facility_id: uuid.UUID | None = None,
    display_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> Invitation:
    """Invite a staff member; ``actor`` None for the operator's command line."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise invalid("username", N_("3-64 of a-z 0-9 . _ -, starting with a letter"))
    region_code, facility_id = await placement(tenant, role, region_code, facility_id, db=db)
    target = Resource(tenant_id=tenant.id, region_code=region_code, facility_id=facility_id)
    check_manage(actor, role, target)
    token, digest, expires = _new_invite(settings)
    account = Account(
        tenant_id=tenant.id,
        kind="staff",
        username=username,
        role=role,
        region_code=region_code,
        facility_id=facility_id,
        status=STATUS_INVITED,
        invite_token_hash=digest,
        invite_expires_at=expires,
        created_by=actor.account_id if actor else None,
        token_version=1,
    )
    account.display_name = display_name or None
    account.email = normalise_email(email)
    account.phone = normalise_phone(tenant, phone)
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            uow.session.add(account)
            await uow.session.flush()
            await audit.record(
                uow,
                by=actor.principal if actor else OPERATOR,
                action="staff.create",
                object_type="account",
                object_id=account.id,
                details={"role": role},
            )
            made = view(account)
            invitation = Invitation(account=made, token=token, expires_at=expires)
            await _email_invitation(
                uow, settings, (tenant.id, tenant.code), invitation, reset=False
            )
    except IntegrityError as exc:
        raise Conflict(
            N_("that username, e-mail or phone is already in use"),
            errors=[field_error("username", N_("already in use"))],
        ) from exc
    return invitation


async def _email_invitation(
    uow: UnitOfWork,
    settings: Settings,
    tenant: tuple[uuid.UUID, str],
    invitation: Invitation,
    *,
    reset: bool,
) -> None:
    """E-mail the link to the person's address, if any, in the invitation's transaction."""
    account = invitation.account
    wired = installed_ports()
    if not account.email or wired is None or wired.send_invitation is None:
        return
    await wired.send_invitation(
        uow,
        tenant_id=tenant[0],
        destination=account.email,
        activation_url=invitation.url(settings, tenant[1]),
        username=account.username,
        expires_at=invitation.expires_at,
        reset=reset,
        account_id=account.id,
    )


def scoped(query: Select[Account], actor: Actor) -> Select[Account]:
    """Limit a query of accounts to the actor's jurisdiction."""
    if actor.is_national:
        return query
    if actor.facility_id is not None:
        return query.where(Account.facility_id == actor.facility_id)
    codes = actor.region_filter_codes() or frozenset()
    return query.where(Account.region_code.in_(sorted(codes)))


def _cursor(account_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(account_id.bytes).rstrip(b"=").decode()


def _uncursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise invalid("cursor", N_("is not a cursor this list gave out")) from exc


async def list_staff(
    *, db: Database, actor: Actor, cursor: str | None = None, limit: int = 50
) -> StaffPage:
    """Staff in the actor's jurisdiction, oldest first, cursor-paginated."""
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", N_("must be between 1 and {maximum}"), maximum=MAX_LIMIT)
    if not actor.has("staff:read"):
        raise NotFound(N_("not found"))
    query = select(Account).where(Account.tenant_id == actor.tenant_id, Account.kind == "staff")
    query = scoped(query, actor)
    if cursor:
        query = query.where(Account.id > _uncursor(cursor))
    query = query.order_by(Account.id).limit(limit + 1)
    async with db.read(tenant_id=actor.tenant_id) as s:
        rows = (await s.execute(query)).scalars().all()
        items = [view(a) for a in rows[:limit]]
    more = len(rows) > limit
    return StaffPage(items=items, next_cursor=_cursor(items[-1].id) if more else None)


async def _load_for(
    uow: UnitOfWork, actor: Actor, account_id: uuid.UUID, permission: str
) -> Account:
    account = (
        await uow.session.execute(
            select(Account).where(
                Account.tenant_id == actor.tenant_id,
                Account.id == account_id,
                Account.kind == "staff",
            )
        )
    ).scalar_one_or_none()
    if account is None:
        raise NotFound(N_("staff member not found"))
    policy.authorize(actor, permission, resource_of(account), what="staff member")
    return account


async def get_staff(*, db: Database, actor: Actor, account_id: uuid.UUID) -> StaffView:
    """One staff member in the actor's jurisdiction (404 otherwise)."""
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        return view(await _load_for(uow, actor, account_id, "staff:read"))


def _not_self(actor: Actor, account: Account) -> None:
    if account.id == actor.account_id:
        raise Conflict(N_("you cannot do this to your own account"))


def _manageable(actor: Actor, account: Account) -> None:
    _not_self(actor, account)
    if not policy.may_assign(actor, account.role):
        # Seeing someone is not managing them: an admin cannot touch a peer or a superior.
        raise NotFound(N_("staff member not found"))


async def set_status(
    *, db: Database, cache: Cache, actor: Actor, account_id: uuid.UUID, enabled: bool
) -> StaffView:
    """Disable (effective on the next request) or re-enable a staff member."""
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        account = await _load_for(uow, actor, account_id, "staff:manage")
        _manageable(actor, account)
        if enabled:
            if account.status == STATUS_DISABLED:
                account.status = STATUS_ACTIVE if account.password_hash else STATUS_INVITED
                await audit.record(
                    uow,
                    by=actor.principal,
                    action="staff.enable",
                    object_type="account",
                    object_id=account.id,
                )
        elif account.status != STATUS_DISABLED:
            account.status = STATUS_DISABLED
            account.token_version += 1
            await revoke_all_sessions(uow, cache, account=account, reason="disabled")
            await audit.record(
                uow,
                by=actor.principal,
                action="staff.disable",
                object_type="account",
                object_id=account.id,
            )
        invalidate_after_commit(uow, cache, tenant_id=account.tenant_id, account_id=account.id)
        return view(account)


async def reset_staff(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    actor: Actor,
    account_id: uuid.UUID,
    tenant_code: str,
) -> Invitation:
    """Void password, second factor, recovery codes and sessions; a new activation link
    (e-mailed to the person's address, if any)."""
    token, digest, expires = _new_invite(settings)
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        account = await _load_for(uow, actor, account_id, "staff:manage")
        _manageable(actor, account)
        await reset_credentials(uow, cache, account=account, invite_hash=digest, expires=expires)
        await audit.record(
            uow,
            by=actor.principal,
            action="staff.reset",
            object_type="account",
            object_id=account.id,
        )
        invitation = Invitation(account=view(account), token=token, expires_at=expires)
        await _email_invitation(
            uow, settings, (actor.tenant_id, tenant_code), invitation, reset=True
        )
    return invitation


async def reset_credentials(
    uow: UnitOfWork, cache: Cache, *, account: Account, invite_hash: bytes, expires: dt.datetime
) -> None:
    """Clear every credential of ``account`` and arm a new invitation."""
    account.password_hash = None
    account.totp_secret = None
    account.totp_pending = None
    account.totp_enabled_at = None
    account.totp_last_step = None
    account.invite_token_hash = invite_hash
    account.invite_expires_at = expires
    if account.status != STATUS_DISABLED:
        account.status = STATUS_INVITED
    account.token_version += 1
    await uow.session.execute(
        RecoveryCode.__table__.update()  # type: ignore[attr-defined]
        .where(RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))
        .values(used_at=clock.utcnow())
    )
    await revoke_all_sessions(uow, cache, account=account, reason="reset")


async def change_staff(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    actor: Actor,
    account_id: uuid.UUID,
    role: str,
    region_code: str | None,
    facility_id: uuid.UUID | None,
) -> StaffView:
    """Change a staff member's role and scope (effective on their next request)."""
    region_code, facility_id = await placement(tenant, role, region_code, facility_id, db=db)
    target = Resource(tenant_id=actor.tenant_id, region_code=region_code, facility_id=facility_id)
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        account = await _load_for(uow, actor, account_id, "staff:manage")
        _manageable(actor, account)
        check_manage(actor, role, target)
        before = {"role": account.role, "scope": _scope_label(account)}
        account.role, account.region_code, account.facility_id = role, region_code, facility_id
        after = {"role": role, "scope": _scope_label(account)}
        if before != after:
            account.token_version += 1
            await audit.record(
                uow,
                by=actor.principal,
                action="staff.change",
                object_type="account",
                object_id=account.id,
                details={"before": before, "after": after},
            )
        invalidate_after_commit(uow, cache, tenant_id=account.tenant_id, account_id=account.id)
        return view(account)


def _scope_label(account: Account) -> str:
    if account.facility_id is not None:
        return f"facility:{account.facility_id}"
    return f"region:{account.region_code}" if account.region_code else "national"
