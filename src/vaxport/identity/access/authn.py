"""Turning credentials (a bearer token, a session cookie) into an :class:`Actor`.

Used once per request by the authentication middleware, which keeps the tenant found
here for the request (``PathTenant`` then looks it up no second time). A credential is usable when
it is authentic and unexpired *and* the account is still active, its token version
unchanged (bearer) and its session not revoked: checked against the cached account
state (``state``), so a disable or role change is felt on the next request.
"""

from __future__ import annotations

import hmac
import uuid

from vaxport.core import clock
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import NotFound
from vaxport.identity.access.actor import Actor
from vaxport.identity.credentials import account_state as state
from vaxport.identity.credentials import sessions, tokens
from vaxport.identity.models import STATUS_ACTIVE
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo, get_tenant_or_404

InvalidToken = tokens.InvalidToken


async def _tenant(db: Database, cache: Cache, code: str, tenant_id: uuid.UUID) -> TenantInfo:
    try:
        tenant = await get_tenant_or_404(db=db, cache=cache, code=code)
    except NotFound as exc:
        raise InvalidToken("unknown tenant") from exc
    if tenant.id != tenant_id:
        raise InvalidToken("tenant mismatch")
    return tenant


def _actor(
    tenant: TenantInfo,
    st: state.AccountState,
    *,
    session_id: uuid.UUID,
    auth_time: object,
) -> Actor:
    return Actor(
        account_id=st.account_id,
        tenant_id=tenant.id,
        tenant_code=tenant.code,
        kind="citizen" if st.kind == "citizen" else "staff",
        role=st.role,
        region_code=st.region_code,
        facility_id=st.facility_id,
        auth_time=auth_time,  # type: ignore[arg-type]
        session_id=session_id,
        token_version=st.token_version,
        recovery_hold_until=st.recovery_hold_until,
    ).with_regions(tenant)


# The actor last built for a token (by ``jti``), with the claims, tenant and account state
# it was built from: while the near cache hands out those very objects, nothing the
# checks below read has changed, and the same actor is the answer. Bounded.
_ACTORS: dict[str, tuple[tokens.AccessClaims, TenantInfo, state.AccountState, Actor]] = {}
_ACTORS_MAX = 10_000


async def actor_from_bearer(
    *, db: Database, cache: Cache, settings: Settings, token: str
) -> tuple[Actor, TenantInfo]:
    """The actor of a bearer access token and its tenant; :class:`InvalidToken` if it may
    not be used."""
    claims = await tokens.verify_access_token(db=db, settings=settings, token=token)
    tenant = await _tenant(db, cache, claims.tenant_code, claims.tenant_id)
    st = await state.account_state(
        db=db,
        cache=cache,
        tenant_id=tenant.id,
        account_id=claims.account_id,
        token_seconds=settings.access_token_seconds,
    )
    seen = _ACTORS.get(claims.jti)
    if seen is not None and seen[0] is claims and seen[1] is tenant and seen[2] is st:
        return seen[3], tenant
    actor = _checked_actor(claims, tenant, st)
    assert st is not None  # checked: an account without state is refused
    if len(_ACTORS) >= _ACTORS_MAX:
        _ACTORS.clear()
    _ACTORS[claims.jti] = (claims, tenant, st, actor)
    return actor, tenant


def _checked_actor(
    claims: tokens.AccessClaims, tenant: TenantInfo, st: state.AccountState | None
) -> Actor:
    if st is None or st.status != STATUS_ACTIVE:
        raise InvalidToken("account not active")
    if st.token_version != claims.token_version:
        raise InvalidToken("token version")
    if claims.session_id in st.revoked_sessions:
        raise InvalidToken("session revoked")
    if claims.roles != (st.role,) or claims.kind != st.kind:
        raise InvalidToken("claims out of date")
    return _actor(tenant, st, session_id=claims.session_id, auth_time=claims.auth_time)


async def actor_from_cookie(
    *, db: Database, cache: Cache, settings: Settings, value: str
) -> tuple[Actor, TenantInfo]:
    """The actor of a browser session cookie and its tenant; :class:`InvalidToken` if it
    may not be used."""
    parts = sessions.parse_web_cookie(value)
    if parts is None:
        raise InvalidToken("malformed cookie")
    code, session_id, secret = parts
    try:
        tenant = await get_tenant_or_404(db=db, cache=cache, code=code)
    except NotFound as exc:
        raise InvalidToken("unknown tenant") from exc
    ws = await state.web_session(db=db, cache=cache, tenant_id=tenant.id, session_id=session_id)
    if ws is None or not hmac.compare_digest(ws.token_hash, tokens.secret_hash(secret)):
        raise InvalidToken("unknown session")
    if ws.revoked or ws.expires_at <= clock.utcnow():
        raise InvalidToken("session ended")
    st = await state.account_state(
        db=db,
        cache=cache,
        tenant_id=tenant.id,
        account_id=ws.account_id,
        token_seconds=settings.access_token_seconds,
    )
    if st is None or st.status != STATUS_ACTIVE:
        raise InvalidToken("account not active")
    return _actor(tenant, st, session_id=session_id, auth_time=ws.auth_time), tenant
