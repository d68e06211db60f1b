"""What each request checks about an account and a session, cached briefly.

An access token is trusted for its signature and claims, but whether it may still be
used depends on the account *now*: disabled, role or scope changed (token version
bumped), or its session revoked. That is read from the cache (``CACHE_SECONDS``) and,
on a miss, from the database; every change invalidates the entry after it commits. Each
process also keeps the parsed state near (``core.cache.NEAR_SECONDS``, 1 s) so a request
costs no cache round trip: a change takes effect on the next request of the replica that
made it and within ``NEAR_SECONDS`` on every replica sharing the cache (within
``CACHE_SECONDS`` when replicas only have in-process caches).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from vaxport.core import clock
from vaxport.core.cache import Cache
from vaxport.core.db import Database, UnitOfWork
from vaxport.identity.models import Account, AuthSession

ACCOUNT_NS = "idn-account"
SESSION_NS = "idn-session"
CACHE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class AccountState:
    """The parts of an account each request depends on."""

    account_id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    status: str
    role: str
    region_code: str | None
    facility_id: uuid.UUID | None
    token_version: int
    # Sessions revoked recently enough that access tokens of theirs may still be alive.
    revoked_sessions: frozenset[uuid.UUID]
    # Just recovered to a new phone: no family records until then (None: no hold).
    recovery_hold_until: dt.datetime | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "a": str(self.account_id),
            "t": str(self.tenant_id),
            "k": self.kind,
            "s": self.status,
            "r": self.role,
            "rc": self.region_code,
            "f": str(self.facility_id) if self.facility_id else None,
            "v": self.token_version,
            "x": sorted(str(x) for x in self.revoked_sessions),
            "h": self.recovery_hold_until.isoformat() if self.recovery_hold_until else None,
        }

    @classmethod
    def from_json(cls, d: dict[str, object]) -> AccountState:
        return cls(
            account_id=uuid.UUID(str(d["a"])),
            tenant_id=uuid.UUID(str(d["t"])),
            kind=str(d["k"]),
            status=str(d["s"]),
            role=str(d["r"]),
            region_code=str(d["rc"]) if d["rc"] is not None else None,
            facility_id=uuid.UUID(str(d["f"])) if d["f"] else None,
            token_version=int(str(d["v"])),
            revoked_sessions=frozenset(uuid.UUID(str(x)) for x in d["x"]),  # type: ignore[attr-defined]
            recovery_hold_until=dt.datetime.fromisoformat(str(d["h"])) if d.get("h") else None,
        )


@dataclass(frozen=True, slots=True)
class WebSessionState:
    """A browser session as the cookie check needs it."""

    session_id: uuid.UUID
    account_id: uuid.UUID
    tenant_id: uuid.UUID
    token_hash: bytes
    auth_time: dt.datetime
    expires_at: dt.datetime
    revoked: bool


def _key(tenant_id: uuid.UUID, ident: uuid.UUID) -> str:
    return f"{tenant_id}:{ident}"


async def account_state(
    *,
    db: Database,
    cache: Cache,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    token_seconds: float,
) -> AccountState | None:
    """The account's current state (None: no such account in that tenant)."""
    key = _key(tenant_id, account_id)

    async def load() -> AccountState | None:
        cached = await cache.get(ACCOUNT_NS, key)
        if isinstance(cached, dict):
            return AccountState.from_json(cached)
        found = await _account_state_from_db(db, tenant_id, account_id, token_seconds)
        if found is not None:
            await cache.set(ACCOUNT_NS, key, found.to_json(), CACHE_SECONDS)
        return found

    state: AccountState | None = await cache.near_load(ACCOUNT_NS, key, load)
    return state


async def _account_state_from_db(
    db: Database, tenant_id: uuid.UUID, account_id: uuid.UUID, token_seconds: float
) -> AccountState | None:
    # Tokens of a session revoked longer ago than a token lives are all expired.
    horizon = clock.utcnow() - dt.timedelta(seconds=token_seconds + 120)
    async with db.read(tenant_id=tenant_id) as s:
        row = (
            await s.execute(
                select(
                    Account.kind,
                    Account.status,
                    Account.role,
                    Account.region_code,
                    Account.facility_id,
                    Account.token_version,
                    Account.recovery_hold_until,
                ).where(Account.tenant_id == tenant_id, Account.id == account_id)
            )
        ).first()
        if row is None:
            return None
        revoked = (
            await s.execute(
                select(AuthSession.id).where(
                    AuthSession.tenant_id == tenant_id,
                    AuthSession.account_id == account_id,
                    AuthSession.revoked_at > horizon,
                )
            )
        ).scalars()
        return AccountState(
            account_id=account_id,
            tenant_id=tenant_id,
            kind=row.kind,
            status=row.status,
            role=row.role,
            region_code=row.region_code,
            facility_id=row.facility_id,
            token_version=row.token_version,
            revoked_sessions=frozenset(revoked),
            recovery_hold_until=row.recovery_hold_until,
        )


async def web_session(
    *, db: Database, cache: Cache, tenant_id: uuid.UUID, session_id: uuid.UUID
) -> WebSessionState | None:
    """A browser session by id (None: unknown, or not a web session)."""
    key = _key(tenant_id, session_id)
    near = cache.near_get(SESSION_NS, key)
    if isinstance(near, WebSessionState):
        return near
    cached = await cache.get(SESSION_NS, key)
    if isinstance(cached, dict):
        hit = WebSessionState(
            session_id=session_id,
            account_id=uuid.UUID(cached["a"]),
            tenant_id=tenant_id,
            token_hash=bytes.fromhex(cached["h"]),
            auth_time=dt.datetime.fromisoformat(cached["at"]),
            expires_at=dt.datetime.fromisoformat(cached["e"]),
            revoked=bool(cached["r"]),
        )
        cache.near_put(SESSION_NS, key, hit)
        return hit
    async with db.read(tenant_id=tenant_id) as s:
        row = (
            await s.execute(
                select(AuthSession).where(
                    AuthSession.tenant_id == tenant_id,
                    AuthSession.id == session_id,
                    AuthSession.kind == "web",
                )
            )
        ).scalar_one_or_none()
        if row is None or row.web_token_hash is None:
            return None
        found = WebSessionState(
            session_id=session_id,
            account_id=row.account_id,
            tenant_id=tenant_id,
            token_hash=bytes(row.web_token_hash),
            auth_time=row.auth_time,
            expires_at=row.expires_at,
            revoked=row.revoked_at is not None,
        )
    await cache.set(
        SESSION_NS,
        key,
        {
            "a": str(found.account_id),
            "h": found.token_hash.hex(),
            "at": found.auth_time.isoformat(),
            "e": found.expires_at.isoformat(),
            "r": found.revoked,
        },
        CACHE_SECONDS,
    )
    cache.near_put(SESSION_NS, key, found)
    return found


def invalidate_after_commit(
    uow: UnitOfWork,
    cache: Cache,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    session_ids: list[uuid.UUID] | None = None,
) -> None:
    """Drop the cached state of an account (and sessions) once ``uow`` has committed."""

    async def drop() -> None:
        await cache.delete(ACCOUNT_NS, _key(tenant_id, account_id))
        if session_ids:
            await cache.delete(SESSION_NS, *(_key(tenant_id, s) for s in session_ids))

    uow.after_commit(drop)
