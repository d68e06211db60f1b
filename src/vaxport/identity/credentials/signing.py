"""The installation's access-token signing keys (ES256): creation, rotation, JWKS.

One key is ``active`` (signs); keys replaced by a rotation are ``retiring``: still
published at ``/.well-known/jwks.json`` and still accepted until ``publish_until``, by
when every token they signed has expired and every replica has stopped signing with
them. Then they are ``retired``: neither published nor accepted.

Private keys are stored wrapped by the key provider (the same KEK as data keys), bound
to their key id. Each process keeps the unwrapped active key and the public keys in
memory for ``REFRESH_SECONDS``; an unknown key id triggers a reload (at most once per
``MISS_RELOAD_SECONDS``), so a key created by another replica verifies at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from vaxport.core import clock
from vaxport.core.crypto.keyring import run_blocking
from vaxport.core.crypto.providers import WrappedKey
from vaxport.core.crypto.state import get_keyring
from vaxport.core.db import Database
from vaxport.core.ids import uuid7
from vaxport.core.logging import get_logger
from vaxport.core.principal import OPERATOR
from vaxport.identity.models import SigningKey

log = get_logger(__name__)

ALG = "ES256"
ACTIVE, RETIRING, RETIRED = "active", "retiring", "retired"
REFRESH_SECONDS = 60.0
MISS_RELOAD_SECONDS = 5.0
# Beyond the token lifetime: clock skew between hosts, and replicas still signing with
# the old key until their next refresh.
PUBLISH_MARGIN_SECONDS = 60 + REFRESH_SECONDS


def _context(kid: str) -> dict[str, str]:
    return {"vaxport:purpose": "jwt-signing", "vaxport:kid": kid}


@dataclass
class _Keys:
    loaded_at: float = -1e18
    miss_reload_at: float = -1e18
    active: tuple[str, ECKey] | None = None
    # kid -> (public key, accepted until; None while active)
    public: dict[str, tuple[ECKey, dt.datetime | None]] = field(default_factory=dict)
    jwks: list[tuple[dict[str, Any], dt.datetime | None]] = field(default_factory=list)
    lock: asyncio.Lock | None = None


_state: weakref.WeakKeyDictionary[Database, _Keys] = weakref.WeakKeyDictionary()


def _keys(db: Database) -> _Keys:
    keys = _state.get(db)
    if keys is None:
        keys = _state[db] = _Keys()
    return keys


def forget(db: Database) -> None:
    """Drop this process's cached keys for ``db`` (after a rotation)."""
    _state.pop(db, None)


def _generate() -> tuple[str, ECKey, bytes]:
    private = ec.generate_private_key(ec.SECP256R1())
    key = ECKey.import_key(private)
    kid = key.thumbprint()
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    return kid, key, scalar


def _public_jwk(key: ECKey, kid: str) -> dict[str, Any]:
    jwk = {k: v for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")}
    jwk.update(kid=kid, alg=ALG, use="sig")
    return jwk


def _unwrap(row: SigningKey) -> ECKey:
    provider = get_keyring().provider
    scalar = run_blocking(
        provider.unwrap,
        WrappedKey(bytes(row.private_key_wrapped), row.provider_key_id),
        _context(row.kid),
    )
    private = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
    return ECKey.import_key(private)


async def _new_row(state: str) -> SigningKey:
    kid, key, scalar = _generate()
    provider = get_keyring().provider
    wrapped = await asyncio.to_thread(provider.wrap, scalar, _context(kid))
    return SigningKey(
        id=uuid7(),
        kid=kid,
        alg=ALG,
        public_jwk=_public_jwk(key, kid),
        private_key_wrapped=wrapped.blob,
        provider=provider.name,
        provider_key_id=wrapped.kek_id,
        state=state,
        created_at=clock.utcnow(),
    )


async def _load(db: Database, keys: _Keys) -> None:
    now = clock.utcnow()
    async with db.read() as s:
        rows = (
            (
                await s.execute(
                    select(SigningKey).where(
                        or_(
                            SigningKey.state == ACTIVE,
                            (SigningKey.state == RETIRING) & (SigningKey.publish_until > now),
                        )
                    )
                )
            )
            .scalars()
            .all()
        )
        public = {r.kid: (ECKey.import_key(dict(r.public_jwk)), _until(r)) for r in rows}
        jwks = [(dict(r.public_jwk), _until(r)) for r in sorted(rows, key=lambda r: r.created_at)]
        active_row = next((r for r in rows if r.state == ACTIVE), None)
        active = None
        if active_row is not None:
            if keys.active is not None and keys.active[0] == active_row.kid:
                active = keys.active
            else:
                active = (active_row.kid, await asyncio.to_thread(_unwrap, active_row))
    keys.public, keys.jwks, keys.active = public, jwks, active
    keys.loaded_at = time.monotonic()


def _until(row: SigningKey) -> dt.datetime | None:
    return row.publish_until if row.state == RETIRING else None


def _live(until: dt.datetime | None) -> bool:
    # Checked on use, not only at load: a cached retiring key stops at its deadline.
    return until is None or until > clock.utcnow()


async def _refresh(db: Database, keys: _Keys, *, force: bool = False) -> None:
    if not force and time.monotonic() - keys.loaded_at <= REFRESH_SECONDS:
        return  # fresh: every request asks, so no lock on this path
    if keys.lock is None:
        keys.lock = asyncio.Lock()
    async with keys.lock:
        if force or time.monotonic() - keys.loaded_at > REFRESH_SECONDS:
            await _load(db, keys)


async def _create_first(db: Database) -> None:
    row = await _new_row(ACTIVE)
    try:
        async with db.transaction() as uow:
            uow.session.add(row)
        log.info("identity.signing_key_created", kid=row.kid)
    except IntegrityError:
        pass  # another process created the first key at the same time: use theirs


async def active_key(db: Database) -> tuple[str, ECKey]:
    """The key id and private key new tokens are signed with (created on first use)."""
    keys = _keys(db)
    await _refresh(db, keys)
    if keys.active is None:
        await _create_first(db)
        await _refresh(db, keys, force=True)
    if keys.active is None:
        raise RuntimeError("no active token signing key")
    return keys.active


async def public_key(db: Database, kid: str) -> ECKey | None:
    """The public key ``kid`` if tokens it signed are still accepted."""
    keys = _keys(db)
    await _refresh(db, keys)
    found = keys.public.get(kid)
    now = time.monotonic()
    if found is None and now - keys.miss_reload_at > MISS_RELOAD_SECONDS:
        keys.miss_reload_at = now
        await _refresh(db, keys, force=True)
        found = keys.public.get(kid)
    if found is None or not _live(found[1]):
        return None
    return found[0]


async def jwks(db: Database) -> dict[str, Any]:
    """The JSON Web Key Set of every key whose tokens are accepted."""
    keys = _keys(db)
    await _refresh(db, keys)
    if keys.active is None:
        await active_key(db)
    return {"keys": [jwk for jwk, until in keys.jwks if _live(until)]}


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a rotation did."""

    new_kid: str
    retiring: list[str]
    retired: list[str]
    publish_until: dt.datetime


async def rotate(db: Database, *, access_token_seconds: int) -> Rotation:
    """Make a new active key; the old one retires once its tokens have expired."""
    row = await _new_row(ACTIVE)
    now = clock.utcnow()
    until = now + dt.timedelta(seconds=access_token_seconds + PUBLISH_MARGIN_SECONDS)
    async with db.transaction() as uow:
        s = uow.session
        retired = list(
            (
                await s.execute(
                    update(SigningKey)
                    .where(SigningKey.state == RETIRING, SigningKey.publish_until <= now)
                    .values(state=RETIRED, retired_at=now)
                    .returning(SigningKey.kid)
                )
            ).scalars()
        )
        retiring = list(
            (
                await s.execute(
                    update(SigningKey)
                    .where(SigningKey.state == ACTIVE)
                    .values(state=RETIRING, publish_until=until)
                    .returning(SigningKey.kid)
                )
            ).scalars()
        )
        s.add(row)
    forget(db)
    log.info("identity.signing_key_rotated", kid=row.kid, retiring=retiring, retired=retired)
    await _audit_rotation(db, row.kid, retiring)
    return Rotation(new_kid=row.kid, retiring=retiring, retired=retired, publish_until=until)


async def _audit_rotation(db: Database, kid: str, retiring: list[str]) -> None:
    """The installation's keys sign every tenant's tokens: each tenant's chain records it."""
    from vaxport.core import audit
    from vaxport.core.cache import Cache, MemoryBackend
    from vaxport.tenancy.service import get_tenant_or_404, list_tenants

    cache = Cache(MemoryBackend())
    for summary in await list_tenants(db=db):
        tenant = await get_tenant_or_404(db=db, cache=cache, code=summary.code)
        await audit.record_standalone(
            db,
            tenant_id=tenant.id,
            by=OPERATOR,
            action="keys.rotate_signing",
            object_type="signing_key",
            object_id=kid,
            details={"retiring": retiring},
        )
