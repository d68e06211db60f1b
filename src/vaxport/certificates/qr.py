"""QR codes of certificates (segno): PNG for pages and the PDF, SVG for print.

* EU DCC: the ``HC1:`` text is all in the QR alphanumeric set (Base45 was chosen for
  it): alphanumeric mode, error correction Q, as the eHN guidelines recommend.
* SMART Health Card: two segments, ``shc:/`` in byte mode and the digits in numeric
  mode (one segment would put everything in byte mode: a much larger code), error
  correction L as the spec sizes it (a 1,195-character JWS fits version 22).
"""

from __future__ import annotations

import io
from typing import Any

import segno
from segno import consts as segno_modes

from vaxport.certificates import dcc, shc


def dcc_qr(text: str) -> Any:
    """The QR code of an ``HC1:`` text."""
    if not text.startswith(dcc.PREFIX):
        raise ValueError("not an EU DCC (HC1:) text")
    return segno.make_qr(text, error="q", mode="alphanumeric", boost_error=False)


def shc_qr(text: str) -> Any:
    """The QR code of an ``shc:/`` text (from :func:`vaxport.certificates.shc.qr_text`)."""
    digits = text.removeprefix(shc.PREFIX)
    if digits == text or not digits.isdigit():
        raise ValueError("not a single-QR SMART Health Card (shc:/ and digits) text")
    # segno takes a list of (content, mode) segments, though its hints say otherwise.
    segments: Any = [(shc.PREFIX, segno_modes.MODE_BYTE), (digits, segno_modes.MODE_NUMERIC)]
    return segno.make_qr(
        segments,
        error="l",
        boost_error=False,
    )


def png(code: Any, *, scale: int = 4, border: int = 4) -> bytes:
    """A PNG of ``code`` (4 quiet-zone modules, as ISO/IEC 18004 asks)."""
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def svg(code: Any, *, scale: int = 4, border: int = 4) -> bytes:
    """An SVG of ``code``."""
    out = io.BytesIO()
    code.save(out, kind="svg", scale=scale, border=border, xmldecl=False)
    return out.getvalue()


def code_of(text: str) -> Any:
    """The QR code of a certificate's text, by its kind (``HC1:`` or ``shc:/``)."""
    return dcc_qr(text) if text.startswith(dcc.PREFIX) else shc_qr(text)


def inline_svg(text: str) -> str:
    """The QR code of a certificate's text as SVG markup for a page: sized by its CSS
    (a view box, no width), dark on a white quiet zone whatever the page's colours."""
    markup: str = code_of(text).svg_inline(
        scale=1, border=4, omitsize=True, svgclass="qr-code", lineclass=None, light="#fff"
    )
    return markup
