"""The certificate pages over HTTP, on certificates issuance made from recorded doses: a
citizen's members and their certificates (view, PDF in two layouts, the SMART Health
Card file, each QR code full screen, all of which the verifier accepts), nothing of
another account's family, and the staff reprint for people in reach only, audited."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.certificates.issuance_support import centre_with_lot, qr, record, stored, with_keys, work
from tests.certificates.printing_helpers import pdf_qr_texts, pdf_text, svg_qr_texts
from tests.identity.helpers import make_staff
from tests.registration.review.review_support import add_citizen, audit_actions, web_session
from tests.scheduling.booking.support import add_people
from tests.scheduling.web.support import CSRF, HTML, link, links, text
from vaxport.certificates import service as certificates
from vaxport.certificates.issuance import own_trust
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

REGION = "NOR-01-01"
HAS_PYPDF = importlib.util.find_spec("pypdf") is not None


@dataclass(frozen=True)
class Family:
    """A signed-in citizen's two members: ``first`` vaccinated twice (certificates issued:
    the QR texts of all in ``texts``, of those a PDF prints in ``printed``: the card and
    the EU DCC of the latest dose), ``second`` not yet; the second dose's day."""

    first: uuid.UUID
    second: uuid.UUID
    texts: frozenset[str]
    printed: frozenset[str]
    second_dose_day: str


@pytest.fixture(autouse=True)
def _fresh_own_trust(db: Database) -> Iterator[None]:
    """The verifier's cached view of this installation's keys is of this test's keys."""
    own_trust.forget(db)
    yield
    own_trust.forget(db)


async def _sign_in(
    client: httpx.AsyncClient, db: Database, settings: Settings, tenant: TenantInfo
) -> uuid.UUID:
    account = await add_citizen(db, tenant)
    client.cookies.set("vaxport_session", await web_session(db, settings, tenant, account))
    client.cookies.set("vaxport_csrf", CSRF)
    return account


async def _family(
    client: httpx.AsyncClient,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> Family:
    """The tenant's keys, a citizen's two members registered at a centre, two doses of the
    first recorded there and the outbox drained (issuance ran)."""
    await with_keys(db, tenant)
    centre = await centre_with_lot(db, cache, tenant)
    me = await _sign_in(client, db, settings, tenant)
    first, second = await add_people(
        db, tenant, 2, account_id=me, region_code=REGION, facility_id=centre
    )
    await record(db, tenant, first, centre, days_ago=40)
    last = await record(db, tenant, first, centre, days_ago=5)
    await work(db, cache, settings)
    rows = [row for row in await stored(db, tenant, first) if row.status == "current"]
    assert sorted((r.format, r.dose_id is not None) for r in rows) == [
        ("eu-dcc", True),
        ("eu-dcc", True),
        ("shc", False),
    ]  # a card of both doses and an EU DCC per dose
    printed = {qr(r) for r in rows if r.format == "shc" or r.dose_id == last.id}
    return Family(
        first,
        second,
        frozenset(qr(r) for r in rows),
        frozenset(printed),
        last.day.isoformat(),
    )


async def _accepted(db: Database, payload: str) -> bool:
    """Whether this installation's verifier accepts ``payload`` (its own keys trusted)."""
    result = await certificates.verify_certificate(db=db, payload=payload)
    return result.valid


async def test_a_citizen_sees_each_member_and_their_certificates(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    family = await _family(client, clean_db, cache, settings, tenant)
    first, second = family.first, family.second
    r = await client.get(f"/{tenant.code}/certificates", headers=HTML)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    page = text(r.text)
    assert "Person0" in page
    assert "Person1" in page
    assert "CoviGuard mRNA: dose 1 of 2" in page
    assert "CoviGuard mRNA: dose 2 of 2" in page
    assert "No certificate yet" in page  # the second member
    assert f"{settings.public_url}/verify" in page
    assert link(r.text, rf"/certificates/{first}/pdf\?layout=a4$")
    assert link(r.text, rf"/certificates/{first}/pdf\?layout=phone$")
    assert link(r.text, rf"/certificates/{first}/card$")
    # The card, and an EU DCC per dose, each told by its dose.
    assert len(links(r.text, rf"/certificates/{first}/qr/")) == 3
    assert f"EU DCC : the dose of {family.second_dose_day}" in page  # tags become spaces
    assert not links(r.text, rf"/certificates/{second}/")


async def test_a_citizen_downloads_the_pdfs_and_the_card_file_and_each_verifies(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    family = await _family(client, clean_db, cache, settings, tenant)
    base = f"/{tenant.code}/certificates/{family.first}"
    for layout in ("a4", "phone"):
        r = await client.get(f"{base}/pdf?layout={layout}")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        assert "attachment" in r.headers["content-disposition"]
        assert r.headers["cache-control"] == "no-store"
        assert r.content.startswith(b"%PDF-")
        if HAS_PYPDF:  # else: the bytes are a PDF all the same
            assert "Person0" in pdf_text(r.content)
            if layout == "a4":  # the codes printed are the certificates issued
                assert set(pdf_qr_texts(r.content)) == family.printed
    r = await client.get(f"{base}/card")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/smart-health-card"
    assert r.headers["content-disposition"].endswith('.smart-health-card"')
    [jws] = json.loads(r.content)["verifiableCredential"]
    assert await _accepted(clean_db, jws)

    r = await client.get(f"{base}/pdf?layout=letter")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "layout"
    for path in ("pdf?layout=a4", "card"):
        r = await client.get(f"/{tenant.code}/certificates/{family.second}/{path}")
        assert r.status_code == 404, path  # no certificate yet


async def test_the_full_screen_qr_is_the_code_alone_and_reads_back_to_a_valid_certificate(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    family = await _family(client, clean_db, cache, settings, tenant)
    r = await client.get(f"/{tenant.code}/certificates", headers=HTML)
    read = []
    for qr_page in links(r.text, rf"/certificates/{family.first}/qr/"):
        r = await client.get(qr_page, headers=HTML)
        assert r.status_code == 200
        assert 'class="qr-full"' in r.text
        assert '<svg viewBox="0 0 ' in r.text
        assert "<script" not in r.text
        assert 'role="img"' in r.text
        [decoded] = svg_qr_texts(r.text)
        assert await _accepted(clean_db, decoded), decoded[:12]
        read.append(decoded)
    assert sorted(read) == sorted(family.texts)
    r = await client.get(
        f"/{tenant.code}/certificates/{family.first}/qr/{uuid.uuid4()}", headers=HTML
    )
    assert r.status_code == 404


async def test_another_citizen_reaches_nothing_of_the_family(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    family = await _family(client, clean_db, cache, settings, tenant)
    r = await client.get(f"/{tenant.code}/certificates", headers=HTML)
    qr_page = links(r.text, rf"/certificates/{family.first}/qr/")[0]
    await _sign_in(client, clean_db, settings, tenant)  # someone else now
    r = await client.get(f"/{tenant.code}/certificates", headers=HTML)
    assert r.status_code == 200
    assert "Person0" not in r.text
    base = f"/{tenant.code}/certificates/{family.first}"
    for path in (f"{base}/pdf?layout=a4", f"{base}/card", qr_page):
        r = await client.get(path, headers=HTML)
        assert r.status_code == 404, path
        assert b"%PDF" not in r.content
        assert b"<svg" not in r.content


async def test_signed_out_visitors_are_sent_to_sign_in(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    r = await client.get(f"/{tenant.code}/certificates", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/{tenant.code}/sign-in")
    r = await client.get(f"/{tenant.code}/certificates/{uuid.uuid4()}/qr/{uuid.uuid4()}")
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/{tenant.code}/sign-in")
    for path in ("pdf", "card"):
        r = await client.get(f"/{tenant.code}/certificates/{uuid.uuid4()}/{path}")
        assert r.status_code == 401, path


async def test_staff_reprint_for_people_in_reach_only_and_audited(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    family = await _family(client, clean_db, cache, settings, tenant)
    first = family.first
    client.cookies.clear()
    outside = await make_staff(clean_db, settings, tenant, role="region_admin", region_code="SOU")
    client.cookies.set("vaxport_session", await web_session(clean_db, settings, tenant, outside.id))
    base = f"/{tenant.code}/staff/people/{first}/certificates"
    for path in ("", "/pdf?layout=a4"):
        r = await client.get(base + path, headers=HTML)
        assert r.status_code == 404, path
        assert b"%PDF" not in r.content
    actions = await audit_actions(clean_db, tenant, first)
    assert "certificate.read" not in actions
    assert "certificate.printed" not in actions

    inside = await make_staff(clean_db, settings, tenant, role="region_admin", region_code="NOR")
    client.cookies.set("vaxport_session", await web_session(clean_db, settings, tenant, inside.id))
    r = await client.get(base, headers=HTML)
    assert r.status_code == 200
    assert "CoviGuard mRNA: dose 2 of 2" in text(r.text)
    assert not links(r.text, r"/card$")  # staff print; the card file is the citizen's
    r = await client.get(link(r.text, r"/pdf\?layout=a4$"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    if HAS_PYPDF:
        assert set(pdf_qr_texts(r.content)) == family.printed
    actions = await audit_actions(clean_db, tenant, first)
    assert "certificate.read" in actions
    assert "certificate.printed" in actions
