"""``vaxport keys`` certificate commands, and the SHC issuer's JWKS over HTTP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from tests.certificates.helpers import dose, holder, verify_jws
from tests.support.parts import METADATA, PARTS
from vaxport.certificates import keys, pki, service, shc, signers
from vaxport.cli import app as cli_app
from vaxport.core import clock, migrate
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.identity.credentials import signing
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

# ---------------------------------------------------------------------------- commands


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli_app, ["keys", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _refused(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli_app, ["keys", *args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


def test_init_rotate_and_list_through_the_cli(cli: CliRunner) -> None:
    assert "no certificate keys" in _ok(cli, "list-cert", "--tenant", "demo")
    assert "csca key" in _ok(cli, "init-csca", "--tenant", "demo")
    assert "dcc key" in _ok(cli, "init-dsc", "--tenant", "demo", "--days", "400")
    out = _ok(cli, "init-shc", "--tenant", "demo")
    first_shc = out.split()[2]
    assert "active" in out
    _ok(cli, "rotate-shc", "--tenant", "demo")
    _ok(cli, "rotate-dsc", "--tenant", "demo")
    listing = _ok(cli, "list-cert", "--tenant", "demo").splitlines()
    assert [line.split()[0] for line in listing] == ["csca", "dcc", "dcc", "shc", "shc"]
    states = [line.split()[2] for line in listing]
    assert states == ["active", "retired", "active", "retired", "active"]
    assert first_shc in listing[3]
    assert "published until" in listing[1]
    assert "published until" in listing[3]
    assert "BEGIN" not in "\n".join(listing)  # no key material, ever


def test_commands_refuse_clearly_and_change_nothing(cli: CliRunner) -> None:
    assert "init-csca" in _refused(cli, "init-dsc", "--tenant", "demo")
    assert "no active shc key to rotate" in _refused(cli, "rotate-shc", "--tenant", "demo")
    assert "'nowhere'" in _refused(cli, "init-shc", "--tenant", "nowhere")
    _ok(cli, "init-shc", "--tenant", "demo")
    assert "already has an active shc key" in _refused(cli, "init-shc", "--tenant", "demo")
    assert len(_ok(cli, "list-cert", "--tenant", "demo").splitlines()) == 1


def _pem_files(
    tmp_path: Path, made: pki.CertifiedKey, key: ec.EllipticCurvePrivateKey | None = None
) -> tuple[Path, Path]:
    cert = tmp_path / "dsc.pem"
    cert.write_bytes(made.certificate.public_bytes(serialization.Encoding.PEM))
    key_file = tmp_path / "dsc.key"
    key_file.write_bytes(
        (key or made.private_key).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key_file


def _foreign_csca() -> pki.CertifiedKey:
    return pki.make_csca(
        country="CA",
        organisation="Operator PKI",
        common_name="Their CSCA",
        days=3650,
        now=clock.utcnow(),
    )


def _test_only_dsc(csca: pki.CertifiedKey) -> pki.CertifiedKey:
    """A DSC whose extended key usage allows test certificates only."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = clock.utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "test DSC")]))
        .issuer_name(csca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=100))
        .add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.1")]),
            critical=False,
        )
        .sign(csca.private_key, hashes.SHA256())
    )
    return pki.CertifiedKey(key, cert)


def test_import_dsc_checks_the_key_and_usage_then_replaces_the_active_dsc(
    cli: CliRunner,
    tmp_path: Path,
) -> None:
    csca = _foreign_csca()
    theirs = pki.make_dsc(csca, common_name="Their DSC", days=200, now=clock.utcnow())
    cert, key = _pem_files(tmp_path, theirs, key=ec.generate_private_key(ec.SECP256R1()))
    assert "does not match" in _refused(
        cli, "import-dsc", "--tenant", "demo", "--cert", str(cert), "--key", str(key)
    )
    cert, key = _pem_files(tmp_path, _test_only_dsc(csca))
    assert "does not allow vaccination" in _refused(
        cli, "import-dsc", "--tenant", "demo", "--cert", str(cert), "--key", str(key)
    )
    key.write_bytes(b"not a key")
    assert "not an unencrypted PEM or DER" in _refused(
        cli, "import-dsc", "--tenant", "demo", "--cert", str(cert), "--key", str(key)
    )
    assert "cannot read" in _refused(
        cli,
        "import-dsc",
        "--tenant",
        "demo",
        "--cert",
        str(tmp_path / "missing"),
        "--key",
        str(key),
    )
    assert "no certificate keys" in _ok(cli, "list-cert", "--tenant", "demo")

    cert, key = _pem_files(tmp_path, theirs)
    assert "dcc key" in _ok(
        cli, "import-dsc", "--tenant", "demo", "--cert", str(cert), "--key", str(key)
    )
    assert "already installed" in _refused(
        cli, "import-dsc", "--tenant", "demo", "--cert", str(cert), "--key", str(key)
    )
    other = pki.make_dsc(csca, common_name="Their DSC 2", days=200, now=clock.utcnow())
    cert, key = _pem_files(tmp_path, other)
    _ok(cli, "import-dsc", "--tenant", "demo", "--cert", str(cert), "--key", str(key))
    listing = _ok(cli, "list-cert", "--tenant", "demo").splitlines()
    assert [(line.split()[2], line.split()[3]) for line in listing] == [
        ("retired", "imported"),
        ("active", "imported"),
    ]


def test_an_expired_dsc_is_not_imported(tmp_path: Path) -> None:
    csca = _foreign_csca()
    old = pki.make_dsc(csca, common_name="old", days=1, now=clock.utcnow() - dt.timedelta(days=5))
    with pytest.raises(pki.PkiError, match="expired"):
        pki.check_import(
            old.certificate.public_bytes(serialization.Encoding.DER),
            old.private_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            now=clock.utcnow(),
        )


# -------------------------------------------------------------------------------- JWKS


@pytest.fixture
async def cors_client(settings: Settings, clean_db: Database, cache: Cache) -> httpx.AsyncClient:
    from vaxport.app import create_app

    restricted = settings.model_copy(update={"cors_origins": ["https://app.example"]})
    app = create_app(restricted, parts=PARTS, database=clean_db, cache=cache)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_the_shc_jwks_is_public_cors_open_and_lists_only_shc_keys(
    cors_client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo
) -> None:
    await keys.init_csca(
        clean_db, tenant_id=tenant.id, country="SE", organisation="M", common_name="CSCA"
    )
    await keys.init_dsc(clean_db, tenant_id=tenant.id, common_name="DSC", validity_days=365)
    await keys.init_shc(clean_db, tenant_id=tenant.id, validity_days=365)
    old = (await signers.shc_signer(clean_db, tenant_id=tenant.id)).kid
    await keys.init_shc(clean_db, tenant_id=tenant.id, validity_days=365, rotate=True)
    signer = await signers.shc_signer(clean_db, tenant_id=tenant.id)
    token_kid, _key = await signing.active_key(clean_db)  # the installation's token key

    url = f"/shc/{tenant.code}/.well-known/jwks.json"
    async with cors_client as c:
        r = await c.get(url, headers={"Origin": "https://verifier.elsewhere.example"})
        token_jwks = (await c.get("/.well-known/jwks.json")).json()
        missing = await c.get("/shc/nowhere/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["cache-control"].startswith("public")
    assert r.headers["content-type"] == "application/json"
    published = r.json()["keys"]
    assert [k["kid"] for k in published] == [old, signer.kid]
    for jwk in published:
        # crlVersion: the key supports revocation (its CRL at {iss}/.well-known/crl/{kid}.json).
        assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg", "crlVersion"}
        assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")
    token_kids = {k["kid"] for k in token_jwks["keys"]} | {token_kid}
    assert not token_kids & {k["kid"] for k in published}
    dsc_key = signers.public_jwk(
        (await signers.dcc_signer(clean_db, tenant_id=tenant.id)).private_key
    )
    assert dsc_key["kid"] not in {k["kid"] for k in published}
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")

    # A card signed now verifies with what the JWKS publishes.
    iss = service.shc_issuer(tenant, public_url="http://testserver")
    assert iss == f"http://testserver/shc/{tenant.code}"
    jws = shc.encode(
        holder(),
        [dose(1, dt.date(2026, 2, 1))],
        signer=signer,
        iss=iss,
        issued_at=clock.utcnow(),
        validity=None,
    )
    assert verify_jws(jws, {"keys": published})["iss"] == iss


async def test_a_tenant_with_no_shc_key_publishes_an_empty_set(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    r = await client.get(f"/shc/{tenant.code}/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.json() == {"keys": []}


# --------------------------------------------------------------------------- migration


async def test_the_certificate_keys_migration_upgrades_and_downgrades(empty_db: Database) -> None:
    from sqlalchemy import inspect

    async def tables() -> set[str]:
        async with empty_db.engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))

    await migrate.upgrade(empty_db, "0024_certificate_keys", metadata=METADATA)
    assert "certificate_keys" in await tables()
    await migrate.downgrade(empty_db, "-1")
    assert "certificate_keys" not in await tables()
    assert "immunization_doses" in await tables()
    await migrate.upgrade(empty_db, "head", metadata=METADATA)
    assert "certificate_keys" in await tables()
