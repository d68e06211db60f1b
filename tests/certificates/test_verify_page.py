"""The public verify page over HTTP: the camera allowed there only, paste and photo, errors."""

from __future__ import annotations

import datetime as dt
import io

import httpx
import segno

from tests.certificates.signers import DccSigner
from vaxport.certificates.trust import service as trust
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.principal import OPERATOR
from vaxport.tenancy.schemas import TenantInfo


async def _trusted_hc1(db: Database, tenant: TenantInfo) -> str:
    now = utcnow()
    signer = DccSigner.create(
        not_before=now - dt.timedelta(days=2), not_after=now + dt.timedelta(days=60)
    )
    await trust.import_dscs(
        db=db, tenant_id=tenant.id, data=signer.pem(), country=None, by=OPERATOR, source="test"
    )
    return signer.hc1(iat=now - dt.timedelta(days=1), exp=now + dt.timedelta(days=30))


async def test_the_page_may_use_the_camera_and_no_other_page_may(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    r = await client.get("/verify")
    assert r.status_code == 200
    assert "camera=(self)" in r.headers["permissions-policy"]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert 'capture="environment"' in r.text
    other = await client.get("/")
    assert "camera=()" in other.headers["permissions-policy"]


async def test_pasted_text_shows_the_verdict_and_the_minimal_holder(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo
) -> None:
    text = await _trusted_hc1(clean_db, tenant)
    r = await client.post(
        "/verify", data={"payload": text}, files={"image": ("", b"", "application/octet-stream")}
    )
    assert r.status_code == 200, r.text
    assert "Valid certificate" in r.text
    assert "Erika Muster" in r.text
    assert "1964-08-12" in r.text
    assert "URN:UVCI" not in r.text  # identifiers are never shown
    assert r.headers["cache-control"] == "no-store"


async def test_a_photo_shows_the_verdict(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo
) -> None:
    buffer = io.BytesIO()
    segno.make(await _trusted_hc1(clean_db, tenant), error="q").save(buffer, kind="png", scale=4)
    r = await client.post("/verify", files={"image": ("qr.png", buffer.getvalue(), "image/png")})
    assert r.status_code == 200
    assert "Valid certificate" in r.text


async def test_an_untrusted_certificate_names_the_failed_check(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    r = await client.post(
        "/verify",
        data={"payload": DccSigner.create().hc1()},
        files={"image": ("", b"", "application/octet-stream")},
    )
    assert r.status_code == 200
    assert "Not a valid certificate" in r.text
    assert "Signature of a trusted issuer: failed" in r.text
    assert "Muster" not in r.text


async def test_an_empty_form_and_an_oversized_photo_are_explained(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    r = await client.post(
        "/verify", data={"payload": "  "}, files={"image": ("", b"", "application/octet-stream")}
    )
    assert r.status_code == 422
    assert "There is a problem" in r.text
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024)
    r = await client.post("/verify", files={"image": ("qr.png", big, "image/png")})
    assert r.status_code == 413
    assert "too large" in r.text
