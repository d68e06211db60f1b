"""The keys a verification trusts and the revocation data it consults, held in memory.

Built by the CLI from files (``trust.files``), by the API from the trust list and the
tenants' own published keys. A :class:`SigningCertificate` is an EU DCC Document Signer
Certificate (looked up by its ``kid``: the first 8 bytes of SHA-256 over its DER); a
:class:`ShcKey` is one key of an SHC issuer's JWKS (looked up by issuer URL and ``kid``,
or by ``kid`` alone when the JWKS came without its issuer URL).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

# DCC extended key usages of a DSC, per certificate type (both spellings are in use).
EKU_TEST = ("1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.0.1847.2021.1.1")
EKU_VACCINATION = ("1.3.6.1.4.1.1847.2021.1.2", "1.3.6.1.4.1.0.1847.2021.1.2")
EKU_RECOVERY = ("1.3.6.1.4.1.1847.2021.1.3", "1.3.6.1.4.1.0.1847.2021.1.3")
DCC_EKUS = frozenset(EKU_TEST + EKU_VACCINATION + EKU_RECOVERY)
EKU_BY_TYPE = {"t": EKU_TEST, "v": EKU_VACCINATION, "r": EKU_RECOVERY}

# DCC revocation hash types (the DCC revocation specification): SHA-256 truncated to 16 bytes.
DccRevocationHashes = Mapping[str, bytes]
HASH_UCI = "UCI"
HASH_COUNTRY_UCI = "COUNTRYCODEUCI"
HASH_SIGNATURE = "SIGNATURE"
HASH_TYPES = (HASH_UCI, HASH_COUNTRY_UCI, HASH_SIGNATURE)
REVOCATION_HASH_BYTES = 16


class RevocationList(Protocol):
    """Answers whether a certificate is revoked; implementations keep their data in memory."""

    def dcc_revoked(self, *, kid: bytes, hashes: DccRevocationHashes) -> bool:
        """A DCC signed with ``kid`` whose revocation hashes are ``hashes``."""
        ...

    def shc_revoked(self, *, iss: str, kid: str, rid: str, nbf: float | None) -> bool:
        """An SHC of issuer ``iss`` signed with ``kid`` carrying ``rid``, issued at ``nbf``."""
        ...


class NoRevocations:
    """Nothing is revoked (a verifier given keys but no revocation data)."""

    def dcc_revoked(self, *, kid: bytes, hashes: DccRevocationHashes) -> bool:
        """Never."""
        return False

    def shc_revoked(self, *, iss: str, kid: str, rid: str, nbf: float | None) -> bool:
        """Never."""
        return False


@dataclass(slots=True)
class Revocations:
    """Revocation data as trust bundles carry it.

    ``dcc``: kid (hex) -> set of truncated hashes (hex), any type. ``shc``: (iss, kid) ->
    rid -> revoked-before timestamp (``None``: every card with that rid), as the SMART
    Health Cards CRL writes ``rid`` or ``rid.timestamp``.
    """

    dcc: dict[str, set[str]] = field(default_factory=dict)
    shc: dict[tuple[str, str], dict[str, float | None]] = field(default_factory=dict)

    def dcc_revoked(self, *, kid: bytes, hashes: DccRevocationHashes) -> bool:
        """Any of the certificate's hashes listed for its key."""
        listed = self.dcc.get(kid.hex())
        if not listed:
            return False
        return any(h.hex() in listed for h in hashes.values())

    def shc_revoked(self, *, iss: str, kid: str, rid: str, nbf: float | None) -> bool:
        """The rid listed for the key (before the card's ``nbf`` when a time is given)."""
        by_rid = self.shc.get((iss, kid))
        if not by_rid or rid not in by_rid:
            return False
        before = by_rid[rid]
        return before is None or nbf is None or nbf < before

    def merge(self, other: Revocations) -> None:
        """Add ``other``'s entries to these."""
        for kid, hashes in other.dcc.items():
            self.dcc.setdefault(kid, set()).update(hashes)
        for key, rids in other.shc.items():
            self.shc.setdefault(key, {}).update(rids)


class AnyRevocations:
    """Revoked when any of several lists says so (the trust list and our own issuer's)."""

    def __init__(self, lists: Iterable[RevocationList]) -> None:
        self.lists = tuple(lists)

    def dcc_revoked(self, *, kid: bytes, hashes: DccRevocationHashes) -> bool:
        """Any list revokes it."""
        return any(r.dcc_revoked(kid=kid, hashes=hashes) for r in self.lists)

    def shc_revoked(self, *, iss: str, kid: str, rid: str, nbf: float | None) -> bool:
        """Any list revokes it."""
        return any(r.shc_revoked(iss=iss, kid=kid, rid=rid, nbf=nbf) for r in self.lists)


def dcc_kid(der: bytes) -> bytes:
    """A DSC's ``kid``: the first 8 bytes of SHA-256 over its DER."""
    return hashlib.sha256(der).digest()[:8]


@dataclass(frozen=True, slots=True)
class SigningCertificate:
    """A trusted EU DCC Document Signer Certificate."""

    kid: bytes
    der: bytes
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey
    not_before: dt.datetime
    not_after: dt.datetime
    # The DCC EKUs it carries; ``None``: its extensions could not be read ("no key usage").
    ekus: frozenset[str] | None
    country: str | None = None

    @classmethod
    def from_der(cls, der: bytes, *, country: str | None = None) -> SigningCertificate:
        """Parse a DER certificate; raises ``ValueError`` when it is not a usable DSC."""
        cert = x509.load_der_x509_certificate(der)
        key = cert.public_key()
        if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
            raise ValueError("the certificate's key is neither EC nor RSA")
        return cls(
            kid=dcc_kid(der),
            der=der,
            public_key=key,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            ekus=_ekus(cert),
            country=country or _country(cert),
        )


def _ekus(cert: x509.Certificate) -> frozenset[str] | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return frozenset()
    except ValueError:  # some real DSCs carry extensions cryptography refuses to parse
        return None
    return frozenset(oid.dotted_string for oid in ext.value) - {
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE.dotted_string
    }


def _country(cert: x509.Certificate) -> str | None:
    try:
        attrs = cert.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)
    except ValueError:
        return None
    value = attrs[0].value if attrs else None
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class ShcKey:
    """One trusted key of an SMART Health Cards issuer (a public JWK)."""

    kid: str
    jwk: Mapping[str, Any]
    public_key: ec.EllipticCurvePublicKey
    iss: str | None = None  # None: trusted by kid alone (a JWKS given without its URL)


@dataclass(slots=True)
class TrustStore:
    """Trusted DSCs by kid, SHC issuer keys by (iss, kid) and by kid, and revocations."""

    dsc: dict[bytes, list[SigningCertificate]] = field(default_factory=dict)
    shc: dict[tuple[str | None, str], ShcKey] = field(default_factory=dict)
    revocations: RevocationList = field(default_factory=NoRevocations)

    def add_dsc(self, cert: SigningCertificate) -> None:
        """Trust a DSC (kids may collide: every certificate under a kid is tried)."""
        listed = self.dsc.setdefault(cert.kid, [])
        if all(c.der != cert.der for c in listed):
            listed.append(cert)

    def add_shc(self, key: ShcKey) -> None:
        """Trust an SHC issuer key."""
        self.shc[(key.iss, key.kid)] = key

    def shc_key(self, iss: str, kid: str) -> ShcKey | None:
        """The key of issuer ``iss`` with ``kid``, else a key trusted by ``kid`` alone."""
        return self.shc.get((iss, kid)) or self.shc.get((None, kid))

    def merged(self, other: TrustStore) -> TrustStore:
        """A store trusting both (revocations: either one revokes)."""
        out = TrustStore(
            dsc={k: list(v) for k, v in self.dsc.items()},
            shc=dict(self.shc),
            revocations=AnyRevocations((self.revocations, other.revocations)),
        )
        for certs in other.dsc.values():
            for cert in certs:
                out.add_dsc(cert)
        out.shc.update(other.shc)
        return out
