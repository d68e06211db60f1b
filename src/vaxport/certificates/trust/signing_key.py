"""The installation's trust-list key (ES256): created on first use, stored wrapped by the
key provider, never exported; its public JWK travels inside every bundle it signs.

A rotation makes a new key and has the current one sign the hand-over (the
endorsement every later bundle carries), then retires the current one: from then on its
private part is never unwrapped, and bundles are signed by the new key alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError

from vaxport.certificates.signers import KeyStateError, private_from, public_jwk, scalar_of
from vaxport.certificates.trust import bundle
from vaxport.certificates.trust.models import TrustListKey, _key_context
from vaxport.core.audit import record_standalone
from vaxport.core.clock import utcnow
from vaxport.core.crypto.providers import WrappedKey
from vaxport.core.crypto.state import get_keyring
from vaxport.core.db import Database
from vaxport.core.ids import uuid7
from vaxport.core.logging import get_logger
from vaxport.core.principal import Principal
from vaxport.tenancy.service import tenant_ids

log = get_logger(__name__)


async def _new_row(private: ec.EllipticCurvePrivateKey) -> TrustListKey:
    jwk = public_jwk(private)
    provider = get_keyring().provider
    row = TrustListKey(id=uuid7(), kid=jwk["kid"], public_jwk=jwk, created_at=utcnow())
    wrapped = await asyncio.to_thread(provider.wrap, scalar_of(private), _key_context(row))
    row.private_key_wrapped = wrapped.blob
    row.provider = provider.name
    row.provider_key_id = wrapped.kek_id
    return row


async def _create(db: Database) -> None:
    row = await _new_row(ec.generate_private_key(ec.SECP256R1()))
    try:
        async with db.transaction() as uow:
            uow.session.add(row)
        log.info("certificates.trust_list_key_created", kid=row.kid)
    except IntegrityError:  # pragma: no cover - a kid collision is not a real event
        pass


async def _newest(db: Database) -> Row[Any] | None:
    """The signing key: the newest one not retired."""
    async with db.read() as s:
        found = await s.execute(
            select(*TrustListKey.__table__.c)
            .where(TrustListKey.retired_at.is_(None))
            .order_by(TrustListKey.created_at.desc(), TrustListKey.id.desc())
            .limit(1)
        )
        return found.first()


async def _private(row: Row[Any]) -> ec.EllipticCurvePrivateKey:
    provider = get_keyring().provider
    scalar = await asyncio.to_thread(
        provider.unwrap,
        WrappedKey(bytes(row.private_key_wrapped), row.provider_key_id),
        _key_context(row),
    )
    return private_from(scalar)


async def current(db: Database) -> tuple[dict[str, Any], ec.EllipticCurvePrivateKey]:
    """The public JWK and private key that sign bundles (the key is created on first use)."""
    row = await _newest(db)
    if row is None:
        await _create(db)
        row = await _newest(db)
    assert row is not None
    return dict(row.public_jwk), await _private(row)


async def endorsements(db: Database) -> list[dict[str, Any]]:
    """Every hand-over between trust-list keys, oldest first (carried in each bundle)."""
    async with db.read() as s:
        found = await s.scalars(
            select(TrustListKey.endorsement)
            .where(TrustListKey.endorsement.is_not(None))
            .order_by(TrustListKey.created_at, TrustListKey.id)
        )
        return [dict(e) for e in found if e]


@dataclass(frozen=True, slots=True)
class Rotated:
    """What a rotation did: the retired key, the new one, and whether it was endorsed."""

    previous: str
    kid: str
    endorsed: bool


async def rotate(db: Database, *, by: Principal, endorse: bool = True) -> Rotated:
    """A new trust-list key; the current one endorses it (unless ``endorse`` is False:
    after a suspected exposure, when devices must be re-pinned by hand) and retires.

    Two rotations at once: the second finds the key it started from retired (or loses
    on the unique ``previous_kid``) and is refused, so the chain of keys stays a line.
    """
    await current(db)  # a first rotation rotates the key made on first use
    old = await _newest(db)
    assert old is not None
    private = ec.generate_private_key(ec.SECP256R1())
    row = await _new_row(private)
    now = utcnow()
    if endorse:
        row.endorsement = bundle.endorse(row.public_jwk, by=await _private(old), at=now)
    row.previous_kid = old.kid
    try:
        async with db.transaction() as uow:
            retired: Any = await uow.session.execute(
                update(TrustListKey)
                .where(TrustListKey.retired_at.is_(None), TrustListKey.id != row.id)
                .values(retired_at=now)
            )
            if not retired.rowcount:
                raise KeyStateError("another rotation of the trust-list key just ran")
            uow.session.add(row)
    except IntegrityError:
        raise KeyStateError("another rotation of the trust-list key just ran") from None
    log.info("certificates.trust_list_key_rotated", kid=row.kid, previous=old.kid)
    # The installation's key signs the bundle of every tenant's trust: each chain records it.
    for tenant_id in await tenant_ids(db):
        await record_standalone(
            db,
            tenant_id=tenant_id,
            by=by,
            action="trust.key_rotated",
            object_type="trust_list_key",
            object_id=row.kid,
            details={"previous": old.kid, "endorsed": endorse},
        )
    return Rotated(previous=old.kid, kid=row.kid, endorsed=endorse)
