"""Withdrawing trust: a national admin removes a foreign DSC or SHC issuer key their tenant
imported; verification (here and in other processes, within their reload) and the
exported bundle stop trusting it; who may, bad and unknown kids, our own keys refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.certificates.signers import (
    SHC,
    SHC_ISSUER,
    SHC_KID,
    DccSigner,
    problem,
    shc_jwks_path,
)
from tests.identity.helpers import api_login, bearer, make_staff
from tests.registration.conftest import citizen_token
from tests.support.tenants import load_tenant
from vaxport.certificates import service as certificates
from vaxport.certificates import signers
from vaxport.certificates.models import FORMAT_DCC, FORMAT_SHC
from vaxport.certificates.trust import service as trust
from vaxport.certificates.trust import withdraw
from vaxport.cli import app as cli_app
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.principal import OPERATOR
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

EXAMPLE_JWS = (SHC / "example-00-d-jws.txt").read_text().strip()
OTHER_SHC_KID = "EBKOr72QQDcTBUuVzAzkfBTGew0ZA16GuWty64nS-sw"


def _api(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/trust"


async def _verify(client: httpx.AsyncClient, payload: str) -> dict[str, Any]:
    r = await client.post("/api/v1/verify", json={"payload": payload})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _bundle(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/api/v1/trust-list")
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def _import_dsc(
    client: httpx.AsyncClient, tenant: TenantInfo, headers: dict[str, str], signer: DccSigner
) -> str:
    r = await client.post(
        _api(tenant) + "/dscs", json={"certificate": signer.pem().decode()}, headers=headers
    )
    assert r.status_code == 201, r.text
    return signer.kid.hex()


async def _audited(db: Database, tenant: TenantInfo, action: str) -> list[dict[str, Any]]:
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.scalars(
            select(AuditEntry.details)
            .where(AuditEntry.tenant_id == tenant.id, AuditEntry.action == action)
            .order_by(AuditEntry.id)  # uuid7: the order they were written in
        )
        return [dict(d or {}) for d in rows]


async def test_a_withdrawn_dsc_stops_verifying_at_once_and_leaves_the_bundle(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    admin_headers: dict[str, str],
) -> None:
    signer, kept = DccSigner.valid_now(), DccSigner.valid_now()
    kid = await _import_dsc(client, tenant, admin_headers, signer)
    await _import_dsc(client, tenant, admin_headers, kept)
    assert (await _verify(client, signer.hc1_now()))["valid"] is True  # now cached in this process
    listed = (await client.get(_api(tenant), headers=admin_headers)).json()
    assert kid in [d["kid"] for d in listed["dscs"]]

    r = await client.delete(f"{_api(tenant)}/dscs/{kid}", headers=admin_headers)
    assert r.status_code == 204, r.text

    answer = await _verify(client, signer.hc1_now())
    assert answer["valid"] is False
    assert answer["checks"]["signature"] is False
    assert "no trusted signing certificate" in answer["reason"]
    assert answer["holder"] is None
    assert (await _verify(client, kept.hc1_now()))["valid"] is True
    kids = [base64.b64decode(d["kid"]) for d in (await _bundle(client))["dsc"]]
    assert signer.kid not in kids
    assert kept.kid in kids
    assert await _audited(clean_db, tenant, "trust.dsc_remove") == [{"kid": kid, "country": "SE"}]

    again = problem(await client.delete(f"{_api(tenant)}/dscs/{kid}", headers=admin_headers), 404)
    assert "kid" in again["detail"]


async def test_a_retried_withdrawal_answers_as_the_first(
    client: httpx.AsyncClient, tenant: TenantInfo, admin_headers: dict[str, str]
) -> None:
    kid = await _import_dsc(client, tenant, admin_headers, DccSigner.valid_now())
    headers = admin_headers | {"Idempotency-Key": "withdraw-dsc-1"}
    first = await client.delete(f"{_api(tenant)}/dscs/{kid}", headers=headers)
    retry = await client.delete(f"{_api(tenant)}/dscs/{kid}", headers=headers)
    assert (first.status_code, retry.status_code) == (204, 204)


async def test_a_withdrawn_shc_key_stops_verifying_and_an_issuer_without_keys_goes(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    admin_headers: dict[str, str],
) -> None:
    jwks = json.loads(shc_jwks_path().read_text())
    r = await client.post(
        _api(tenant) + "/shc-issuers", json={"iss": SHC_ISSUER, "jwks": jwks}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    assert (await _verify(client, EXAMPLE_JWS))["valid"] is True
    issuers = (await client.get(_api(tenant), headers=admin_headers)).json()["issuers"]
    assert sorted(issuers[0]["kids"]) == sorted([SHC_KID, OTHER_SHC_KID])

    r = await client.delete(f"{_api(tenant)}/shc-keys/{SHC_KID}", headers=admin_headers)
    assert r.status_code == 204, r.text

    answer = await _verify(client, EXAMPLE_JWS)
    assert answer["valid"] is False
    assert "no trusted key" in answer["reason"]
    (issuer,) = (await client.get(_api(tenant), headers=admin_headers)).json()["issuers"]
    assert issuer["kids"] == [OTHER_SHC_KID]
    (entry,) = (await _bundle(client))["shc"]
    assert [k["kid"] for k in entry["jwks"]["keys"]] == [OTHER_SHC_KID]

    r = await client.delete(f"{_api(tenant)}/shc-keys/{OTHER_SHC_KID}", headers=admin_headers)
    assert r.status_code == 204, r.text
    assert (await client.get(_api(tenant), headers=admin_headers)).json()["issuers"] == []
    assert (await _bundle(client))["shc"] == []
    assert [d["kid"] for d in await _audited(clean_db, tenant, "trust.issuer_key_remove")] == [
        SHC_KID,
        OTHER_SHC_KID,
    ]
    problem(await client.delete(f"{_api(tenant)}/shc-keys/{SHC_KID}", headers=admin_headers), 404)


async def test_only_the_tenants_own_admin_withdraws_its_keys(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    admin_headers: dict[str, str],
) -> None:
    signer = DccSigner.valid_now()
    kid = await _import_dsc(client, tenant, admin_headers, signer)
    path = f"{_api(tenant)}/dscs/{kid}"
    citizen = await citizen_token(clean_db, settings, tenant)
    assert (await client.delete(path, headers=citizen.headers)).status_code == 403
    region = await make_staff(clean_db, settings, tenant, role="region_admin", region_code="NOR")
    region_headers = bearer(str((await api_login(client, region))["access_token"]))
    assert (await client.delete(path, headers=region_headers)).status_code == 403
    assert (await client.delete(path)).status_code == 401

    other = await load_tenant(clean_db, cache)
    stranger = await make_staff(clean_db, settings, other, role="national_admin")
    stranger_headers = bearer(str((await api_login(client, stranger))["access_token"]))
    assert (await client.delete(path, headers=stranger_headers)).status_code == 404
    # On their own tenant's path, the kid is not theirs: not found either.
    problem(await client.delete(f"{_api(other)}/dscs/{kid}", headers=stranger_headers), 404)
    assert [d.kid for d in (await trust.tenant_trust(db=clean_db, tenant_id=tenant.id)).dscs] == [
        kid
    ]
    assert (await _verify(client, signer.hc1_now()))["valid"] is True


async def test_our_own_signing_keys_are_refused_with_the_command_that_retires_them(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    admin_headers: dict[str, str],
) -> None:
    await certificates.init_demo_keys(clean_db, cache, settings, tenant.code, "")
    (dsc,) = await signers.published(clean_db, tenant.id, FORMAT_DCC)
    (card_key,) = await signers.published(clean_db, tenant.id, FORMAT_SHC)
    dsc_hex = base64.b64decode(dsc.kid).hex()
    body = problem(
        await client.delete(f"{_api(tenant)}/dscs/{dsc_hex}", headers=admin_headers), 409
    )
    assert body["type"].endswith("/own-signing-key")
    assert "vaxport keys rotate-dsc" in body["detail"]
    body = problem(
        await client.delete(f"{_api(tenant)}/shc-keys/{card_key.kid}", headers=admin_headers), 409
    )
    assert "vaxport keys rotate-shc" in body["detail"]
    assert await _audited(clean_db, tenant, "trust.dsc_remove") == []


@pytest.mark.parametrize("kid", ["XYZ", "0123456789ABCDEF", "0123456789abcde", "00" * 9])
async def test_a_malformed_dsc_kid_is_a_422_naming_it(
    client: httpx.AsyncClient, tenant: TenantInfo, admin_headers: dict[str, str], kid: str
) -> None:
    body = problem(await client.delete(f"{_api(tenant)}/dscs/{kid}", headers=admin_headers), 422)
    assert [e["field"] for e in body["errors"]] == ["path.kid"]


async def test_other_processes_stop_trusting_a_withdrawn_key_at_their_next_reload(
    clean_db: Database,
    app_database_url: str,
    tenant: TenantInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process (its own ``Database``, its own cache) keeps what it loaded for at
    most ``REFRESH_SECONDS``, then verifies without the key."""
    signer = DccSigner.valid_now()
    await trust.import_dscs(
        db=clean_db, tenant_id=tenant.id, data=signer.pem(), country=None, by=OPERATOR, source="t"
    )
    elsewhere = Database(app_database_url)
    text = signer.hc1_now()

    async def valid(db: Database) -> bool:
        return (await certificates.verify_certificate(db=db, payload=text)).valid

    try:
        assert await valid(elsewhere)  # loaded there
        await withdraw.remove_dsc(
            db=clean_db, tenant_id=tenant.id, kid=signer.kid.hex(), by=OPERATOR
        )
        assert not await valid(clean_db)
        # Within the window the other process still answers from what it loaded...
        assert await valid(elsewhere)
        # ... and once its copy is older than the window (here: the window shrunk to 0 s
        # rather than a test waiting 30 s), it reloads and no longer trusts the key.
        monkeypatch.setattr(trust, "REFRESH_SECONDS", 0.0)
        assert not await valid(elsewhere)
    finally:
        await elsewhere.dispose()


def test_the_operator_withdraws_a_key_from_the_command_line(cli: CliRunner, tmp_path: Any) -> None:
    signer = DccSigner.valid_now()
    dsc = tmp_path / "dsc.pem"
    dsc.write_bytes(signer.pem())
    done = cli.invoke(cli_app, ["trust", "import", str(dsc), "--tenant", "demo"])
    assert done.exit_code == 0, done.output
    kid = signer.kid.hex()
    done = cli.invoke(cli_app, ["trust", "remove", kid, "--tenant", "demo", "--kind", "eu-dcc"])
    assert done.exit_code == 0, done.output
    assert f"eu-dcc key {kid} removed" in done.stdout
    done = cli.invoke(cli_app, ["trust", "remove", kid, "--tenant", "demo", "--kind", "eu-dcc"])
    assert done.exit_code == 1
    assert "no imported signing certificate has this kid" in done.stderr
    done = cli.invoke(cli_app, ["trust", "remove", "k", "--tenant", "demo", "--kind", "x"])
    assert done.exit_code == 2
