"""Certificate signing keys: per tenant and per format, never the access-token keys.

``csca``: the tenant's Country Signing CA (self-signed X.509), which signs its DSCs.
``dcc``: an EU DCC Document Signer (X.509 certificate under a CSCA, generated or
imported). ``shc``: a SMART Health Card issuer key (a bare JWK) with its revocation
secret. One key per tenant and format is ``active`` (signs); a rotation makes the old
one ``retired``: it signs nothing more but stays published until ``publish_until``, when
every certificate it signed has expired.

Private keys are stored only wrapped by the key provider (the KEK), bound to tenant,
format and kid; ``vaxport keys rotate-kek`` re-wraps them (``kek_wrapped`` below).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7

FORMAT_CSCA, FORMAT_DCC, FORMAT_SHC = "csca", "dcc", "shc"
FORMATS = (FORMAT_CSCA, FORMAT_DCC, FORMAT_SHC)
ACTIVE, RETIRED = "active", "retired"
ORIGIN_GENERATED, ORIGIN_IMPORTED = "generated", "imported"


def wrap_context(tenant_id: uuid.UUID | str, key_format: str, kid: str) -> dict[str, str]:
    """The key provider's encryption context of one certificate key."""
    return {
        "vaxport:purpose": "certificate-signing",
        "vaxport:tenant": str(tenant_id),
        "vaxport:format": key_format,
        "vaxport:kid": kid,
    }


def _row_context(row: Any) -> dict[str, str]:
    return wrap_context(row.tenant_id, row.format, row.kid)


class CertificateKey(Base):
    """One certificate signing key of a tenant (see the module docstring)."""

    __tablename__ = "certificate_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "format", "kid"),
        # At most one key per tenant and format signs.
        Index(
            "uq_certificate_keys_one_active",
            "tenant_id",
            "format",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        {
            "info": {
                "cross_tenant": "wrapped keys only, useless without the KEK; rotate-kek must "
                "see every tenant's keys before an old KEK may be dropped",
                "kek_wrapped": {
                    "blob": "private_key_wrapped",
                    "provider": "provider",
                    "kek_id": "provider_key_id",
                    "context": _row_context,
                },
            }
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    format: Mapped[str] = mapped_column(String(8))
    # DCC and CSCA: base64 of the first 8 bytes of SHA-256(DER); SHC: JWK thumbprint.
    kid: Mapped[str] = mapped_column(String(64))
    alg: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    certificate: Mapped[bytes | None] = mapped_column(LargeBinary)  # X.509 DER (csca, dcc)
    # The private scalar (32 bytes; shc: then the 32-byte revocation secret), wrapped.
    private_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    provider: Mapped[str] = mapped_column(String(16))
    provider_key_id: Mapped[str] = mapped_column(String(300))
    not_before: Mapped[dt.datetime | None] = mapped_column()
    not_after: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column()
    publish_until: Mapped[dt.datetime | None] = mapped_column()
