"""The printable certificate: a PDF (fpdf2) in the person's language.

A pure function of what the certificate says (:class:`CertificateView`: the holder, every
dose, the issuer and the QR texts) and of the language, layout and the installation's
public address. Two layouts: ``a4`` to print (doses in a table, the QR codes side by
side) and ``phone``, a narrow page per part to show on a screen (each QR code the
page's full width, so a verifier's camera reads it from the phone).

The fonts ship with vaxport (``certificates/fonts``: Noto Sans for Latin, Greek and
Cyrillic, Noto Sans Devanagari as its fallback) and only the glyphs used are embedded.
Devanagari's conjuncts and vowel signs need text shaping (HarfBuzz, through
``uharfbuzz``); without it the letters still print and extract, unshaped.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from vaxport.certificates import qr
from vaxport.certificates.content import Dose, Holder
from vaxport.core.i18n import N_, translations_for

Layout = Literal["a4", "phone"]
LAYOUTS: tuple[Layout, ...] = ("a4", "phone")
FONTS_DIR = Path(__file__).resolve().parent / "fonts"
# Family name -> file; the first is the main font, the others its fallbacks, by script.
FONTS = {
    "noto-sans": "NotoSans-Regular.ttf",
    "noto-sans-devanagari": "NotoSansDevanagari-Regular.ttf",
}
MAIN_FONT = "noto-sans"
PHONE_PAGE = (90.0, 160.0)  # mm: about a 9:16 screen
HEADINGS = FontFace(emphasis="", fill_color=(232, 236, 240))
SHAPING = importlib.util.find_spec("uharfbuzz") is not None
QR_CACHE = 256  # PNGs of QR texts (~60 ms each to make; a few KB each to keep)

TITLE = N_("Vaccination certificate")
NAME = N_("Name")
BIRTH = N_("Date of birth")
ISSUER = N_("Issued by")
DOSES = N_("Vaccinations")
VACCINE = N_("Vaccine")
DATE = N_("Date")
DOSE = N_("Dose")
LOT = N_("Lot")
CENTRE = N_("Centre")
DOSE_OF = N_("%(number)s of %(series)s")
DCC = N_("EU Digital COVID Certificate (EU DCC)")
DCC_FOR = N_("EU DCC of the dose of %(date)s")
SHC = N_("SMART Health Card")
CHECK = N_("Scan a code with any verifier app, or check this certificate at %(url)s")
CERTIFICATE_ID = N_("Certificate ID")
ISSUED_ON = N_("Issued on")
VALID_UNTIL = N_("Valid until")


class LayoutError(ValueError):
    """An unknown layout was asked for."""


@dataclass(frozen=True, slots=True)
class DccCode:
    """One EU DCC's ``HC1:`` text and the date of the dose it certifies."""

    text: str
    dose_date: dt.date


@dataclass(frozen=True, slots=True)
class CertificateView:
    """What a printed certificate says: read from the signed certificates themselves
    (``printable.view_of``), so the paper never says more or other than its QR codes.

    ``dcc``: the EU DCC to show per disease (its latest dose's); ``shc_text``: the
    ``shc:/`` text when the card fits one QR code.
    """

    certificate_id: str
    holder: Holder
    doses: tuple[Dose, ...]
    issuer: str
    issued_at: dt.datetime
    expires_at: dt.datetime | None = None
    dcc: tuple[DccCode, ...] = ()
    shc_text: str | None = None


@dataclass(frozen=True, slots=True)
class _Qr:
    caption: str
    png: bytes


@functools.lru_cache(maxsize=QR_CACHE)
def qr_png(text: str) -> bytes:
    """The PNG of a certificate's QR text (made once per text: the A4 and phone PDFs and
    every download of them share it)."""
    return qr.png(qr.code_of(text), scale=4, border=4)


def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


class _Words:
    """The PDF's texts in one language."""

    def __init__(self, locale: str) -> None:
        self.locale_tag = locale
        self._t = translations_for(locale)
        self._locale = _babel_locale(locale)

    def __call__(self, message: str, **params: Any) -> str:
        text = self._t.gettext(message)
        if not params:
            return text
        try:
            return text % params
        except (KeyError, ValueError, TypeError):  # a translator's slip: say it in English
            return message % params

    def date(self, value: dt.date) -> str:
        return format_date(value, "medium", locale=self._locale)


def _name(holder: Holder) -> str:
    return " ".join(p for p in (holder.given_name, holder.family_name) if p)


def _birth(holder: Holder, w: _Words) -> str:
    return w.date(holder.birth_date) if holder.birth_date else f"{holder.birth_year:04d}"


def _document(locale: str, page: tuple[float, float] | str, margin: float) -> FPDF:
    pdf = FPDF(unit="mm", format=page)
    pdf.set_margins(margin, margin, margin)
    pdf.set_auto_page_break(auto=True, margin=margin)
    for family, file in FONTS.items():
        pdf.add_font(family, fname=str(FONTS_DIR / file))
    pdf.set_fallback_fonts([f for f in FONTS if f != MAIN_FONT], exact_match=False)
    if SHAPING:
        pdf.set_text_shaping(True)
    pdf.set_lang(locale)
    pdf.set_creator("vaxport")
    return pdf


def _line(pdf: FPDF, text: str, size: float, *, height: float | None = None) -> None:
    pdf.set_font(MAIN_FONT, size=size)
    pdf.multi_cell(0, height or size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _pair(pdf: FPDF, label: str, value: str, size: float) -> None:
    _line(pdf, label, size * 0.8)
    _line(pdf, value, size)
    pdf.ln(1)


def _qrs(view: CertificateView, w: _Words) -> list[_Qr]:
    several = len(view.dcc) > 1
    found = [
        _Qr(w(DCC_FOR, date=w.date(c.dose_date)) if several else w(DCC), qr_png(c.text))
        for c in view.dcc
    ]
    if view.shc_text:
        found.append(_Qr(w(SHC), qr_png(view.shc_text)))
    return found


def _head(pdf: FPDF, view: CertificateView, w: _Words, size: float) -> None:
    _line(pdf, w(TITLE), size * 1.8, height=size * 0.9)
    _line(pdf, view.issuer, size)
    pdf.ln(3)
    _pair(pdf, w(NAME), _name(view.holder), size * 1.3)
    _pair(pdf, w(BIRTH), _birth(view.holder, w), size)


def _dose_rows(view: CertificateView, w: _Words) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            d.product_name,
            w.date(d.date),
            w(DOSE_OF, number=d.dose_number, series=d.series_doses),
            d.lot_number or "",
            d.performer or "",
        )
        for d in sorted(view.doses, key=lambda d: (d.date, d.dose_number))
    ]


def _foot(pdf: FPDF, view: CertificateView, w: _Words, size: float, public_url: str) -> None:
    _line(pdf, w(CHECK, url=f"{public_url.rstrip('/')}/verify"), size)
    pdf.ln(1)
    _line(pdf, f"{w(CERTIFICATE_ID)}: {view.certificate_id}", size * 0.85)
    dates = f"{w(ISSUED_ON)}: {w.date(view.issued_at.date())}"
    if view.expires_at is not None:
        dates += f" · {w(VALID_UNTIL)}: {w.date(view.expires_at.date())}"
    _line(pdf, dates, size * 0.85)


def _a4(view: CertificateView, w: _Words, public_url: str) -> FPDF:
    pdf = _document(w.locale_tag, "A4", 15)
    pdf.add_page()
    _head(pdf, view, w, 11)
    pdf.ln(2)
    _line(pdf, w(DOSES), 14, height=8)
    pdf.set_font(MAIN_FONT, size=9.5)
    headings = (w(VACCINE), w(DATE), w(DOSE), w(LOT), w(CENTRE))
    with pdf.table(
        col_widths=(32, 18, 12, 14, 24),
        line_height=6,
        headings_style=HEADINGS,  # no bold: one weight of each font ships
    ) as t:
        for row in (headings, *_dose_rows(view, w)):
            cells = t.row()
            for cell in row:
                cells.cell(cell)
    pdf.ln(5)
    codes = _qrs(view, w)
    side = 80.0 if len(codes) > 1 else 95.0
    if pdf.get_y() + side + 12 > pdf.h - pdf.b_margin:
        pdf.add_page()
    for start in range(0, len(codes), 2):
        if start and pdf.get_y() + side + 12 > pdf.h - pdf.b_margin:
            pdf.add_page()
        top = pdf.get_y()
        for column, code in enumerate(codes[start : start + 2]):
            x = pdf.l_margin + column * (side + 10)
            pdf.image(io.BytesIO(code.png), x=x, y=top, w=side, h=side, alt_text=code.caption)
            pdf.set_xy(x, top + side + 1)
            pdf.set_font(MAIN_FONT, size=9)
            pdf.multi_cell(side, 4.5, code.caption, align="C")
        pdf.set_xy(pdf.l_margin, top + side + 12)
    _foot(pdf, view, w, 9, public_url)
    return pdf


def _phone(view: CertificateView, w: _Words, public_url: str) -> FPDF:
    pdf = _document(w.locale_tag, PHONE_PAGE, 5)
    pdf.add_page()
    _head(pdf, view, w, 9)
    _line(pdf, w(DOSES), 11, height=6)
    for product, date, dose, lot, centre in _dose_rows(view, w):
        _line(pdf, product, 9)
        details = " · ".join(p for p in (date, f"{w(DOSE)} {dose}", lot, centre) if p)
        _line(pdf, details, 7.5)
        pdf.ln(1.5)
    pdf.ln(2)
    _foot(pdf, view, w, 7.5, public_url)
    side = pdf.w - pdf.l_margin - pdf.r_margin
    for code in _qrs(view, w):
        pdf.add_page()
        _line(pdf, code.caption, 9)
        pdf.image(io.BytesIO(code.png), x=pdf.l_margin, w=side, h=side, alt_text=code.caption)
        pdf.ln(2)
        _line(pdf, _name(view.holder), 9)
    return pdf


RENDERERS: dict[str, Callable[[CertificateView, _Words, str], FPDF]] = {
    "a4": _a4,
    "phone": _phone,
}


def render_pdf(view: CertificateView, *, layout: str, locale: str, public_url: str) -> bytes:
    """The certificate as PDF bytes, in ``locale``, laid out for ``layout``."""
    render = RENDERERS.get(layout)
    if render is None:
        raise LayoutError(f"unknown layout {layout!r}: one of {', '.join(LAYOUTS)}")
    words = _Words(locale)
    pdf = render(view, words, public_url)
    pdf.set_title(f"{words(TITLE)}: {_name(view.holder)}")
    return bytes(pdf.output())
