"""``POST /api/v1/verify``: public, rate limited, JSON or a photo, never a 500."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
import segno

from tests.certificates.signers import SHC, DccSigner, problem
from vaxport.certificates import service as certificates
from vaxport.certificates.trust import service as trust
from vaxport.core.db import Database
from vaxport.core.principal import OPERATOR
from vaxport.tenancy.schemas import TenantInfo

URL = "/api/v1/verify"
KEYS = {"valid", "format", "checks", "reason", "holder"}


@pytest.fixture(scope="module")
def signer() -> DccSigner:
    return DccSigner.valid_now()


def _hc1(signer: DccSigner) -> str:
    return signer.hc1_now()


async def _trust(db: Database, tenant: TenantInfo, signer: DccSigner) -> None:
    await trust.import_dscs(
        db=db, tenant_id=tenant.id, data=signer.pem(), country="SE", by=OPERATOR, source="test"
    )


def _png(text: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="q").save(buffer, kind="png", scale=4)
    return buffer.getvalue()


async def test_a_trusted_certificate_verifies_without_any_account(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, signer: DccSigner
) -> None:
    await _trust(clean_db, tenant, signer)
    r = await client.post(URL, json={"payload": _hc1(signer)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == KEYS
    assert body["valid"] is True, body
    assert body["holder"]["family_name"] == "Muster"
    assert r.headers["cache-control"] == "no-store"


async def test_an_untrusted_certificate_is_a_200_with_the_failed_check(
    client: httpx.AsyncClient, tenant: TenantInfo, signer: DccSigner
) -> None:
    r = await client.post(URL, json={"payload": _hc1(signer)})
    assert r.status_code == 200
    assert r.json()["valid"] is False
    assert r.json()["checks"]["signature"] is False
    assert r.json()["holder"] is None


async def test_the_tenants_own_published_keys_are_trusted(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo
) -> None:
    import datetime as dt

    from tests.certificates.helpers import dose, holder
    from tests.certificates.issuance_support import with_keys
    from vaxport.certificates import dcc, signers
    from vaxport.core.clock import utcnow

    await with_keys(clean_db, tenant)
    certificates.forget_trust(clean_db)
    signer = await signers.dcc_signer(clean_db, tenant_id=tenant.id)
    now = utcnow()
    [issued] = dcc.encode_all(
        holder(),
        [dose(1, now.date() - dt.timedelta(days=3), country="CA")],
        signer=signer,
        issuer=dcc.DccIssuer(country="CA", name="Demoland"),
        issued_at=now,
        validity=dt.timedelta(days=30),
    )
    r = await client.post(URL, json={"payload": issued.text})
    certificates.forget_trust(clean_db)
    assert r.json()["valid"] is True, r.json()


async def test_a_revocation_imported_by_the_admin_stops_verification_at_once(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    signer: DccSigner,
    admin_headers: dict[str, str],
) -> None:
    import base64
    import zlib

    import base45
    import cbor2

    from tests.certificates.signers import DCC_VACCINATION
    from vaxport.certificates.verify.dcc import revocation_hashes

    await _trust(clean_db, tenant, signer)
    text = _hc1(signer)
    assert (await client.post(URL, json={"payload": text})).json()["valid"] is True
    signature = cbor2.loads(zlib.decompress(base45.b45decode(text[4:]))).value[3]
    uci = revocation_hashes(DCC_VACCINATION, signature, ecdsa=True)["UCI"]
    r = await client.post(
        f"/api/v1/{tenant.code}/trust/revocations",
        json={
            "kind": "eu-dcc",
            "kid": base64.b64encode(signer.kid).decode(),
            "entries": [base64.b64encode(uci).decode()],
        },
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"added": 1}
    body = (await client.post(URL, json={"payload": text})).json()
    assert body["valid"] is False
    assert body["checks"]["revocation"] is False


@pytest.mark.parametrize("how", ["multipart", "raw"])
async def test_a_photo_of_the_qr_code_verifies(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, signer: DccSigner, how: str
) -> None:
    await _trust(clean_db, tenant, signer)
    png = _png(_hc1(signer))
    if how == "multipart":
        r = await client.post(URL, files={"image": ("qr.png", png, "image/png")})
    else:
        r = await client.post(URL, content=png, headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True


async def test_pasted_text_in_a_multipart_form_verifies(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo, signer: DccSigner
) -> None:
    await _trust(clean_db, tenant, signer)
    r = await client.post(URL, data={"payload": _hc1(signer)}, files={"x": ("", b"", "text/plain")})
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True


async def test_an_oversized_image_is_413(client: httpx.AsyncClient, tenant: TenantInfo) -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024 + 1)
    r = await client.post(URL, content=big, headers={"Content-Type": "image/png"})
    problem(r, 413)
    r = await client.post(URL, files={"image": ("qr.png", big, "image/png")})
    problem(r, 413)


async def test_an_image_that_is_no_image_is_a_200_decode_failure(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    r = await client.post(
        URL, content=b"\x89PNG\r\n\x1a\nnot really", headers={"Content-Type": "image/png"}
    )
    assert r.status_code == 200
    assert r.json()["checks"]["decode"] is False


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422),
        ({"content": b"[" * 10_000, "headers": {"Content-Type": "application/json"}}, 422),
        ({"json": {"payload": "HC1:X", "extra": 1}}, 422),
        ({"json": {}}, 422),
        ({"json": {"payload": ""}}, 422),
        ({"json": {"payload": 5}}, 422),
        ({"json": ["HC1:X"]}, 422),
        ({"json": {"payload": "x" * 70_000}}, 422),
        ({"content": b"HC1:X", "headers": {"Content-Type": "text/plain"}}, 415),
        ({"content": b"HC1:X"}, 415),
        (
            {
                "content": b"--x\r\nbroken",
                "headers": {"Content-Type": "multipart/form-data; boundary=x"},
            },
            422,
        ),
        ({"data": {"other": "field"}, "files": {"x": ("", b"", "text/plain")}}, 422),
    ],
)
async def test_bad_requests_get_a_problem_never_a_500(
    client: httpx.AsyncClient, tenant: TenantInfo, kwargs: dict[str, Any], status: int
) -> None:
    r = await client.post(URL, **kwargs)
    assert r.status_code != 500
    problem(r, status)


async def test_garbage_payloads_are_verdicts_not_errors(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    for payload in [
        "hello",
        "HC1:%%%",
        "shc:/99",
        "a.b.c",
        '{"verifiableCredential": []}',
        (SHC / "example-00-d-jws.txt").read_text(),
    ]:
        r = await client.post(URL, json={"payload": payload})
        assert r.status_code == 200, (payload, r.text)
        assert r.json()["valid"] is False


async def test_verification_is_rate_limited_per_address(
    settings: Any, clean_db: Database, cache: Any, tenant: TenantInfo
) -> None:
    from tests.support.parts import PARTS
    from vaxport.app import create_app

    limited = settings.model_copy(update={"rate_limit_verification_ip": "3/minute"})
    app = create_app(limited, parts=PARTS, database=clean_db, cache=cache)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        answers = [(await c.post(URL, json={"payload": "HC1:X"})).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        r = await c.post(URL, json={"payload": "HC1:X"})
        problem(r, 429)
        assert "retry-after" in r.headers


async def test_the_trust_list_is_public_signed_and_verifies_offline(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    signer: DccSigner,
    tmp_path: Any,
) -> None:
    from typer.testing import CliRunner

    from vaxport.cli import app as cli_app

    await _trust(clean_db, tenant, signer)
    r = await client.get("/api/v1/trust-list")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=300"
    doc = r.json()
    assert doc["format"] == "vaxport-trust-list/1"
    assert len(doc["dsc"]) == 1
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(doc))
    pin = doc["key"]["kid"]
    done = CliRunner().invoke(
        cli_app, ["verify", "--trust", str(bundle), "--trust-key", pin, "--json", _hc1(signer)]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["valid"] is True
    # Without a pin the bundle is refused; with another pin too; a tampered bundle too.
    done = CliRunner().invoke(cli_app, ["verify", "--trust", str(bundle), _hc1(signer)])
    assert done.exit_code == 2
    done = CliRunner().invoke(
        cli_app, ["verify", "--trust", str(bundle), "--trust-key", "x" * 43, _hc1(signer)]
    )
    assert done.exit_code == 2
    doc["dsc"] = []
    bundle.write_text(json.dumps(doc))
    done = CliRunner().invoke(
        cli_app, ["verify", "--trust", str(bundle), "--trust-key", pin, _hc1(signer)]
    )
    assert done.exit_code == 2
    assert "signature" in done.stderr


@pytest.mark.parametrize(
    "body", [b"{not json", b"\xff\xfe", b"[" * 10_000, b'{"payload": "a", "payload": "b"}']
)
async def test_a_body_that_is_not_one_json_document_names_the_field(
    client: httpx.AsyncClient, tenant: TenantInfo, body: bytes
) -> None:
    r = await client.post(URL, content=body, headers={"Content-Type": "application/json"})

    [error] = problem(r, 422)["errors"]
    assert error["field"] == ("payload" if b"payload" in body else "body")
    assert error["reason"]
