"""The PDF certificate: every tenant language (Hindi's Devanagari included) in both
layouts, what it says read back from its text, and its QR codes read back from its
images to texts that verify."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import re

import pytest

from tests.certificates.helpers import dose, holder
from tests.certificates.printing_helpers import AT, Issuer, pdf_qr_texts, pdf_text
from tests.support.tenants import load_tenant
from vaxport.certificates import pdf
from vaxport.certificates.content import DccCodes, Dose
from vaxport.certificates.printable import view_of
from vaxport.certificates.verify import verify
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.tenancy.schemas import TenantInfo

HAS_PYPDF = importlib.util.find_spec("pypdf") is not None
needs_pypdf = pytest.mark.skipif(not HAS_PYPDF, reason="pypdf is not installed here")
LOCALES = ("en", "fr", "es", "sv", "hi")
PUBLIC = "https://vax.example.org"
MMR = {"product_name": "MeaslesShield MMR", "dcc": None, "cvx": "03", "lot_number": "MM-7"}
DEMO_MRNA = DccCodes(tg="840539006", vp="1119349007", mp="EU/1/20/1528", ma="ORG-100030215")


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    return await load_tenant(clean_db, cache)


def _doses() -> list[Dose]:
    return [
        dose(1, dt.date(2026, 2, 1), dcc=DEMO_MRNA),
        dose(2, dt.date(2026, 3, 1), dcc=DEMO_MRNA, lot_number="LOT-B2"),
        dose(1, dt.date(2026, 4, 1), **MMR),
    ]


def _view(issuer: Issuer, tenant: TenantInfo, **names: str) -> pdf.CertificateView:
    return view_of(issuer.issue(holder(**names), _doses()), tenant=tenant)


def _pages(content: bytes) -> list[tuple[float, float]]:
    from pypdf import PdfReader

    return [
        (float(p.mediabox.width), float(p.mediabox.height))
        for p in PdfReader(io.BytesIO(content)).pages
    ]


def test_the_view_lists_every_dose_with_numbers_names_lot_and_centre(
    issuer: Issuer, tenant: TenantInfo
) -> None:
    view = _view(issuer, tenant)
    assert view.holder.given_name == "Märta Li"
    assert view.holder.birth_date == dt.date(1964, 1, 1)
    assert [(d.product_name, d.dose_number, d.series_doses, d.lot_number) for d in view.doses] == [
        ("CoviGuard mRNA", 1, 2, "LOT1"),
        ("CoviGuard mRNA", 2, 2, "LOT-B2"),
        ("MeaslesShield MMR", 1, 2, "MM-7"),  # no DCC: numbered per disease, series from config
    ]
    assert all(d.performer == "Centre Nord" for d in view.doses)
    assert view.issuer == "Demoland Ministry of Health"
    [shown] = view.dcc
    assert shown.dose_date == dt.date(2026, 3, 1)  # the latest dose's DCC is the one shown
    assert view.shc_text is not None


def test_a_view_from_dccs_alone_still_lists_their_doses(issuer: Issuer, tenant: TenantInfo) -> None:
    stored = issuer.issue(holder(), _doses()[:2], formats=("eu-dcc",))
    view = view_of(stored, tenant=tenant)
    assert [(d.product_name, d.dose_number) for d in view.doses] == [
        ("CoviGuard mRNA", 1),
        ("CoviGuard mRNA", 2),
    ]
    assert [c.dose_date for c in view.dcc] == [dt.date(2026, 3, 1)]  # the latest is shown
    assert view.shc_text is None


@needs_pypdf
@pytest.mark.parametrize("layout", pdf.LAYOUTS)
@pytest.mark.parametrize("locale", LOCALES)
def test_the_pdf_renders_in_each_language_with_name_doses_link_and_id(
    issuer: Issuer, tenant: TenantInfo, locale: str, layout: str
) -> None:
    view = _view(issuer, tenant)
    content = pdf.render_pdf(view, layout=layout, locale=locale, public_url=PUBLIC)
    assert content.startswith(b"%PDF-")
    text = pdf_text(content)
    for expected in ("Märta Li Öberg-Åström", "CoviGuard mRNA", "MeaslesShield MMR", "LOT-B2"):
        assert expected in text, (expected, locale, layout)
    assert "Centre Nord" in text
    assert f"{PUBLIC}/verify" in text.replace("\n", "")
    assert view.certificate_id in text.replace("\n", "")
    sizes = _pages(content)
    if layout == "a4":
        assert sizes[0] == pytest.approx((595.28, 841.89), abs=0.5)
    else:
        assert sizes[0] == pytest.approx((255.12, 453.54), abs=0.5)  # 90 x 160 mm
        assert len(sizes) == 3  # the text, then one page per QR code


@needs_pypdf
def test_a_hindi_pdf_writes_devanagari_with_the_shipped_font(
    issuer: Issuer, tenant: TenantInfo
) -> None:
    view = _view(
        issuer,
        tenant,
        family_name="शर्मा",
        given_name="प्रियंका",
        family_name_latin="SHARMA",
        given_name_latin="PRIYANKA",
    )
    content = pdf.render_pdf(view, layout="a4", locale="hi", public_url=PUBLIC)
    # fpdf2 maps a shaped glyph that has no code point of its own (the reordered vowel
    # sign of "ि") to a stray character in the text layer; the printed page is right.
    text = re.sub(r"[^\u0900-\u097F ]", "", pdf_text(content))
    assert "प्रियंका शर्मा" in text
    assert "जन्म तिथि" in text  # "Date of birth" from the Hindi catalog
    fonts = content.count(b"/FontFile2")
    assert fonts == 2  # the Latin font and its Devanagari fallback, both embedded
    assert b"NotoSansDevanagari" in content


def test_without_pypdf_the_fonts_are_still_embedded(issuer: Issuer, tenant: TenantInfo) -> None:
    view = _view(issuer, tenant, given_name="प्रियंका")
    content = pdf.render_pdf(view, layout="phone", locale="hi", public_url=PUBLIC)
    assert b"NotoSansDevanagari" in content
    assert b"NotoSans-Regular" in content or b"NotoSans" in content
    assert content.count(b"/Type /Page\n") + content.count(b"/Type /Page ") >= 1


@needs_pypdf
@pytest.mark.parametrize("layout", pdf.LAYOUTS)
def test_the_qr_codes_in_the_pdf_decode_to_texts_that_verify(
    issuer: Issuer, tenant: TenantInfo, layout: str
) -> None:
    view = _view(issuer, tenant)
    content = pdf.render_pdf(view, layout=layout, locale="sv", public_url=PUBLIC)
    texts = pdf_qr_texts(content)
    assert sorted(texts) == sorted([view.dcc[0].text, view.shc_text])
    trust = issuer.trust()
    for text in texts:
        result = verify(text, trust=trust, at=AT)
        assert result.valid, (text[:8], result.reason)
        assert result.holder is not None
        assert result.holder["birth_date"] == "1964-01-01"


def test_an_unknown_layout_is_refused(issuer: Issuer, tenant: TenantInfo) -> None:
    with pytest.raises(pdf.LayoutError, match="a4, phone"):
        pdf.render_pdf(_view(issuer, tenant), layout="letter", locale="en", public_url=PUBLIC)


def test_a_name_in_a_script_no_shipped_font_covers_still_renders(
    issuer: Issuer, tenant: TenantInfo
) -> None:
    view = _view(issuer, tenant, given_name="সুমিত")  # Bengali: no font ships for it
    content = pdf.render_pdf(view, layout="a4", locale="en", public_url=PUBLIC)
    assert content.startswith(b"%PDF-")
