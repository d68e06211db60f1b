"""This installation's own certificate keys and revocations, as the verifier trusts them.

Every tenant's published Document Signer Certificates and SMART Health Card issuer keys,
and every revoked certificate not yet expired: a DCC by the SHA-256 of its UVCI
(the DCC revocation ``UCI`` hash type, first 16 bytes) under its DSC's kid, a card by
its ``rid`` under its issuer and kid (the SMART Health Cards CRL). An SHC key is
trusted for the issuer URLs it signed under (and the tenant's configured one).

Read tenant by tenant (row-level security stays on) and kept in memory for
``REFRESH_SECONDS`` like the imported trust list: a revocation applies everywhere within
half a minute, at once in the process that made it (:func:`forget`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from vaxport.certificates import signers
from vaxport.certificates.issuance.models import EU_DCC, REVOKED, SHC, Certificate
from vaxport.certificates.models import FORMAT_DCC, FORMAT_SHC
from vaxport.certificates.trust import service as trust_service
from vaxport.certificates.trust.files import shc_keys
from vaxport.certificates.trust.service import Union
from vaxport.certificates.verify.trust_store import (
    REVOCATION_HASH_BYTES,
    Revocations,
    SigningCertificate,
    TrustStore,
)
from vaxport.core import clock
from vaxport.core.db import Database
from vaxport.tenancy.service import get_tenant_in, tenant_ids

REFRESH_SECONDS = 30.0


def uci_hash(uvci: str) -> bytes:
    """The DCC revocation ``UCI`` hash of a certificate (as the verifier computes it)."""
    return hashlib.sha256(uvci.encode()).digest()[:REVOCATION_HASH_BYTES]


def _empty() -> Union:
    return Union(store=TrustStore(), dscs=[], issuers={}, revocations=Revocations())


async def _issuer_urls(db: Database, tenant_id: uuid.UUID) -> dict[str, set[str]]:
    """kid -> the ``iss`` values our cards under that key carry (and the configured one)."""
    async with db.read(tenant_id=tenant_id) as s:
        tenant = await get_tenant_in(session=s, tenant_id=tenant_id)
        rows = await s.execute(
            select(Certificate.kid, Certificate.iss)
            .where(Certificate.tenant_id == tenant_id, Certificate.format == SHC)
            .distinct()
        )
        found: dict[str, set[str]] = {}
        for kid, iss in rows.all():
            if iss:
                found.setdefault(kid, set()).add(iss)
    configured = tenant.config.certificates.shc_issuer
    if configured:
        for urls in found.values():
            urls.add(configured)
        found.setdefault("*", set()).add(configured)
    return found


async def _tenant_part(db: Database, tenant_id: uuid.UUID, out: Union) -> None:
    for row in await signers.published(db, tenant_id, FORMAT_DCC):
        if row.certificate:
            cert = SigningCertificate.from_der(bytes(row.certificate))
            out.store.add_dsc(cert)
            out.dscs.append(cert)
    urls = await _issuer_urls(db, tenant_id)
    jwks = await signers.shc_jwks(db, tenant_id=tenant_id)
    for key in jwks["keys"]:
        for iss in sorted(urls.get(key["kid"], set()) | urls.get("*", set())):
            out.issuers.setdefault(iss, {"keys": []})["keys"].append(key)
            for trusted in shc_keys({"keys": [key]}, iss=iss):
                out.store.add_shc(trusted)
    now = clock.utcnow()
    async with db.read(tenant_id=tenant_id) as s:
        rows = await s.execute(
            select(
                Certificate.format,
                Certificate.kid,
                Certificate.uvci,
                Certificate.rid,
                Certificate.iss,
            ).where(
                Certificate.tenant_id == tenant_id,
                Certificate.status == REVOKED,
                Certificate.expires_at > now,
            )
        )
        for key_format, kid, uvci, rid, signed_iss in rows.all():
            if key_format == EU_DCC and uvci:
                kid_hex = base64.b64decode(kid).hex()
                out.revocations.dcc.setdefault(kid_hex, set()).add(uci_hash(uvci).hex())
            elif key_format == SHC and rid and signed_iss:
                out.revocations.shc.setdefault((signed_iss, kid), {})[rid] = None


async def build(db: Database) -> Union:
    """Every tenant's keys and revocations, read now."""
    out = _empty()
    for tenant_id in await tenant_ids(db):
        await _tenant_part(db, tenant_id, out)
    out.store.revocations = out.revocations
    return out


@dataclass
class _Cached:
    value: Union | None = None
    at: float = -1e18
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_cache: weakref.WeakKeyDictionary[Database, _Cached] = weakref.WeakKeyDictionary()


def forget(db: Database) -> None:
    """Drop this process's copy and exported bundle (after a revocation or a new key)."""
    _cache.pop(db, None)
    trust_service.forget(db)


async def own_trust(db: Database) -> Union:
    """Our keys and revocations (cached for ``REFRESH_SECONDS`` in this process)."""
    cached = _cache.get(db)
    if cached is None:
        cached = _cache[db] = _Cached()
    if cached.value is not None and time.monotonic() - cached.at <= REFRESH_SECONDS:
        return cached.value
    async with cached.lock:
        if cached.value is None or time.monotonic() - cached.at > REFRESH_SECONDS:
            cached.value, cached.at = await build(db), time.monotonic()
    return cached.value


# ----------------------------------------------------------------- SMART Health Cards CRL


async def crl_counter(db: Database, tenant_id: uuid.UUID, kid: str) -> int:
    """The CRL version of a key: 1 + the cards ever revoked under it (never decreases)."""
    async with db.read(tenant_id=tenant_id) as s:
        count = await s.scalar(
            select(func.count())
            .select_from(Certificate)
            .where(
                Certificate.tenant_id == tenant_id,
                Certificate.format == SHC,
                Certificate.kid == kid,
                Certificate.status == REVOKED,
            )
        )
    return 1 + int(count or 0)


async def crl(db: Database, tenant_id: uuid.UUID, kid: str) -> dict[str, Any]:
    """``{iss}/.well-known/crl/{kid}.json``: ``{kid, method: "rid", ctr, rids}``."""
    now = clock.utcnow()
    async with db.read(tenant_id=tenant_id) as s:
        rids = await s.scalars(
            select(Certificate.rid)
            .where(
                Certificate.tenant_id == tenant_id,
                Certificate.format == SHC,
                Certificate.kid == kid,
                Certificate.status == REVOKED,
                Certificate.expires_at > now,
            )
            .order_by(Certificate.rid)
        )
        listed = sorted({r for r in rids if r})
    return {
        "kid": kid,
        "method": "rid",
        "ctr": await crl_counter(db, tenant_id, kid),
        "rids": listed,
    }


async def jwks_with_crl(db: Database, tenant_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's SHC JWKS, each key with its ``crlVersion`` (revocation supported)."""
    jwks = await signers.shc_jwks(db, tenant_id=tenant_id)
    for key in jwks["keys"]:
        key["crlVersion"] = await crl_counter(db, tenant_id, key["kid"])
    return jwks


async def published_shc_kids(db: Database, tenant_id: uuid.UUID) -> set[str]:
    """The kids of the tenant's published SHC keys."""
    return {row.kid for row in await signers.published(db, tenant_id, FORMAT_SHC)}
