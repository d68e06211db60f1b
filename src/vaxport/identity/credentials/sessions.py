"""Sessions: what a successful login produces, and how it is refreshed and ended.

An API login gets a short access token and an opaque refresh token. Each refresh token
is used once: refreshing marks it used and hands out a new one in the same session
(family). Presenting a used one again means a copy is in someone else's hands: the
whole session is revoked and every token of it stops working on the next request.

A browser login gets a session cookie holding an opaque token (its SHA-256 is stored).
Both kinds end at the session's absolute expiry (``staff_session_hours``) or logout.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update

from vaxport.core import audit, clock
from vaxport.core.cache import Cache
from vaxport.core.db import Database, UnitOfWork, affected
from vaxport.core.errors import Unauthorized
from vaxport.core.i18n import N_
from vaxport.core.ids import uuid7
from vaxport.core.logging import get_logger
from vaxport.core.principal import SYSTEM, Principal
from vaxport.identity.credentials import tokens
from vaxport.identity.credentials.account_state import invalidate_after_commit
from vaxport.identity.models import STATUS_ACTIVE, Account, AuthSession, RefreshToken
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404

log = get_logger(__name__)

REFRESH_PREFIX = "vxr"
WEB_PREFIX = "vxs"


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What an API client keeps after logging in or refreshing."""

    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret


@dataclass(frozen=True, slots=True)
class WebLogin:
    """What a browser keeps: the cookie value, and when it expires."""

    cookie: str
    expires_at: dt.datetime
    session_id: uuid.UUID


def scope_of(account: Account) -> str:
    """The scope claim of an account."""
    if account.kind == "citizen":
        return "self"
    if account.facility_id is not None:
        return f"facility:{account.facility_id}"
    if account.region_code is not None:
        return f"region:{account.region_code}"
    return "national"


@dataclass(frozen=True, slots=True)
class Grant:
    """A session row written in a unit of work; its access token is signed after commit.

    (Signing may create the installation's first key in a transaction of its own, and a
    token must never name a session that could still roll back.)
    """

    account_id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    role: str
    scope: str
    token_version: int
    session_id: uuid.UUID
    auth_time: dt.datetime
    amr: tuple[str, ...]
    refresh_token: str


def _grant(account: Account, session: AuthSession, refresh_token: str) -> Grant:
    return Grant(
        account_id=account.id,
        tenant_id=account.tenant_id,
        kind=account.kind,
        role=account.role,
        scope=scope_of(account),
        token_version=account.token_version,
        session_id=session.id,
        auth_time=session.auth_time,
        amr=tuple(session.amr),
        refresh_token=refresh_token,
    )


async def issue_pair(
    *, db: Database, settings: Settings, grant: Grant, tenant_code: str
) -> TokenPair:
    """Sign the access token of a committed grant."""
    access = await tokens.issue_access_token(
        db=db,
        settings=settings,
        account_id=grant.account_id,
        tenant_id=grant.tenant_id,
        tenant_code=tenant_code,
        kind=grant.kind,
        role=grant.role,
        scope=grant.scope,
        token_version=grant.token_version,
        session_id=grant.session_id,
        auth_time=grant.auth_time,
        amr=list(grant.amr),
    )
    return TokenPair(
        access_token=access.token,
        refresh_token=grant.refresh_token,
        expires_in=settings.access_token_seconds,
        session_id=grant.session_id,
    )


def _new_session(
    account: Account, *, kind: str, amr: list[str], settings: Settings, now: dt.datetime
) -> AuthSession:
    return AuthSession(
        id=uuid7(),
        tenant_id=account.tenant_id,
        account_id=account.id,
        kind=kind,
        amr=amr,
        auth_time=now,
        created_at=now,
        last_seen_at=now,
        expires_at=now + dt.timedelta(hours=settings.staff_session_hours),
    )


async def open_api_session(
    uow: UnitOfWork, *, settings: Settings, account: Account, amr: list[str]
) -> Grant:
    """Start an API session for ``account`` in the login's unit of work."""
    now = clock.utcnow()
    session = _new_session(account, kind="api", amr=amr, settings=settings, now=now)
    uow.session.add(session)
    refresh, digest = tokens.new_secret_token(REFRESH_PREFIX)
    uow.session.add(
        RefreshToken(
            tenant_id=account.tenant_id,
            session_id=session.id,
            token_hash=digest,
            created_at=now,
            expires_at=session.expires_at,
        )
    )
    await uow.session.flush()
    return _grant(account, session, refresh)


def web_cookie_value(tenant_code: str, session_id: uuid.UUID, secret: str) -> str:
    """``<tenant code>.<session id>.<secret>``: enough to find the row under tenant scope."""
    return f"{tenant_code}.{session_id}.{secret}"


def parse_web_cookie(value: str) -> tuple[str, uuid.UUID, str] | None:
    """The parts of a session cookie (None when malformed)."""
    parts = value.split(".")
    if len(parts) != 3 or len(value) > 200:
        return None
    try:
        return parts[0], uuid.UUID(parts[1]), parts[2]
    except ValueError:
        return None


async def open_web_session(
    uow: UnitOfWork, *, settings: Settings, account: Account, tenant_code: str, amr: list[str]
) -> WebLogin:
    """Start a browser session for ``account`` inside the login's unit of work."""
    now = clock.utcnow()
    session = _new_session(account, kind="web", amr=amr, settings=settings, now=now)
    secret, digest = tokens.new_secret_token(WEB_PREFIX)
    session.web_token_hash = digest
    uow.session.add(session)
    await uow.session.flush()
    return WebLogin(
        cookie=web_cookie_value(tenant_code, session.id, secret),
        expires_at=session.expires_at,
        session_id=session.id,
    )


def _invalid() -> Unauthorized:
    return Unauthorized(
        N_("the refresh token is invalid or expired"),
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def refresh(
    *, db: Database, cache: Cache, settings: Settings, tenant_code: str, refresh_token: str
) -> TokenPair:
    """Rotate a refresh token: a new pair, or the whole family revoked on reuse."""
    tenant = await get_tenant_or_404(db=db, cache=cache, code=tenant_code)
    digest = tokens.secret_hash(refresh_token)
    now = clock.utcnow()
    reused_session: uuid.UUID | None = None
    async with db.transaction(tenant_id=tenant.id) as uow:
        s = uow.session
        found = (
            await s.execute(
                select(RefreshToken, AuthSession, Account)
                .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                .join(Account, Account.id == AuthSession.account_id)
                .where(RefreshToken.tenant_id == tenant.id, RefreshToken.token_hash == digest)
            )
        ).first()
        if found is None:
            raise _invalid()
        token, session, account = found
        if session.revoked_at is not None or session.expires_at <= now:
            raise _invalid()
        if account.status != STATUS_ACTIVE:
            raise _invalid()
        # Compare-and-set: of two requests with the same token, exactly one rotates it.
        claimed = await s.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        if affected(claimed) != 1 or token.expires_at <= now:
            if affected(claimed) != 1:
                reused_session = session.id
            else:
                raise _invalid()
        else:
            new_token, new_digest = tokens.new_secret_token(REFRESH_PREFIX)
            s.add(
                RefreshToken(
                    tenant_id=tenant.id,
                    session_id=session.id,
                    token_hash=new_digest,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
            session.last_seen_at = now
            grant = _grant(account, session, new_token)
    if reused_session is not None:
        await revoke_session(
            db=db,
            cache=cache,
            tenant_id=tenant.id,
            session_id=reused_session,
            reason="refresh_reuse",
            by=SYSTEM,
        )
        log.warning("identity.refresh_reuse", session_id=str(reused_session))
        raise _invalid()
    return await issue_pair(db=db, settings=settings, grant=grant, tenant_code=tenant.code)


async def revoke_session(
    *,
    db: Database,
    cache: Cache,
    tenant_id: uuid.UUID,
    session_id: uuid.UUID,
    reason: str,
    by: Principal,
) -> bool:
    """Revoke a session (idempotent); True if this call revoked it."""
    now = clock.utcnow()
    async with db.transaction(tenant_id=tenant_id) as uow:
        row = (
            await uow.session.execute(
                update(AuthSession)
                .where(
                    AuthSession.tenant_id == tenant_id,
                    AuthSession.id == session_id,
                    AuthSession.revoked_at.is_(None),
                )
                .values(revoked_at=now, revoke_reason=reason)
                .returning(AuthSession.account_id)
            )
        ).first()
        if row is None:
            return False
        await audit.record(
            uow,
            by=by,
            action="auth.session_revoke",
            object_type="account",
            object_id=row.account_id,
            details={"reason": reason, "session": str(session_id)},
        )
        invalidate_after_commit(
            uow, cache, tenant_id=tenant_id, account_id=row.account_id, session_ids=[session_id]
        )
    return True


async def revoke_all_sessions(
    uow: UnitOfWork, cache: Cache, *, account: Account, reason: str
) -> list[uuid.UUID]:
    """Revoke every live session of ``account`` inside ``uow`` (reset, disable)."""
    now = clock.utcnow()
    ids = list(
        (
            await uow.session.execute(
                update(AuthSession)
                .where(
                    AuthSession.tenant_id == account.tenant_id,
                    AuthSession.account_id == account.id,
                    AuthSession.revoked_at.is_(None),
                )
                .values(revoked_at=now, revoke_reason=reason)
                .returning(AuthSession.id)
            )
        ).scalars()
    )
    invalidate_after_commit(
        uow, cache, tenant_id=account.tenant_id, account_id=account.id, session_ids=ids
    )
    return ids
