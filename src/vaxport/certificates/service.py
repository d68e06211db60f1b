"""The certificates context's front door: what other contexts and the pages may use.

Issuance (:mod:`.issuance`: certificates recomputed from the dose events, stored
encrypted under the person's key; reading them, the ``.smart-health-card`` file;
revocation by admins; our SHC issuer's JWKS and CRL), what the pages show of a person's
certificates (:mod:`.printing`: listed, printed as PDF, the card file, the QR code as
SVG) and verification (one verifier for every format, against every tenant's own keys
and revocations and the imported trust lists; the signed trust-list export).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from vaxport.certificates.content import ContentError, DccCodes, Dose, Holder
from vaxport.certificates.issuance import own_trust
from vaxport.certificates.issuance.config_checks import check_dcc_codes
from vaxport.certificates.issuance.demo import init_demo_keys
from vaxport.certificates.issuance.events import SUBSCRIBERS, issuer_url, recompute_people
from vaxport.certificates.issuance.reads import (
    current_certificates,
    dose_certified,
    get_certificate,
    smart_health_card_file,
)
from vaxport.certificates.issuance.revocation import Revoked, revoke_lot, revoke_person
from vaxport.certificates.pdf import LAYOUTS as PDF_LAYOUTS
from vaxport.certificates.pdf import CertificateView, DccCode, render_pdf
from vaxport.certificates.printable import StoredCertificate
from vaxport.certificates.printing import (
    PersonCertificates,
    certificate_pdf,
    person_certificates,
)
from vaxport.certificates.qr import inline_svg as qr_svg
from vaxport.certificates.schemas import CertificateOut
from vaxport.certificates.trust import service as trust
from vaxport.certificates.verify import TrustStore, Verification, verify, verify_image
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.tenancy.service import TenantInfo, get_tenant_or_404

__all__ = [
    "PDF_LAYOUTS",
    "SUBSCRIBERS",
    "CertificateOut",
    "CertificateView",
    "ContentError",
    "DccCode",
    "DccCodes",
    "Dose",
    "Holder",
    "PersonCertificates",
    "Revoked",
    "StoredCertificate",
    "Verification",
    "certificate_pdf",
    "check_dcc_codes",
    "current_certificates",
    "dose_certified",
    "forget_trust",
    "get_certificate",
    "get_shc_crl",
    "get_shc_jwks",
    "init_demo_keys",
    "person_certificates",
    "public_trust",
    "qr_svg",
    "recompute_people",
    "render_pdf",
    "revoke_lot",
    "revoke_person",
    "shc_issuer",
    "smart_health_card_file",
    "trust_list",
    "verify_certificate",
]


def shc_issuer(tenant: TenantInfo, *, public_url: str) -> str:
    """The tenant's SMART Health Card ``iss``: configured, or served by vaxport itself."""
    return issuer_url(tenant, public_url=public_url)


async def get_shc_jwks(*, db: Database, cache: Cache, code: str) -> dict[str, Any]:
    """The public keys of the tenant's SMART Health Card issuer, each with its
    ``crlVersion`` (404 for no tenant)."""
    tenant = await get_tenant_or_404(db=db, cache=cache, code=code)
    return await own_trust.jwks_with_crl(db, tenant.id)


async def get_shc_crl(*, db: Database, cache: Cache, code: str, kid: str) -> dict[str, Any]:
    """The revocation list of one of the tenant's published SHC keys (404 otherwise)."""
    tenant = await get_tenant_or_404(db=db, cache=cache, code=code)
    if kid not in await own_trust.published_shc_kids(db, tenant.id):
        raise NotFound(N_("no such key"))
    return await own_trust.crl(db, tenant.id, kid)


def forget_trust(db: Database) -> None:
    """Drop this process's cached trust (ours and imported) and bundle: read anew."""
    own_trust.forget(db)


async def public_trust(*, db: Database) -> TrustStore:
    """What ``/api/v1/verify`` trusts: every tenant's own keys and revocations (read
    directly from issuance, in this context) and the imported trust lists."""
    imported = (await trust.union(db=db)).store
    return imported.merged((await own_trust.own_trust(db)).store)


async def verify_certificate(
    *, db: Database, payload: str | bytes, image: bool = False, at: dt.datetime | None = None
) -> Verification:
    """Verify QR text or a photo against the public trust (photos decode off the loop)."""
    store = await public_trust(db=db)
    if image:
        return await asyncio.to_thread(
            verify_image,
            payload if isinstance(payload, bytes) else payload.encode(),
            trust=store,
            at=at,
        )
    return verify(payload, trust=store, at=at)


async def trust_list(*, db: Database) -> dict[str, Any]:
    """The signed trust bundle (``GET /api/v1/trust-list``)."""
    return await trust.export_bundle(db=db, own=await own_trust.own_trust(db))
