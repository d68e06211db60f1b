"""One entry point for every input: QR text, a JWS, a ``.smart-health-card`` file, a photo."""

from __future__ import annotations

import datetime as dt

from vaxport.certificates.verify.dcc import PREFIX as DCC_PREFIX
from vaxport.certificates.verify.dcc import verify_dcc
from vaxport.certificates.verify.images import ImageError, looks_like_image, read_qr_texts
from vaxport.certificates.verify.limits import MAX_TEXT_CHARS
from vaxport.certificates.verify.outcome import Verification
from vaxport.certificates.verify.shc import PREFIX as SHC_PREFIX
from vaxport.certificates.verify.shc import looks_like_jws, verify_shc_text
from vaxport.certificates.verify.trust_store import TrustStore
from vaxport.core.clock import utcnow
from vaxport.core.logging import get_logger

log = get_logger(__name__)


def verify(
    payload: str | bytes, *, trust: TrustStore, at: dt.datetime | None = None
) -> Verification:
    """Verify a certificate given as text (or bytes: text in UTF-8, or a PNG/JPEG photo)."""
    try:
        return _verify(payload, trust=trust, at=at or utcnow())
    except Exception:
        # A verifier bug, not an answer: logged loudly (stage "internal"; the fuzz test
        # asserts it never happens), and the certificate is not accepted.
        log.exception("certificates.verify_failed_internally")
        return Verification().fail(
            "decode", "the certificate could not be processed", stage="internal"
        )


def _verify(  # noqa: PLR0911 - one answer per kind of input
    payload: str | bytes, *, trust: TrustStore, at: dt.datetime
) -> Verification:
    if isinstance(payload, bytes):
        if looks_like_image(payload):
            return verify_image(payload, trust=trust, at=at)
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            return Verification().fail("decode", "neither text nor an image", stage="prefix")
    if len(payload) > MAX_TEXT_CHARS:
        return Verification().fail("decode", "too long to be a certificate", stage="prefix")
    if payload.startswith("\ufeff"):
        # Never stripped: a BOM is an issuer bug the spec forbids, and a verifier that
        # quietly accepts it teaches issuers to keep it.
        return Verification().fail(
            "decode", "the text starts with a byte order mark", stage="prefix"
        )
    text = payload.strip()
    if text.startswith(DCC_PREFIX):
        return verify_dcc(text, trust=trust, at=at)
    if text.startswith((SHC_PREFIX, "{")) or looks_like_jws(text):
        return verify_shc_text(text, trust=trust, at=at)
    return Verification().fail(
        "decode",
        "not a certificate: expected HC1:, shc:/, a JWS or a health card file",
        stage="prefix",
    )


def verify_image(image: bytes, *, trust: TrustStore, at: dt.datetime | None = None) -> Verification:
    """Read the QR code(s) of a PNG/JPEG photo, then verify what they say."""
    try:
        texts = read_qr_texts(image)
    except ImageError as exc:
        return Verification().fail("decode", str(exc), stage="image")
    except Exception:
        log.exception("certificates.image_failed_internally")
        return Verification().fail("decode", "the image could not be read", stage="internal")
    if not texts:
        return Verification().fail("decode", "no QR code found in the image", stage="image")
    shc_chunks = [t for t in texts if t.startswith(SHC_PREFIX)]
    # One photo may show every chunk of a multi-part SMART Health Card.
    text = "\n".join(shc_chunks) if len(shc_chunks) > 1 else texts[0]
    return verify(text, trust=trust, at=at)
