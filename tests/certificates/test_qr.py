"""QR codes: DCC in alphanumeric mode at level Q, SHC as byte + numeric segments."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import segno
from PIL import Image

from tests.certificates.helpers import ISSUER, NOW, dcc_signer, dose, holder, make_dsc
from tests.support.qr import qr_texts
from vaxport.certificates import dcc, qr, shc


def _hc1() -> str:
    (issued,) = dcc.encode_all(
        holder(),
        [dose(1, dt.date(2026, 2, 1))],
        signer=dcc_signer(make_dsc()),
        issuer=ISSUER,
        issued_at=NOW,
        validity=dt.timedelta(days=365),
    )
    return issued.text


def _shc_text() -> str:
    from cryptography.hazmat.primitives.asymmetric import ec

    signer = shc.ShcSigner("k" * 43, ec.generate_private_key(ec.SECP256R1()), b"s" * 32)
    doses = [dose(1, dt.date(2026, 2, 1)), dose(2, dt.date(2026, 3, 1))]
    jws = shc.encode(
        holder(),
        doses,
        signer=signer,
        iss="https://example.org/shc/demo",
        issued_at=NOW,
        validity=None,
    )
    return shc.qr_text(jws)


def _decoded(png: bytes) -> list[str]:

    return qr_texts(Image.open(io.BytesIO(png)))


def test_a_dcc_qr_is_alphanumeric_at_level_q_and_renders_as_png() -> None:
    text = _hc1()
    code = qr.dcc_qr(text)
    assert code.mode == "alphanumeric"
    assert code.error == "Q"
    png = qr.png(code)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size[0] == (code.symbol_size(scale=4, border=4))[0]
    assert _decoded(png) == [text]


def test_an_shc_qr_uses_a_numeric_segment_and_is_smaller_than_byte_mode() -> None:
    text = _shc_text()
    code = qr.shc_qr(text)
    assert code.error == "L"
    assert code.version < segno.make_qr(text, error="l", boost_error=False).version
    assert code.version <= 22
    assert qr.svg(code).startswith(b"<svg")
    png = qr.png(code)
    assert _decoded(png) == [text]


def test_texts_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(ValueError, match="HC1"):
        qr.dcc_qr("shc:/0123")
    with pytest.raises(ValueError, match="shc:/"):
        qr.shc_qr("shc:/12ab")
    with pytest.raises(ValueError, match="shc:/"):
        qr.shc_qr("HC1:ABC")
