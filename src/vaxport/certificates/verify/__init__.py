"""The universal certificate verifier: EU DCC (``HC1:``) and SMART Health Cards (``shc:/``,
JWS, ``.smart-health-card`` files), as text or as a photo of the QR code.

Pure functions over a :class:`~.trust_store.TrustStore` (keys and revocation data held in
memory): the CLI verifies offline from files, the API from the trust list and the
tenants' own keys. Nothing here touches the database.
"""

from vaxport.certificates.verify.core import verify, verify_image
from vaxport.certificates.verify.outcome import CHECKS, Verification
from vaxport.certificates.verify.trust_store import (
    DccRevocationHashes,
    NoRevocations,
    RevocationList,
    ShcKey,
    SigningCertificate,
    TrustStore,
)

__all__ = [
    "CHECKS",
    "DccRevocationHashes",
    "NoRevocations",
    "RevocationList",
    "ShcKey",
    "SigningCertificate",
    "TrustStore",
    "Verification",
    "verify",
    "verify_image",
]
