"""Certificates shaped as issuance stores them, made in the test for the PDF renderer: a
holder and doses signed with throw-away keys (an EU DCC per dose, a SMART Health Card of
every dose) and the trust store that verifies them; and the QR codes of a PDF or a page
read back."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from tests.certificates.helpers import ISSUER, NOW, dcc_signer, make_dsc
from tests.support.qr import qr_texts
from vaxport.certificates import dcc, shc, signers
from vaxport.certificates.content import Dose, Holder
from vaxport.certificates.verify import ShcKey, SigningCertificate, TrustStore

SHC_ISS = "https://example.org/shc/demo"
AT = NOW + dt.timedelta(days=1)  # when the tests verify what they issued
VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class Stored:
    """A stored certificate, shaped as the front door's ``CertificateOut``."""

    id: uuid.UUID
    format: str
    issued_at: dt.datetime
    expires_at: dt.datetime | None
    status: str
    qr: str | None
    jws: str | None


class Issuer:
    """A DSC and an SHC issuer key of the test, and what they sign."""

    def __init__(self) -> None:
        self.dsc = make_dsc()
        self.dcc_signer = dcc_signer(self.dsc)
        key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = signers.public_jwk(key)
        self.shc_signer = shc.ShcSigner(self.jwk["kid"], key, b"r" * 32)

    def trust(self) -> TrustStore:
        store = TrustStore()
        store.add_dsc(SigningCertificate.from_der(self.dsc.der))
        public = self.shc_signer.private_key.public_key()
        store.add_shc(ShcKey(kid=self.jwk["kid"], jwk=self.jwk, public_key=public, iss=SHC_ISS))
        return store

    def issue(
        self, holder: Holder, doses: Sequence[Dose], *, formats: Sequence[str] = ("eu-dcc", "shc")
    ) -> list[Stored]:
        """The current certificates of ``holder`` as issuance keeps them: an EU DCC per dose,
        a SMART Health Card of every dose."""
        out: list[Stored] = []
        if "eu-dcc" in formats:
            issued = dcc.encode_all(
                holder,
                list(doses),
                signer=self.dcc_signer,
                issuer=ISSUER,
                issued_at=NOW,
                validity=VALIDITY,
            )
            for cert in issued:
                out.append(
                    Stored(uuid.uuid4(), "eu-dcc", NOW, cert.expires_at, "current", cert.text, None)
                )
        if "shc" in formats:
            jws = shc.encode(
                holder,
                list(doses),
                signer=self.shc_signer,
                iss=SHC_ISS,
                issued_at=NOW,
                validity=VALIDITY,
            )
            out.append(
                Stored(uuid.uuid4(), "shc", NOW, NOW + VALIDITY, "current", shc.qr_text(jws), jws)
            )
        return out


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def pdf_qr_texts(content: bytes) -> list[str]:
    """The texts of every QR code image in the PDF, decoded with zxing-cpp."""
    from pypdf import PdfReader

    texts = []
    for page in PdfReader(io.BytesIO(content)).pages:
        for image in page.images:
            picture = Image.open(io.BytesIO(image.data))
            texts += qr_texts(picture)
    return texts


def svg_qr_texts(markup: str) -> list[str]:
    """The texts of the QR code in a page's inline SVG, decoded with zxing-cpp once drawn.

    The markup is segno's (``qr.inline_svg``): a view box in modules and one stroked path
    of horizontal runs (``M``/``m`` moves, ``h`` runs) along each row's middle.
    """

    scale = 8
    svg = re.search(r'<svg viewBox="0 0 (\d+) (\d+)"[^>]*>(.*?)</svg>', markup, re.S)
    assert svg is not None, "no QR code on the page"
    width, height = int(svg[1]), int(svg[2])
    path = re.search(r'<path stroke="[^"]+" d="([^"]+)"', svg[3])
    assert path is not None
    picture = Image.new("L", (width * scale, height * scale), 255)
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?", path[1]):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            run = float(a)
            row = int(y - 0.5) * scale
            left, right = sorted((x, x + run))
            picture.paste(0, (int(left * scale), row, int(right * scale), row + scale))
            x += run
    return qr_texts(picture)
