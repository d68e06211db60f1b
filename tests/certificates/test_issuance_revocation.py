"""Revocation and reading: erasure, confirmed fraud, a faulty lot, merges; our CRL, JWKS
and trust bundle; who may read a person's certificates (HTTP)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from tests.certificates.issuance_support import (
    VERIFY,
    give,
    person,
    qr,
    stored,
    with_keys,
    work,
)
from tests.immunization.helpers import register
from tests.immunization.support import add_lot
from tests.registration.conftest import citizen_token, staff_token
from vaxport.certificates.issuance import own_trust
from vaxport.certificates.issuance.models import Certificate
from vaxport.core.cache import Cache
from vaxport.core.crypto import SubjectKey, erase_subject
from vaxport.core.db import Database
from vaxport.core.outbox import emit
from vaxport.registration.models import Beneficiary
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture(autouse=True)
def _fresh_own_trust(db: Database) -> Iterator[None]:
    own_trust.forget(db)
    yield
    own_trust.forget(db)


async def _valid(client: httpx.AsyncClient, text: str) -> dict[str, Any]:
    answer = await client.post(VERIFY, json={"payload": text})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _url(tenant: TenantInfo, person_id: uuid.UUID, tail: str = "") -> str:
    return f"/api/v1/{tenant.code}/beneficiaries/{person_id}/certificates{tail}"


async def test_erasure_revokes_every_certificate_and_shreds_the_stored_payload(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    await with_keys(clean_db, tenant)
    someone = await person(clean_db, tenant)
    await give(clean_db, tenant, someone, number=1, days_ago=40)
    await work(clean_db, cache, settings)
    await give(clean_db, tenant, someone, number=2, days_ago=2)
    await work(clean_db, cache, settings)
    issued = await stored(clean_db, tenant, someone)
    assert {r.status for r in issued} == {"current", "superseded"}

    # An operator's erasure (after the retention period), as registration's ``erase_in``
    # does it: the row deleted, the person's key destroyed, the event emitted.
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(delete(Beneficiary).where(Beneficiary.id == someone))
        await erase_subject(uow.session, tenant_id=tenant.id, subject_id=someone)
        await emit(uow, "beneficiary.erased", {"beneficiary_id": str(someone)})
    await work(clean_db, cache, settings)

    async with clean_db.read(tenant_id=tenant.id) as s:
        rows = list(
            await s.execute(
                select(Certificate.status, Certificate.revocation_reason, Certificate.payload_enc)
            )
        )
        keys_left = await s.scalar(select(SubjectKey.id).where(SubjectKey.subject_id == someone))
    assert {(r[0], r[1]) for r in rows} == {("revoked", "erased")}
    assert all(r[2] is None for r in rows)
    assert keys_left is None
    for cert in issued:
        assert (await _valid(client, qr(cert)))["checks"]["revocation"] is False


async def test_an_admin_revokes_a_persons_certificates_for_fraud(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    await with_keys(clean_db, tenant)
    someone = await person(clean_db, tenant)
    await give(clean_db, tenant, someone, number=1, days_ago=3)
    await work(clean_db, cache, settings)
    issued = await stored(clean_db, tenant, someone)
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")

    answer = await client.post(_url(tenant, someone, "/revoke"), headers=admin.headers)
    again = await client.post(_url(tenant, someone, "/revoke"), headers=admin.headers)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"revoked": 2, "doses_withheld": 1, "people": 1}
    assert again.json() == {"revoked": 0, "doses_withheld": 0, "people": 1}
    for cert in issued:
        assert (await _valid(client, qr(cert)))["valid"] is False
    await work(clean_db, cache, settings)  # nothing is reissued for the withheld dose
    rows = await stored(clean_db, tenant, someone)
    assert {(r.status, r.revocation_reason) for r in rows} == {("revoked", "fraud")}
    listing = await client.get(_url(tenant, someone), headers=admin.headers)
    assert listing.json() == []
    # A dose recorded later is certified again.
    await give(clean_db, tenant, someone, number=2, days_ago=0)
    await work(clean_db, cache, settings)
    assert len([r for r in await stored(clean_db, tenant, someone) if r.status == "current"]) == 2


async def test_a_faulty_lot_revokes_the_certificates_of_its_doses(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    await with_keys(clean_db, tenant)
    faulty = await add_lot(clean_db, tenant, "covid-mrna", "BAD1")
    sound = await add_lot(clean_db, tenant, "covid-mrna", "GOOD1")
    someone = await person(clean_db, tenant)
    bad_dose = await give(clean_db, tenant, someone, number=1, days_ago=40, lot_id=faulty)
    await give(clean_db, tenant, someone, number=2, days_ago=5, lot_id=sound)
    await work(clean_db, cache, settings)
    before = {r.id: r for r in await stored(clean_db, tenant, someone)}
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    regional = await staff_token(
        client, clean_db, settings, tenant, "region_admin", region_code="NOR"
    )

    url = f"/api/v1/{tenant.code}/lots/{{}}/revoke-certificates"
    assert (await client.post(url.format(faulty), headers=regional.headers)).status_code == 403
    assert (await client.post(url.format(uuid.uuid4()), headers=admin.headers)).status_code == 404
    answer = await client.post(url.format(faulty), headers=admin.headers)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"revoked": 0, "doses_withheld": 1, "people": 1}
    await work(clean_db, cache, settings)

    after = {r.id: r for r in await stored(clean_db, tenant, someone)}
    for cert_id, old in before.items():
        listed = str(bad_dose) in after[cert_id].dose_ids
        assert (after[cert_id].status == "revoked") is listed
        if listed:
            assert after[cert_id].revocation_reason == "faulty-lot"
            assert (await _valid(client, qr(old)))["valid"] is False
    [card] = [r for r in after.values() if r.format == "shc" and r.status == "current"]
    assert str(bad_dose) not in card.dose_ids
    assert (await _valid(client, qr(card)))["valid"] is True


async def test_our_crl_jwks_and_trust_bundle_list_the_revocations(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    from vaxport.certificates.issuance.own_trust import uci_hash

    await with_keys(clean_db, tenant)
    someone = await person(clean_db, tenant)
    await give(clean_db, tenant, someone, number=1, days_ago=3)
    await work(clean_db, cache, settings)
    [dcc] = [r for r in await stored(clean_db, tenant, someone) if r.format == "eu-dcc"]
    [card] = [r for r in await stored(clean_db, tenant, someone) if r.format == "shc"]
    jwks = (await client.get(f"/shc/{tenant.code}/.well-known/jwks.json")).json()
    assert [k["crlVersion"] for k in jwks["keys"]] == [1]
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    await client.post(_url(tenant, someone, "/revoke"), headers=admin.headers)

    crl = await client.get(f"/shc/{tenant.code}/.well-known/crl/{card.kid}.json")
    assert crl.status_code == 200
    assert crl.headers["access-control-allow-origin"] == "*"
    assert crl.json() == {"kid": card.kid, "method": "rid", "ctr": 2, "rids": [card.rid]}
    jwks = (await client.get(f"/shc/{tenant.code}/.well-known/jwks.json")).json()
    assert [k["crlVersion"] for k in jwks["keys"]] == [2]
    missing = await client.get(f"/shc/{tenant.code}/.well-known/crl/nokey.json")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")

    bundle = (await client.get("/api/v1/trust-list")).json()
    dcc_lists = {e["kid"]: e["hashes"] for e in bundle["revocations"]["eu-dcc"]}
    assert base64.b64encode(uci_hash(dcc.uvci or "")).decode() in dcc_lists[dcc.kid]
    assert {"iss": card.iss, "kid": card.kid, "rids": [card.rid]} in bundle["revocations"]["shc"]
    assert dcc.kid in {e["kid"] for e in bundle["dsc"]}
    assert card.iss in {e["iss"] for e in bundle["shc"]}


async def test_only_the_family_and_staff_in_reach_read_certificates(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    await with_keys(clean_db, tenant)
    holder = await citizen_token(clean_db, settings, tenant)
    other = await citizen_token(clean_db, settings, tenant)
    member = await register(client, tenant, holder.headers)  # region CEN-01-01
    await give(clean_db, tenant, member, number=1, days_ago=3)
    await work(clean_db, cache, settings)
    near = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="CEN")
    far = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")

    own = await client.get(_url(tenant, member), headers=holder.headers)
    assert own.status_code == 200
    assert sorted(c["format"] for c in own.json()) == ["eu-dcc", "shc"]
    card = next(c for c in own.json() if c["format"] == "shc")
    assert (await client.get(_url(tenant, member), headers=near.headers)).status_code == 200
    for headers in (other.headers, far.headers):
        for tail in ("", f"/{card['id']}", f"/{card['id']}/file"):
            refused = await client.get(_url(tenant, member, tail), headers=headers)
            assert refused.status_code == 404, tail
            assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(_url(tenant, member), headers={})).status_code == 401

    one = await client.get(_url(tenant, member, f"/{card['id']}"), headers=holder.headers)
    assert one.json()["jws"] == card["jws"]
    download = await client.get(_url(tenant, member, f"/{card['id']}/file"), headers=holder.headers)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/smart-health-card")
    assert json.loads(download.content) == {"verifiableCredential": [card["jws"]]}
    dcc = next(c for c in own.json() if c["format"] == "eu-dcc")
    no_file = await client.get(_url(tenant, member, f"/{dcc['id']}/file"), headers=holder.headers)
    assert no_file.status_code == 404
    unknown = await client.get(_url(tenant, member, f"/{uuid.uuid4()}"), headers=holder.headers)
    assert unknown.status_code == 404
    bad = await client.get(_url(tenant, member, "/not-an-id"), headers=holder.headers)
    assert bad.status_code == 422


async def test_a_merge_moves_the_doses_to_the_survivors_certificates(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    from sqlalchemy import update

    await with_keys(clean_db, tenant)
    survivor = await person(clean_db, tenant)
    duplicate = await person(clean_db, tenant)
    first = await give(clean_db, tenant, duplicate, number=1, days_ago=40)
    second = await give(clean_db, tenant, survivor, number=2, days_ago=5)
    await work(clean_db, cache, settings)
    duplicates = await stored(clean_db, tenant, duplicate)

    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Beneficiary)
            .where(Beneficiary.id == duplicate)
            .values(status="merged", merged_into_id=survivor)
        )
        await emit(
            uow,
            "beneficiary.merged",
            {"merged_id": str(duplicate), "survivor_id": str(survivor)},
        )
    await work(clean_db, cache, settings)

    [card] = [
        r
        for r in await stored(clean_db, tenant, survivor)
        if r.format == "shc" and r.status == "current"
    ]
    assert set(card.dose_ids) == {str(first), str(second)}
    # The duplicate's certificates state true facts: superseded, not revoked.
    assert {r.status for r in await stored(clean_db, tenant, duplicate)} == {"superseded"}
    for cert in duplicates:
        assert (await _valid(client, qr(cert)))["valid"] is True
