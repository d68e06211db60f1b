"""Trust lists: imports by the national admin and the operator, who may not, bad files,
the union the public verifier trusts, concurrent imports, the operator's fetch."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.certificates.signers import SHC, SHC_ISSUER, DccSigner, shc_jwks_path
from tests.identity.helpers import api_login, bearer, make_staff
from tests.support.tenants import load_tenant
from vaxport.certificates.trust import service as trust
from vaxport.certificates.trust.fetch import fetch_issuers
from vaxport.certificates.trust.files import TrustFileError
from vaxport.cli import app as cli_app
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.principal import OPERATOR
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def _api(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/trust"


async def test_the_national_admin_imports_a_dsc_once(
    client: httpx.AsyncClient, tenant: TenantInfo, admin_headers: dict[str, str]
) -> None:
    pem = DccSigner.create().pem().decode()
    r = await client.post(
        _api(tenant) + "/dscs", json={"certificate": pem, "country": "SE"}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    assert r.json() | {"issuer": None} == {
        "dscs_added": 1,
        "dscs_known": 0,
        "issuer": None,
        "issuer_keys": 0,
    }
    r = await client.post(_api(tenant) + "/dscs", json={"certificate": pem}, headers=admin_headers)
    assert (r.json()["dscs_added"], r.json()["dscs_known"]) == (0, 1)
    listed = (await client.get(_api(tenant), headers=admin_headers)).json()
    assert [d["country"] for d in listed["dscs"]] == ["SE"]


async def test_an_imported_shc_issuer_makes_its_cards_verify_publicly(
    client: httpx.AsyncClient, tenant: TenantInfo, admin_headers: dict[str, str]
) -> None:
    jws = (SHC / "example-00-d-jws.txt").read_text().strip()
    assert (await client.post("/api/v1/verify", json={"payload": jws})).json()["valid"] is False
    r = await client.post(
        _api(tenant) + "/shc-issuers",
        json={"iss": SHC_ISSUER, "jwks": json.loads(shc_jwks_path().read_text())},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["issuer_keys"] == 2
    assert (await client.post("/api/v1/verify", json={"payload": jws})).json()["valid"] is True


async def test_a_region_admin_may_not_manage_trust(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    person = await make_staff(clean_db, settings, tenant, role="region_admin", region_code="NOR")
    headers = bearer(str((await api_login(client, person))["access_token"]))
    pem = DccSigner.create().pem().decode()
    r = await client.post(_api(tenant) + "/dscs", json={"certificate": pem}, headers=headers)
    assert r.status_code == 403
    assert (await client.get(_api(tenant), headers=headers)).status_code == 403
    assert (await client.post(_api(tenant) + "/dscs", json={"certificate": pem})).status_code == 401
    assert (await trust.tenant_trust(db=clean_db, tenant_id=tenant.id)).dscs == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/dscs", {"certificate": "hello"}, "certificate"),
        (
            "/dscs",
            {"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
            "certificate",
        ),
        ("/dscs", {"certificate": "x", "country": "se"}, "country"),
        ("/shc-issuers", {"iss": "http://insecure.example", "jwks": {"keys": []}}, "iss"),
        ("/shc-issuers", {"iss": "https://issuer.example/", "jwks": {"keys": []}}, "iss"),
        ("/shc-issuers", {"iss": "https://issuer.example", "jwks": {"keys": []}}, "jwks"),
        ("/shc-issuers", {"iss": "https://issuer.example", "jwks": {"keys": "x"}}, "jwks"),
        ("/revocations", {"kind": "eu-dcc", "kid": "!!", "entries": ["AA=="]}, "hashes"),
        (
            "/revocations",
            {"kind": "eu-dcc", "kid": "AAAA", "entries": ["AAAAAAAAAAAAAAAAAAAAAA=="]},
            "kid",
        ),
        ("/revocations", {"kind": "eu-dcc", "kid": "AAAAAAAAAAA=", "entries": ["AAAA"]}, "hashes"),
        ("/revocations", {"kind": "shc", "kid": "k", "entries": ["r"]}, "iss"),
        (
            "/revocations",
            {"kind": "shc", "kid": "k", "iss": SHC_ISSUER, "entries": ["r.x"]},
            "entries",
        ),
        ("/revocations", {"kind": "other", "kid": "k", "entries": ["r"]}, "kind"),
    ],
)
async def test_bad_trust_input_is_a_422_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    admin_headers: dict[str, str],
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    r = await client.post(_api(tenant) + path, json=body, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]
    found = await trust.tenant_trust(db=clean_db, tenant_id=tenant.id)
    assert (found.dscs, found.issuers, found.revocations) == ([], [], [])


async def test_a_private_jwks_is_refused(
    client: httpx.AsyncClient, tenant: TenantInfo, admin_headers: dict[str, str]
) -> None:
    private = json.loads(
        (SHC / "issuer-private-TEST-ONLY" / "issuer.jwks.private.json").read_text()
    )
    r = await client.post(
        _api(tenant) + "/shc-issuers",
        json={"iss": SHC_ISSUER, "jwks": private},
        headers=admin_headers,
    )
    assert r.status_code == 422
    assert "private" in r.text


async def test_concurrent_imports_of_one_dsc_add_it_once(
    clean_db: Database, tenant: TenantInfo
) -> None:
    pem = DccSigner.create().pem()
    results = await asyncio.gather(
        *(
            trust.import_dscs(
                db=clean_db, tenant_id=tenant.id, data=pem, country=None, by=OPERATOR, source="test"
            )
            for _ in range(4)
        )
    )
    assert sum(r.dscs_added for r in results) == 1
    assert sum(r.dscs_known for r in results) == 3
    assert len((await trust.tenant_trust(db=clean_db, tenant_id=tenant.id)).dscs) == 1


async def test_the_public_union_holds_every_tenants_trust(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    other = await load_tenant(clean_db, cache)
    a, b = DccSigner.create(), DccSigner.create()
    await trust.import_dscs(
        db=clean_db, tenant_id=tenant.id, data=a.pem(), country=None, by=OPERATOR, source="t"
    )
    await trust.import_dscs(
        db=clean_db, tenant_id=other.id, data=b.pem(), country=None, by=OPERATOR, source="t"
    )
    union = await trust.union(db=clean_db)
    assert {a.kid, b.kid} <= set(union.store.dsc)
    # Each tenant's own list stays its own (row-level security on PostgreSQL).
    assert len((await trust.tenant_trust(db=clean_db, tenant_id=tenant.id)).dscs) == 1


def test_the_operator_imports_files_and_exports_a_bundle_that_verifies_offline(
    cli: CliRunner, tmp_path: Path
) -> None:
    signer = DccSigner.create()
    dsc = tmp_path / "dsc.pem"
    dsc.write_bytes(signer.pem())
    tenant = SimpleNamespace(code="demo")
    done = cli.invoke(
        cli_app, ["trust", "import", str(dsc), "--tenant", tenant.code, "--country", "SE"]
    )
    assert done.exit_code == 0, done.output
    assert "1 certificate(s) added" in done.stdout
    done = cli.invoke(cli_app, ["trust", "import", str(shc_jwks_path()), "--tenant", tenant.code])
    assert done.exit_code == 1
    assert "--iss" in done.stderr
    done = cli.invoke(
        cli_app,
        ["trust", "import", str(shc_jwks_path()), "--tenant", tenant.code, "--iss", SHC_ISSUER],
    )
    assert done.exit_code == 0, done.output
    pin = cli.invoke(cli_app, ["trust", "key"]).stdout.strip().splitlines()[-1]
    bundle = tmp_path / "bundle.json"
    assert cli.invoke(cli_app, ["trust", "export", "-o", str(bundle)]).exit_code == 0
    doc = json.loads(bundle.read_text())
    assert doc["key"]["kid"] == pin
    assert [d["country"] for d in doc["dsc"]] == ["SE"]
    at = "2026-06-01T12:00:00Z"
    done = cli.invoke(
        cli_app,
        ["verify", "--at", at, "--trust", str(bundle), "--trust-key", pin, "--json", signer.hc1()],
    )
    assert done.exit_code == 0, done.output
    jws = (SHC / "example-00-d-jws.txt").read_text().strip()
    done = cli.invoke(
        cli_app,
        ["verify", "--at", "2024-01-01T00:00:00Z", "--trust", str(bundle), "--trust-key", pin, jws],
    )
    assert done.exit_code == 0, done.output


def _transport(pages: dict[str, tuple[int, bytes]]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        status, body = pages.get(str(request.url), (404, b""))
        return httpx.Response(status, content=body)

    return httpx.MockTransport(answer)


async def test_fetch_follows_an_issuer_directory_to_each_jwks() -> None:
    jwks = shc_jwks_path().read_bytes()
    directory = json.dumps({"participating_issuers": [{"iss": SHC_ISSUER, "name": "x"}]}).encode()
    pages = {
        "https://directory.example/issuers.json": (200, directory),
        SHC_ISSUER + "/.well-known/jwks.json": (200, jwks),
    }
    found = await fetch_issuers(
        "https://directory.example/issuers.json", transport=_transport(pages)
    )
    assert [iss for iss, _ in found] == [SHC_ISSUER]


@pytest.mark.parametrize(
    ("url", "pages", "message"),
    [
        ("http://directory.example/x", {}, "https"),
        ("https://d.example/x", {"https://d.example/x": (302, b"")}, "HTTP 302"),
        ("https://d.example/x", {"https://d.example/x": (200, b"{" + b" " * (3 << 20))}, "larger"),
        ("https://d.example/x", {"https://d.example/x": (200, b"[]")}, "neither"),
        ("https://d.example/keys", {"https://d.example/keys": (200, b'{"keys": []}')}, "jwks.json"),
    ],
)
async def test_fetch_refuses_what_is_not_a_small_https_answer(
    url: str, pages: dict[str, tuple[int, bytes]], message: str
) -> None:
    with pytest.raises(TrustFileError, match=message):
        await fetch_issuers(url, transport=_transport(pages))


async def test_a_revoked_entry_reaches_the_bundle(clean_db: Database, tenant: TenantInfo) -> None:
    signer = DccSigner.create()
    kid = base64.b64encode(signer.kid).decode()
    await trust.revoke(
        db=clean_db,
        tenant_id=tenant.id,
        kind="eu-dcc",
        kid=kid,
        entries=[base64.b64encode(b"\7" * 32).decode()],
        iss=None,
        by=OPERATOR,
    )
    await trust.revoke(
        db=clean_db,
        tenant_id=tenant.id,
        kind="shc",
        kid="k1",
        entries=["abc", "def.1700000000"],
        iss=SHC_ISSUER,
        by=OPERATOR,
    )
    doc = await trust.export_bundle(db=clean_db)
    assert doc["revocations"]["eu-dcc"] == [
        {"kid": kid, "hashes": [base64.b64encode(b"\7" * 16).decode()]}
    ]
    assert doc["revocations"]["shc"] == [
        {"iss": SHC_ISSUER, "kid": "k1", "rids": ["abc", "def.1700000000"]}
    ]
