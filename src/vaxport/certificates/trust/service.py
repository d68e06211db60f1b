"""Trust-list use cases: imports by a tenant's national admin (or the operator), the
union every public verification trusts, and the signed bundle export.

Trust is per tenant: each country's national admin decides which foreign signers their
country accepts, and answers for it in their own audit log. The public verifier (no
tenant in its path) trusts the union of every tenant's trust plus every tenant's own
keys: a certificate any tenant of this installation accepts is accepted at
``/api/v1/verify``. The union is read tenant by tenant (row-level security stays on)
and kept in memory for ``REFRESH_SECONDS``, so a new revocation applies within a minute.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError

from vaxport.certificates.trust import bundle, signing_key
from vaxport.certificates.trust.files import (
    TrustFileError,
    check_issuer_url,
    dscs_from,
    read_material,
    shc_keys,
)
from vaxport.certificates.trust.models import TrustedDsc, TrustedShcIssuer, TrustRevocation
from vaxport.certificates.verify.trust_store import (
    REVOCATION_HASH_BYTES,
    Revocations,
    SigningCertificate,
    TrustStore,
)
from vaxport.core.audit import record
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import ValidationFailed, invalid
from vaxport.core.i18n import N_
from vaxport.core.principal import Principal
from vaxport.tenancy.service import tenant_ids

T = TypeVar("T")
REFRESH_SECONDS = 30.0
BUNDLE_SECONDS = 60.0
MAX_REVOCATIONS_PER_CALL = 10_000
KIND_DCC, KIND_SHC = "eu-dcc", "shc"


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import added: DSCs (new and already trusted) and SHC issuer keys."""

    dscs_added: int = 0
    dscs_known: int = 0
    issuer: str | None = None
    issuer_keys: int = 0


def _invalid(field: str, exc: Exception) -> ValidationFailed:
    return invalid(field, N_("is not valid: {detail}"), detail=str(exc))


async def _once_more(attempt: Callable[[], Awaitable[T]]) -> T:
    """Run a check-then-insert use case; a concurrent twin's insert (unique violation) makes
    it run again, when it finds that row and counts it as known."""
    try:
        return await attempt()
    except IntegrityError:
        return await attempt()


async def import_dscs(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    data: bytes,
    country: str | None,
    by: Principal,
    source: str,
) -> ImportSummary:
    """Trust every DSC in ``data`` (PEM, DER, base64 DER); known ones are counted, not doubled."""
    if country is not None and not (len(country) == 2 and country.isalpha() and country.isupper()):
        raise invalid("country", N_("is two capital letters (ISO 3166), e.g. DE"))
    try:
        certs = dscs_from(data, country=country)
    except TrustFileError as exc:
        raise _invalid("certificate", exc) from None
    summary = await _once_more(
        lambda: _add_dscs(db=db, tenant_id=tenant_id, certs=certs, by=by, source=source)
    )
    forget(db)
    return summary


async def _add_dscs(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    certs: list[SigningCertificate],
    by: Principal,
    source: str,
) -> ImportSummary:
    added = known = 0
    async with db.transaction(tenant_id=tenant_id) as uow:
        for cert in certs:
            fingerprint = hashlib.sha256(cert.der).hexdigest()
            exists = await uow.session.scalar(
                select(TrustedDsc.id).where(
                    TrustedDsc.tenant_id == tenant_id, TrustedDsc.fingerprint == fingerprint
                )
            )
            if exists is not None:
                known += 1
                continue
            row = TrustedDsc(
                tenant_id=tenant_id,
                kid=cert.kid.hex(),
                fingerprint=fingerprint,
                country=cert.country[:2] if cert.country else None,
                certificate=cert.der,
                not_before=cert.not_before,
                not_after=cert.not_after,
                source=source[:500],
                created_by=by.id,
            )
            uow.session.add(row)
            await uow.session.flush()
            await record(
                uow,
                by=by,
                action="trust.dsc_import",
                object_type="trust_dsc",
                object_id=row.id,
                details={"kid": row.kid, "country": row.country},
            )
            added += 1
    return ImportSummary(dscs_added=added, dscs_known=known)


async def import_issuer(
    *, db: Database, tenant_id: uuid.UUID, iss: str, jwks: Any, by: Principal, source: str
) -> ImportSummary:
    """Trust (or refresh) an SHC issuer's public JWKS."""
    try:
        check_issuer_url(iss)
    except TrustFileError as exc:
        raise _invalid("iss", exc) from None
    try:
        keys = shc_keys(jwks, iss=iss)
    except TrustFileError as exc:
        raise _invalid("jwks", exc) from None
    public = {"keys": [dict(k.jwk) for k in keys]}
    await _once_more(
        lambda: _put_issuer(
            db=db, tenant_id=tenant_id, iss=iss, public=public, by=by, source=source
        )
    )
    forget(db)
    return ImportSummary(issuer=iss, issuer_keys=len(keys))


async def _put_issuer(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    iss: str,
    public: dict[str, Any],
    by: Principal,
    source: str,
) -> None:
    async with db.transaction(tenant_id=tenant_id) as uow:
        row = await uow.session.scalar(
            select(TrustedShcIssuer)
            .where(TrustedShcIssuer.tenant_id == tenant_id, TrustedShcIssuer.iss == iss)
            .with_for_update()
        )
        if row is None:
            row = TrustedShcIssuer(
                tenant_id=tenant_id, iss=iss, jwks=public, source=source[:500], created_by=by.id
            )
            uow.session.add(row)
        else:
            row.jwks, row.source, row.updated_at = public, source[:500], utcnow()
        await uow.session.flush()
        await record(
            uow,
            by=by,
            action="trust.issuer_import",
            object_type="trust_shc_issuer",
            object_id=row.id,
            details={"iss": iss, "keys": len(public["keys"])},
        )


async def import_file(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    data: bytes,
    iss: str | None,
    country: str | None,
    by: Principal,
    source: str,
) -> ImportSummary:
    """``vaxport trust import``: a DSC file, or a JWKS (then ``iss`` names its issuer)."""
    material = read_material(data, iss=iss)
    if material.kind == "bundle":
        raise TrustFileError("a trust bundle is exported, not imported: import its sources")
    if material.kind == "jwks":
        if iss is None:
            raise TrustFileError("a JWKS needs its issuer URL (--iss)")
        return await import_issuer(
            db=db, tenant_id=tenant_id, iss=iss, jwks=material.document, by=by, source=source
        )
    return await import_dscs(
        db=db, tenant_id=tenant_id, data=data, country=country, by=by, source=source
    )


def _dcc_entries(kid: str, hashes: Iterable[str]) -> tuple[str, list[str]]:
    try:
        kid_hex = bundle.unb64(kid).hex()
        entries = [bundle.unb64(h) for h in hashes]
    except TrustFileError:
        raise invalid("hashes", N_("kid and hashes are base64")) from None
    if len(kid_hex) != 16:
        raise invalid("kid", N_("a DCC kid is 8 bytes"))
    if any(len(h) not in (REVOCATION_HASH_BYTES, 32) for h in entries):
        raise invalid("hashes", N_("a revocation hash is 16 (or 32) bytes"))
    return kid_hex, sorted({h[:REVOCATION_HASH_BYTES].hex() for h in entries})


async def revoke(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    kind: str,
    kid: str,
    entries: list[str],
    iss: str | None,
    by: Principal,
) -> int:
    """Record revoked foreign certificates; returns how many entries were new."""
    if not entries or len(entries) > MAX_REVOCATIONS_PER_CALL:
        raise invalid("entries", N_("give 1 to {max} entries"), max=MAX_REVOCATIONS_PER_CALL)
    if kind == KIND_DCC:
        kid, entries = _dcc_entries(kid, entries)
        iss = ""
    else:
        try:
            check_issuer_url(iss or "")
            entries = sorted({bundle.rid_text(*bundle.parse_rid(e)) for e in entries})
        except TrustFileError as exc:
            raise _invalid("entries" if iss else "iss", exc) from None
        if not kid or len(kid) > 100:
            raise invalid("kid", N_("an SHC kid is a key's thumbprint"))
    added = await _once_more(
        lambda: _add_revocations(
            db=db, tenant_id=tenant_id, kind=kind, kid=kid, entries=entries, iss=iss or "", by=by
        )
    )
    forget(db)
    return added


async def _add_revocations(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    kind: str,
    kid: str,
    entries: list[str],
    iss: str,
    by: Principal,
) -> int:
    added = 0
    async with db.transaction(tenant_id=tenant_id) as uow:
        known = set(
            (
                await uow.session.scalars(
                    select(TrustRevocation.entry).where(
                        TrustRevocation.tenant_id == tenant_id,
                        TrustRevocation.kind == kind,
                        TrustRevocation.iss == (iss or ""),
                        TrustRevocation.kid == kid,
                    )
                )
            ).all()
        )
        for entry in entries:
            if entry not in known:
                uow.session.add(
                    TrustRevocation(
                        tenant_id=tenant_id,
                        kind=kind,
                        iss=iss or "",
                        kid=kid,
                        entry=entry,
                        created_by=by.id,
                    )
                )
                added += 1
        await record(
            uow,
            by=by,
            action="trust.revoke",
            object_type="trust_revocation",
            object_id=None,
            details={"kind": kind, "kid": kid, "added": added},
        )
    return added


@dataclass(slots=True)
class TenantTrust:
    """One tenant's trust, as read from its tables (plain rows: they outlive the session)."""

    dscs: list[Row[Any]] = field(default_factory=list)
    issuers: list[Row[Any]] = field(default_factory=list)
    revocations: list[Row[Any]] = field(default_factory=list)


def _all(model: Any) -> Any:
    return select(*model.__table__.c)


async def tenant_trust(*, db: Database, tenant_id: uuid.UUID) -> TenantTrust:
    """Everything one tenant trusts and revokes."""
    async with db.read(tenant_id=tenant_id) as s:
        dscs = await s.execute(
            _all(TrustedDsc).where(TrustedDsc.tenant_id == tenant_id).order_by(TrustedDsc.kid)
        )
        issuers = await s.execute(
            _all(TrustedShcIssuer)
            .where(TrustedShcIssuer.tenant_id == tenant_id)
            .order_by(TrustedShcIssuer.iss)
        )
        revocations = await s.execute(
            _all(TrustRevocation).where(TrustRevocation.tenant_id == tenant_id)
        )
        return TenantTrust(
            dscs=list(dscs.all()), issuers=list(issuers.all()), revocations=list(revocations.all())
        )


@dataclass(slots=True)
class Union:
    """The union of every tenant's trust, in the shapes the verifier and the bundle use."""

    store: TrustStore
    dscs: list[SigningCertificate]
    issuers: dict[str, dict[str, Any]]
    revocations: Revocations


def _build(trusts: Iterable[TenantTrust]) -> Union:
    store, revocations = TrustStore(), Revocations()
    dscs: list[SigningCertificate] = []
    issuers: dict[str, dict[str, Any]] = {}
    for trust in trusts:
        for row in trust.dscs:
            cert = SigningCertificate.from_der(bytes(row.certificate), country=row.country)
            if cert.kid not in store.dsc or cert not in store.dsc[cert.kid]:
                store.add_dsc(cert)
                dscs.append(cert)
        for issuer in trust.issuers:
            merged = issuers.setdefault(issuer.iss, {"keys": []})
            known = {k.get("kid") for k in merged["keys"]}
            merged["keys"].extend(k for k in issuer.jwks["keys"] if k.get("kid") not in known)
            for key in shc_keys(issuer.jwks, iss=issuer.iss):
                store.add_shc(key)
        for rev in trust.revocations:
            if rev.kind == KIND_DCC:
                revocations.dcc.setdefault(rev.kid, set()).add(rev.entry)
            else:
                rid, before = bundle.parse_rid(rev.entry)
                revocations.shc.setdefault((rev.iss, rev.kid), {})[rid] = before
    store.revocations = revocations
    return Union(store=store, dscs=dscs, issuers=issuers, revocations=revocations)


@dataclass
class _Cached:
    union: Union | None = None
    loaded_at: float = -1e18
    bundle: dict[str, Any] | None = None
    bundle_at: float = -1e18
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_cache: weakref.WeakKeyDictionary[Database, _Cached] = weakref.WeakKeyDictionary()


def forget(db: Database) -> None:
    """Drop this process's cached union and bundle (after a change)."""
    _cache.pop(db, None)


def _cached(db: Database) -> _Cached:
    found = _cache.get(db)
    if found is None:
        found = _cache[db] = _Cached()
    return found


async def union(*, db: Database) -> Union:
    """Every tenant's trust together (cached for ``REFRESH_SECONDS`` in this process)."""
    cached = _cached(db)
    if cached.union is not None and time.monotonic() - cached.loaded_at <= REFRESH_SECONDS:
        return cached.union
    async with cached.lock:
        if cached.union is None or time.monotonic() - cached.loaded_at > REFRESH_SECONDS:
            trusts = [await tenant_trust(db=db, tenant_id=t) for t in await tenant_ids(db)]
            cached.union = _build(trusts)
            cached.loaded_at = time.monotonic()
    return cached.union


def _with(found: Union, own: Union | None) -> Union:
    """The imported union and this installation's own keys and revocations together."""
    if own is None:
        return found
    revocations = Revocations()
    revocations.merge(found.revocations)
    revocations.merge(own.revocations)
    issuers = {iss: {"keys": list(jwks["keys"])} for iss, jwks in found.issuers.items()}
    for iss, jwks in own.issuers.items():
        merged = issuers.setdefault(iss, {"keys": []})
        known = {k.get("kid") for k in merged["keys"]}
        merged["keys"].extend(k for k in jwks["keys"] if k.get("kid") not in known)
    dscs = list(found.dscs) + [c for c in own.dscs if c not in found.dscs]
    return Union(store=found.store, dscs=dscs, issuers=issuers, revocations=revocations)


async def export_bundle(
    *, db: Database, now: dt.datetime | None = None, own: Union | None = None
) -> dict[str, Any]:
    """The signed bundle of the union and ``own`` (this installation's keys and
    revocations), rebuilt at most every ``BUNDLE_SECONDS``."""
    cached = _cached(db)
    if cached.bundle is not None and time.monotonic() - cached.bundle_at <= BUNDLE_SECONDS:
        return cached.bundle
    found = _with(await union(db=db), own)
    doc = bundle.document(
        generated_at=now or utcnow(),
        dscs=found.dscs,
        issuers=sorted(found.issuers.items()),
        revocations=found.revocations,
        endorsements=await signing_key.endorsements(db),
    )
    _, private = await signing_key.current(db)
    signed = bundle.sign(doc, private)
    cached.bundle, cached.bundle_at = signed, time.monotonic()
    return signed


async def trust_list_key(*, db: Database) -> dict[str, Any]:
    """The public JWK of the key that signs bundles (its ``kid`` is the thumbprint to pin)."""
    jwk, _ = await signing_key.current(db)
    return jwk


async def rotate_key(*, db: Database, by: Principal, endorse: bool = True) -> signing_key.Rotated:
    """A new trust-list key, endorsed by the current one (which retires); this process's
    next bundle is signed by it (the others' within ``BUNDLE_SECONDS``)."""
    done = await signing_key.rotate(db, by=by, endorse=endorse)
    forget(db)
    return done


__all__ = [
    "ImportSummary",
    "TenantTrust",
    "Union",
    "export_bundle",
    "forget",
    "import_dscs",
    "import_file",
    "import_issuer",
    "revoke",
    "rotate_key",
    "tenant_trust",
    "trust_list_key",
    "union",
]
