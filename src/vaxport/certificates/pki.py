"""X.509 for EU DCC signing: a tenant CSCA, Document Signer Certificates, imported DSCs.

A DSC is an EC P-256 key certified by the CSCA with the extended key usage that limits it
to vaccination certificates (``1.3.6.1.4.1.1847.2021.1.2``), as the eHN's certificate
governance asks. Imported DSCs (from the operator's own PKI) are checked: parsable, EC
P-256, within their validity, the key matching the certificate, and an extended key usage
that allows vaccinations (none at all allows every type).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# The DCC's vaccination key-usage OID, and the alternative arc some member states used
# at first (…1.0.1847…): both mean the same. Test is …1.1, recovery …1.3.
EKU_VACCINATION = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.2")
EKU_VACCINATION_ALT = x509.ObjectIdentifier("1.3.6.1.4.1.0.1847.2021.1.2")
DCC_ARCS = ("1.3.6.1.4.1.1847.2021.1.", "1.3.6.1.4.1.0.1847.2021.1.")
BACKDATE = dt.timedelta(minutes=5)  # hosts' clocks differ a little


class PkiError(ValueError):
    """A certificate or key is unusable (the message says why, never the key)."""


@dataclass(frozen=True, slots=True)
class CertifiedKey:
    """A private key and its X.509 certificate."""

    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def _name(country: str, organisation: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def make_csca(
    *, country: str, organisation: str, common_name: str, days: int, now: dt.datetime
) -> CertifiedKey:
    """A self-signed Country Signing CA for ``days`` (it signs DSCs only)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(country, organisation, common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(key, cert)


def make_dsc(csca: CertifiedKey, *, common_name: str, days: int, now: dt.datetime) -> CertifiedKey:
    """A Document Signer Certificate under ``csca``, for vaccinations only."""
    if now + dt.timedelta(days=days) > csca.certificate.not_valid_after_utc:
        raise PkiError(
            "the DSC would outlive its CSCA (which ends "
            f"{csca.certificate.not_valid_after_utc:%Y-%m-%d}); choose fewer days or a new CSCA"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = csca.certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    org = csca.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    name = _name(str(subject[0].value), str(org[0].value) if org else "vaxport", common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(csca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([EKU_VACCINATION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca.private_key.public_key()),
            critical=False,
        )
        .sign(csca.private_key, hashes.SHA256())
    )
    return CertifiedKey(key, cert)


def load_certificate(data: bytes) -> x509.Certificate:
    """An X.509 certificate from PEM or DER."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise PkiError("the certificate is neither a PEM nor a DER X.509 certificate") from exc


def load_private_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    """An unencrypted EC P-256 private key from PEM or DER (PKCS#8 or SEC 1)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # Never echo the library's message: it may quote the key material.
        raise PkiError(
            "the key is not an unencrypted PEM or DER private key (decrypt it first)"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise PkiError("the key must be an EC P-256 key (ES256, as EU DCC issuance signs)")
    return key


def allows_vaccination(cert: x509.Certificate) -> bool:
    """Whether the DSC's extended key usage allows vaccination certificates."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True  # no DCC usage listed: valid for every type
    except ValueError:
        return False  # unparsable extensions: cannot prove the usage
    dcc_usages = {u for u in eku if u.dotted_string.startswith(DCC_ARCS)}
    # Only usages outside the DCC's arcs: DCC-wise unrestricted, like no extension.
    return not dcc_usages or bool(dcc_usages & {EKU_VACCINATION, EKU_VACCINATION_ALT})


def check_import(cert_data: bytes, key_data: bytes, *, now: dt.datetime) -> CertifiedKey:
    """An operator's DSC and key, checked (see the module docstring)."""
    cert = load_certificate(cert_data)
    key = load_private_key(key_data)
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.public_numbers() != (
        key.public_key().public_numbers()
    ):
        raise PkiError("the key does not match the certificate's public key")
    if not allows_vaccination(cert):
        raise PkiError(
            "the certificate's extended key usage does not allow vaccination certificates "
            f"({EKU_VACCINATION.dotted_string})"
        )
    if cert.not_valid_after_utc <= now:
        raise PkiError(f"the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    if cert.not_valid_before_utc > now + BACKDATE:
        raise PkiError(f"the certificate is valid only from {cert.not_valid_before_utc:%Y-%m-%d}")
    return CertifiedKey(key, cert)
