"""Trust-list tables: foreign DSCs, SHC issuers' JWKS, revocation entries (per tenant, as
imported by that tenant's national admin), and the installation's trust-list signing key.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7


class TrustedDsc(Base):
    """A foreign EU DCC Document Signer Certificate a tenant trusts."""

    __tablename__ = "trust_dscs"
    __table_args__ = (UniqueConstraint("tenant_id", "fingerprint"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    kid: Mapped[str] = mapped_column(String(16), index=True)  # hex of the 8-byte kid
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the DER, hex
    country: Mapped[str | None] = mapped_column(String(2))
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    not_before: Mapped[dt.datetime] = mapped_column()
    not_after: Mapped[dt.datetime] = mapped_column()
    source: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TrustedShcIssuer(Base):
    """A SMART Health Cards issuer a tenant trusts: its URL and public JWKS."""

    __tablename__ = "trust_shc_issuers"
    __table_args__ = (UniqueConstraint("tenant_id", "iss"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    iss: Mapped[str] = mapped_column(String(500))
    jwks: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    source: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TrustRevocation(Base):
    """One revoked foreign certificate: a DCC revocation hash under a kid, or an SHC rid.

    ``kind`` is ``eu-dcc`` (``kid`` hex, ``entry`` the 16-byte hash in hex) or ``shc``
    (``iss`` and ``kid``, ``entry`` the ``rid`` or ``rid.timestamp``).
    """

    __tablename__ = "trust_revocations"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "iss", "kid", "entry"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(8))
    iss: Mapped[str] = mapped_column(String(500), default="")
    kid: Mapped[str] = mapped_column(String(100))
    entry: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def _key_context(row: Any) -> dict[str, str]:
    return {"vaxport:purpose": "trust-list-signing", "vaxport:kid": str(row.kid)}


class TrustListKey(Base):
    """The installation's ES256 key that signs exported trust bundles.

    Its own kind of key: neither a token key nor a certificate key. The private key is
    stored only wrapped by the key provider, bound to its kid (``rotate-kek`` re-wraps
    it); the newest row not retired signs. Verifiers pin its public key's thumbprint.
    A rotation (``vaxport keys rotate-trust-list``) adds a row whose ``endorsement`` is
    the hand-over signed by the previous key (``previous_kid``: unique, so two concurrent
    rotations cannot both succeed) and retires that one: its private part is never
    unwrapped again.
    """

    __tablename__ = "trust_list_keys"
    __table_args__ = (
        UniqueConstraint("kid"),
        UniqueConstraint("previous_kid"),
        {
            "info": {
                "cross_tenant": "one key for the installation's trust list (the union of "
                "every tenant's trust); wrapped by the KEK",
                "kek_wrapped": {
                    "blob": "private_key_wrapped",
                    "provider": "provider",
                    "kek_id": "provider_key_id",
                    "context": _key_context,
                },
            }
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    kid: Mapped[str] = mapped_column(String(64))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    private_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    provider: Mapped[str] = mapped_column(String(16))
    provider_key_id: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    previous_kid: Mapped[str | None] = mapped_column(String(64))
    endorsement: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    retired_at: Mapped[dt.datetime | None] = mapped_column()
