"""The tenant's signers for one recomputation, and how one certificate is signed.

A format the tenant enables but holds no active key for is skipped with a logged and
counted reason (``vaxport keys init-dsc`` / ``init-shc`` fix it); the other format is
still issued.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass, field

from prometheus_client import Counter

from vaxport.certificates import dcc, shc, signers
from vaxport.certificates.content import ContentError
from vaxport.certificates.issuance.facts import DoseFacts, Facts
from vaxport.certificates.issuance.models import CURRENT, EU_DCC, SHC, Certificate
from vaxport.certificates.signers import KeyStateError
from vaxport.core.db import Database
from vaxport.core.logging import get_logger
from vaxport.tenancy.service import TenantInfo

log = get_logger("vaxport.certificates")

ISSUED = Counter(
    "vaxport_certificates_issued_total", "Certificates signed and stored, by format.", ["format"]
)
SKIPPED = Counter(
    "vaxport_certificates_skipped_total",
    "Certificates not issued, by format and reason (no-key, dsc-expired, content...).",
    ["format", "reason"],
)
REVOKED = Counter(
    "vaxport_certificates_revoked_total", "Certificates revoked, by reason.", ["reason"]
)


@dataclass(slots=True)
class Signers:
    """The keys one recomputation signs with (None: that format is skipped)."""

    dcc: dcc.DccSigner | None = None
    shc: shc.ShcSigner | None = None
    iss: str = ""
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def dcc_kid(self) -> str:
        assert self.dcc is not None
        return base64.b64encode(self.dcc.kid).decode("ascii")


def skip(key_format: str, reason: str, **details: object) -> None:
    """Count and log a certificate not issued (never with personal data)."""
    SKIPPED.labels(key_format, reason).inc()
    log.warning("certificates.skipped", format=key_format, reason=reason, **details)


async def load(db: Database, tenant: TenantInfo, *, iss: str) -> Signers:
    """The active signers of the formats ``tenant`` enables."""
    out = Signers(iss=iss)
    formats = tenant.config.certificates.formats
    if EU_DCC in formats:
        try:
            out.dcc = await signers.dcc_signer(db, tenant_id=tenant.id)
        except KeyStateError:
            out.skipped[EU_DCC] = "no-key"
    if SHC in formats:
        try:
            out.shc = await signers.shc_signer(db, tenant_id=tenant.id)
        except KeyStateError:
            out.skipped[SHC] = "no-key"
    return out


def _expiry(tenant: TenantInfo, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=tenant.config.certificates.validity)


def sign_dcc(
    tenant: TenantInfo,
    signer: Signers,
    facts: Facts,
    dose: DoseFacts,
    *,
    cert_id: uuid.UUID,
    now: dt.datetime,
) -> Certificate | None:
    """One DCC for ``dose`` (None, counted, when it cannot be issued)."""
    assert signer.dcc is not None
    settings = tenant.config.certificates
    if now >= signer.dcc.not_after:
        skip(EU_DCC, "dsc-expired")
        return None
    country = settings.country or tenant.config.phone.default_region
    issuer = dcc.DccIssuer(
        country=country, name=settings.issuer or tenant.name, uvci_prefix=settings.uvci_prefix or ""
    )
    expires_at = min(_expiry(tenant, now), signer.dcc.not_after)
    try:
        uvci = dcc.new_uvci(country, issuer.uvci_prefix)
        holder = facts.holder.holder(str(cert_id))
        text = dcc.sign(
            dcc.payload(holder, dose.content, uvci=uvci, issuer=issuer),
            signer=signer.dcc,
            country=country,
            issued_at=now,
            expires_at=expires_at,
        )
    except ContentError as exc:
        skip(EU_DCC, "content", detail=str(exc))
        return None
    ISSUED.labels(EU_DCC).inc()
    return Certificate(
        id=cert_id,
        tenant_id=tenant.id,
        beneficiary_id=facts.person_id,
        format=EU_DCC,
        dose_id=dose.id,
        dose_ids=[dose.key],
        kid=signer.dcc_kid,
        uvci=uvci,
        issued_at=now,
        expires_at=expires_at,
        status=CURRENT,
        payload={"qr": text, "jws": None, "holder": facts.holder.fp, "doses": {dose.key: dose.fp}},
    )


def sign_shc(
    tenant: TenantInfo,
    signer: Signers,
    facts: Facts,
    doses: list[DoseFacts],
    *,
    cert_id: uuid.UUID,
    now: dt.datetime,
) -> Certificate | None:
    """One SMART Health Card listing ``doses`` (None, counted, when it cannot be issued)."""
    assert signer.shc is not None
    validity = dt.timedelta(days=tenant.config.certificates.validity)
    subject = str(cert_id)  # one rid per card: revoking it revokes exactly this card
    try:
        jws = shc.encode(
            facts.holder.holder(subject),
            [d.content for d in doses],
            signer=signer.shc,
            iss=signer.iss,
            issued_at=now,
            validity=validity,
        )
    except ContentError as exc:
        skip(SHC, "content", detail=str(exc))
        return None
    try:
        qr: str | None = shc.qr_text(jws)
    except shc.TooLargeForQrError:
        qr = None  # too many doses for one QR code: the file and the PDF carry it
        skip(SHC, "too-large-for-qr", doses=len(doses))
    ISSUED.labels(SHC).inc()
    return Certificate(
        id=cert_id,
        tenant_id=tenant.id,
        beneficiary_id=facts.person_id,
        format=SHC,
        dose_id=None,
        dose_ids=[d.key for d in doses],
        kid=signer.shc.kid,
        rid=shc.rid(signer.shc.rid_secret, signer.shc.kid, subject),
        iss=signer.iss,
        issued_at=now,
        expires_at=now + validity,
        status=CURRENT,
        payload={
            "qr": qr,
            "jws": jws,
            "holder": facts.holder.fp,
            "doses": {d.key: d.fp for d in doses},
        },
    )
