"""Issued certificates and the doses withheld from certificates.

``certificates``: one row per signed certificate. ``eu-dcc`` rows certify one dose each
(``dose_id``; the DCC's ``v`` holds one vaccination) and carry their ``uvci``;
``shc`` rows list every dose and carry their ``rid`` and issuer ``iss``. A person has at
most one ``current`` SMART Health Card and one ``current`` DCC per dose (partial unique
indexes: concurrent issuance cannot double them). ``superseded`` certificates were
replaced by a newer one and stay valid until they expire (a later dose adds to what is
true); ``revoked`` ones say something no longer true (a voided or corrected dose, a
corrected name, a faulty lot, fraud) and are listed in our revocation data.

The payload (the QR text, the SHC's JWS, and the content fingerprints recomputation
compares) holds names and birth dates: it is encrypted under the person's own key, so
erasure shreds it. ``kid``, ``uvci``, ``rid`` and ``iss`` are no personal data and stay
readable after erasure: revocation lists are built from them.

``certificate_withheld_doses``: a dose an admin took off certificates (its lot is faulty,
the record is fraudulent); recomputation leaves it out and revokes what listed it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.crypto import encrypted
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7

EU_DCC, SHC = "eu-dcc", "shc"
CURRENT, SUPERSEDED, REVOKED = "current", "superseded", "revoked"
STATUSES = (CURRENT, SUPERSEDED, REVOKED)
# Why a certificate was revoked (``revocation_reason``).
REASON_DOSE_REMOVED = "dose-removed"  # voided, or unmerged to another record
REASON_DOSE_CORRECTED = "dose-corrected"
REASON_HOLDER_CORRECTED = "holder-corrected"
REASON_ERASED = "erased"
REASON_FRAUD = "fraud"
REASON_FAULTY_LOT = "faulty-lot"
WITHHOLD_REASONS = (REASON_FRAUD, REASON_FAULTY_LOT)

_SHC_CURRENT = "status = 'current' AND format = 'shc'"
_DCC_CURRENT = "status = 'current' AND format = 'eu-dcc'"


class Certificate(Base):
    """One signed certificate of a person (see the module docstring)."""

    __tablename__ = "certificates"
    __table_args__ = (
        Index("ix_certificates_person", "tenant_id", "beneficiary_id", "status"),
        # Our revocation data is read by kid, newest last (the verifier's trust refresh).
        Index("ix_certificates_revoked", "tenant_id", "status", "kid"),
        Index(
            "uq_certificates_current_shc",
            "tenant_id",
            "beneficiary_id",
            unique=True,
            postgresql_where=text(_SHC_CURRENT),
            sqlite_where=text(_SHC_CURRENT),
        ),
        Index(
            "uq_certificates_current_dcc",
            "tenant_id",
            "beneficiary_id",
            "dose_id",
            unique=True,
            postgresql_where=text(_DCC_CURRENT),
            sqlite_where=text(_DCC_CURRENT),
        ),
        CheckConstraint("status IN ('current', 'superseded', 'revoked')", name="status_known"),
        CheckConstraint("format IN ('eu-dcc', 'shc')", name="format_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    beneficiary_id: Mapped[uuid.UUID] = mapped_column()
    format: Mapped[str] = mapped_column(String(8))
    # eu-dcc: the dose it certifies; shc: None (``dose_ids`` lists every dose).
    dose_id: Mapped[uuid.UUID | None] = mapped_column()
    dose_ids: Mapped[list[str]] = mapped_column(JSONDoc)
    kid: Mapped[str] = mapped_column(String(64))
    uvci: Mapped[str | None] = mapped_column(String(80))
    rid: Mapped[str | None] = mapped_column(String(32))
    iss: Mapped[str | None] = mapped_column(String(200))
    issued_at: Mapped[dt.datetime] = mapped_column()
    expires_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=CURRENT)
    superseded_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    # {"qr": QR text, "jws": SHC JWS or None, "holder": fp, "doses": {dose id: fp}}.
    payload = encrypted("json", subject="beneficiary_id")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WithheldDose(Base):
    """A dose kept off certificates by an admin (faulty lot, fraud)."""

    __tablename__ = "certificate_withheld_doses"
    __table_args__ = (
        UniqueConstraint("tenant_id", "dose_id"),
        Index("ix_certificate_withheld_doses_person", "tenant_id", "beneficiary_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    beneficiary_id: Mapped[uuid.UUID] = mapped_column()
    dose_id: Mapped[uuid.UUID] = mapped_column()
    reason: Mapped[str] = mapped_column(String(32))
    lot_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def payload_of(row: Certificate) -> dict[str, Any] | None:
    """The decrypted payload, None when shredded (the person was erased)."""
    value = row.payload
    return dict(value) if isinstance(value, dict) else None
