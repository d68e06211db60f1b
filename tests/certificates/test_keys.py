"""Certificate signing keys: created, rotated, listed; stored wrapped; re-wrapped by
rotate-kek; signing with them; concurrent creation."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from cryptography import x509
from sqlalchemy import select

from tests.certificates.helpers import ISSUER, decode_hc1, dose, holder, verify_cose
from tests.support.parts import METADATA
from vaxport.certificates import dcc, keys, pki, shc, signers
from vaxport.certificates.models import CertificateKey
from vaxport.core import clock
from vaxport.core.db import Database
from vaxport.tenancy.service import TenantInfo

VALIDITY = 365


async def _rows(db: Database, tenant: TenantInfo) -> list[CertificateKey]:
    async with db.read(tenant_id=tenant.id) as s:
        rows = list(
            (
                await s.execute(
                    select(CertificateKey)
                    .where(CertificateKey.tenant_id == tenant.id)
                    .order_by(CertificateKey.created_at)
                )
            ).scalars()
        )
        s.expunge_all()
    return rows


async def _all_keys(db: Database, tenant: TenantInfo) -> None:
    await keys.init_csca(
        db, tenant_id=tenant.id, country="SE", organisation="Ministry", common_name="CSCA"
    )
    await keys.init_dsc(db, tenant_id=tenant.id, common_name="DSC", validity_days=VALIDITY)
    await keys.init_shc(db, tenant_id=tenant.id, validity_days=VALIDITY)


async def test_private_keys_are_stored_only_wrapped(clean_db: Database, tenant: TenantInfo) -> None:
    await _all_keys(clean_db, tenant)
    dsc = await signers.dcc_signer(clean_db, tenant_id=tenant.id)
    card = await signers.shc_signer(clean_db, tenant_id=tenant.id)
    scalars = {
        k.private_numbers().private_value.to_bytes(32, "big")
        for k in (dsc.private_key, card.private_key)
    }
    rows = await _rows(clean_db, tenant)
    assert [r.format for r in rows] == ["csca", "dcc", "shc"]
    for row in rows:
        blob = bytes(row.private_key_wrapped)
        assert not any(s in blob for s in scalars)
        assert card.rid_secret not in blob
        assert "d" not in row.public_jwk
        assert row.provider == "local"
        assert row.provider_key_id.startswith("local:")
        for value in (row.certificate or b"", repr(row.public_jwk).encode()):
            assert not any(s in value for s in scalars)


async def test_the_dcc_kid_is_the_dsc_digest_and_the_shc_kid_the_jwk_thumbprint(
    clean_db: Database, tenant: TenantInfo
) -> None:
    await _all_keys(clean_db, tenant)
    listed = {k.format: k for k in await keys.list_keys(clean_db, tenant_id=tenant.id)}
    (der,) = await signers.dsc_certificates(clean_db, tenant_id=tenant.id)
    signer = await signers.dcc_signer(clean_db, tenant_id=tenant.id)
    assert signer.kid == dcc.kid_of(der)
    assert listed["dcc"].kid == signers.dcc_kid(der)
    cert = x509.load_der_x509_certificate(der)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [pki.EKU_VACCINATION]
    assert cert.issuer.rfc4514_string() == "CN=CSCA,O=Ministry,C=SE"
    card = await signers.shc_signer(clean_db, tenant_id=tenant.id)
    assert card.kid == listed["shc"].kid == signers.public_jwk(card.private_key)["kid"]
    assert len(card.kid) == 43


async def test_stored_keys_sign_certificates_that_verify(
    clean_db: Database, tenant: TenantInfo
) -> None:
    await _all_keys(clean_db, tenant)
    signer = await signers.dcc_signer(clean_db, tenant_id=tenant.id)
    (issued,) = dcc.encode_all(
        holder(),
        [dose(1, dt.date(2026, 2, 1))],
        signer=signer,
        issuer=ISSUER,
        issued_at=clock.utcnow(),
        validity=dt.timedelta(days=VALIDITY),
    )
    header, _claims, protected, payload, signature = decode_hc1(issued.text)
    (der,) = await signers.dsc_certificates(clean_db, tenant_id=tenant.id)
    assert header[4] == dcc.kid_of(der)
    verify_cose(protected, payload, signature, x509.load_der_x509_certificate(der))


async def test_rotation_retires_the_old_key_but_keeps_publishing_it(
    clean_db: Database, tenant: TenantInfo
) -> None:
    await _all_keys(clean_db, tenant)
    old_shc = (await signers.shc_signer(clean_db, tenant_id=tenant.id)).kid
    old_dsc = await signers.dsc_certificates(clean_db, tenant_id=tenant.id)
    await keys.init_shc(clean_db, tenant_id=tenant.id, validity_days=VALIDITY, rotate=True)
    await keys.init_dsc(
        clean_db, tenant_id=tenant.id, common_name="DSC 2", validity_days=VALIDITY, rotate=True
    )
    new_shc = (await signers.shc_signer(clean_db, tenant_id=tenant.id)).kid
    assert new_shc != old_shc
    jwks = await signers.shc_jwks(clean_db, tenant_id=tenant.id)
    assert [k["kid"] for k in jwks["keys"]] == [old_shc, new_shc]
    published = await signers.dsc_certificates(clean_db, tenant_id=tenant.id)
    assert published[0] == old_dsc[0]
    assert len(published) == 2
    retired = [
        k for k in await keys.list_keys(clean_db, tenant_id=tenant.id) if k.state == "retired"
    ]
    assert {k.format for k in retired} == {"dcc", "shc"}
    for k in retired:
        assert k.publish_until is not None
        assert k.publish_until > clock.utcnow() + dt.timedelta(days=VALIDITY)


async def test_a_retired_key_leaves_the_jwks_once_its_certificates_have_expired(
    clean_db: Database, tenant: TenantInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    await keys.init_shc(clean_db, tenant_id=tenant.id, validity_days=1)
    old = (await signers.shc_signer(clean_db, tenant_id=tenant.id)).kid
    await keys.init_shc(clean_db, tenant_id=tenant.id, validity_days=1, rotate=True)
    later = clock.utcnow() + dt.timedelta(days=2, hours=1)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    kids = [k["kid"] for k in (await signers.shc_jwks(clean_db, tenant_id=tenant.id))["keys"]]
    assert old not in kids
    assert len(kids) == 1


async def test_kek_rotation_rewraps_certificate_keys_and_they_still_sign(
    clean_db: Database, tenant: TenantInfo, copied_keyring: None
) -> None:
    from vaxport.core.crypto.kek import rotate_kek

    await _all_keys(clean_db, tenant)
    before = {
        r.kid: (bytes(r.private_key_wrapped), r.provider_key_id)
        for r in await _rows(clean_db, tenant)
    }
    card = await signers.shc_signer(clean_db, tenant_id=tenant.id)
    await rotate_kek(clean_db, metadata=METADATA, keep_old=False)
    after = {
        r.kid: (bytes(r.private_key_wrapped), r.provider_key_id)
        for r in await _rows(clean_db, tenant)
    }
    for kid, (blob, kek) in after.items():
        assert kek != before[kid][1]  # re-wrapped under the new KEK, the old KEK dropped
        assert blob != before[kid][0]
    signers.forget(clean_db)
    again = await signers.shc_signer(clean_db, tenant_id=tenant.id)
    assert again.kid == card.kid
    assert again.rid_secret == card.rid_secret
    jws = shc.encode(
        holder(),
        [dose(1, dt.date(2026, 2, 1))],
        signer=again,
        iss="https://example.org",
        issued_at=clock.utcnow(),
        validity=None,
    )
    assert jws.count(".") == 2
    # The CSCA unwraps under the new KEK too: it certifies a new DSC.
    await keys.init_dsc(
        clean_db, tenant_id=tenant.id, common_name="DSC 2", validity_days=VALIDITY, rotate=True
    )


async def test_refusals_change_nothing(clean_db: Database, tenant: TenantInfo) -> None:
    with pytest.raises(signers.KeyStateError, match="init-csca"):
        await keys.init_dsc(clean_db, tenant_id=tenant.id, common_name="x", validity_days=1)
    with pytest.raises(signers.KeyStateError, match="init-shc"):
        await signers.shc_signer(clean_db, tenant_id=tenant.id)
    with pytest.raises(signers.KeyStateError, match="no active shc key to rotate"):
        await keys.init_shc(clean_db, tenant_id=tenant.id, validity_days=1, rotate=True)
    await keys.init_csca(
        clean_db, tenant_id=tenant.id, country="SE", organisation="M", common_name="CSCA", days=100
    )
    with pytest.raises(signers.KeyStateError, match="outlive its CSCA"):
        await keys.init_dsc(
            clean_db, tenant_id=tenant.id, common_name="x", days=200, validity_days=1
        )
    with pytest.raises(signers.KeyStateError, match="already has an active csca"):
        await keys.init_csca(
            clean_db, tenant_id=tenant.id, country="SE", organisation="M", common_name="CSCA"
        )
    assert [r.format for r in await _rows(clean_db, tenant)] == ["csca"]


async def test_concurrent_creation_leaves_one_active_key(
    clean_db: Database, tenant: TenantInfo
) -> None:
    results = await asyncio.gather(
        *(keys.init_shc(clean_db, tenant_id=tenant.id, validity_days=1) for _ in range(4)),
        return_exceptions=True,
    )
    made = [r for r in results if isinstance(r, keys.KeyInfo)]
    refused = [r for r in results if isinstance(r, signers.KeyStateError)]
    assert len(made) == 1
    assert len(refused) == 3
    rows = await _rows(clean_db, tenant)
    assert [(r.kid, r.state) for r in rows] == [(made[0].kid, "active")]


async def test_concurrent_rotations_keep_exactly_one_active_key(
    clean_db: Database, tenant: TenantInfo
) -> None:
    await keys.init_shc(clean_db, tenant_id=tenant.id, validity_days=1)
    results = await asyncio.gather(
        *(
            keys.init_shc(clean_db, tenant_id=tenant.id, validity_days=1, rotate=True)
            for _ in range(3)
        ),
        return_exceptions=True,
    )
    assert all(isinstance(r, keys.KeyInfo | signers.KeyStateError) for r in results), results
    rows = await _rows(clean_db, tenant)
    assert [r.state for r in rows].count("active") == 1
    published = (await signers.shc_jwks(clean_db, tenant_id=tenant.id))["keys"]
    assert {k["kid"] for k in published} == {r.kid for r in rows}  # no key lost its publication
