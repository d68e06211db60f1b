"""How to call the certificates' write routes successfully (see ``tests/security/routes.py``)."""

from __future__ import annotations

import base64
import json

from tests.certificates.signers import SHC_ISSUER, DccSigner, shc_jwks_path
from tests.security.routes import Call, read, recipe
from tests.security.world import PERSON, World

TRUST = "/api/v1/{tenant}/trust"


@recipe("POST", TRUST + "/dscs")
async def import_dsc(w: World) -> Call:
    return Call(headers=w.admin_auth, json={"certificate": DccSigner.create().pem().decode()})


@recipe("POST", TRUST + "/shc-issuers")
async def import_issuer(w: World) -> Call:
    return Call(
        headers=w.admin_auth,
        json={"iss": SHC_ISSUER, "jwks": json.loads(shc_jwks_path().read_text())},
    )


@recipe("POST", TRUST + "/revocations")
async def revoke(w: World) -> Call:
    kid = base64.b64encode(DccSigner.create().kid).decode()
    return Call(
        headers=w.admin_auth,
        json={"kind": "eu-dcc", "kid": kid, "entries": [base64.b64encode(b"\1" * 16).decode()]},
    )


@read("POST", "/api/v1/verify")
async def verify_person(w: World) -> Call:
    """A certificate naming PERSON, signed by a DSC the tenant trusts: its holder is shown
    in the answer, never in the logs."""
    import datetime as dt
    import io

    import segno

    from tests.certificates.signers import DCC_VACCINATION
    from vaxport.core.clock import utcnow

    now = utcnow()
    signer = DccSigner.create(
        not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=30)
    )
    await w.ok(
        "POST", "/trust/dscs", json={"certificate": signer.pem().decode()}, headers=w.admin_auth
    )
    hcert = json.loads(json.dumps(DCC_VACCINATION))
    hcert["nam"] = {"fn": PERSON.family_name, "gn": PERSON.given_name, "fnt": "X", "gnt": "Y"}
    text = signer.hc1(hcert, iat=now - dt.timedelta(hours=1), exp=now + dt.timedelta(days=10))
    buffer = io.BytesIO()
    segno.make(text, error="q").save(buffer, kind="png", scale=3)
    return Call(headers={"Content-Type": "image/png"}, content=buffer.getvalue())


async def _certified(w: World) -> str:
    """A person named PERSON with a dose and their certificates issued; their id."""
    import uuid

    from tests.certificates.issuance_support import give
    from tests.registration.helpers import member
    from vaxport.certificates import service as certificates

    await certificates.init_demo_keys(w.db, w.cache, w.settings, w.tenant.code, "")
    body = member(
        given_name=PERSON.given_name, family_name=PERSON.family_name, region_code="NOR-01-01"
    )
    made = await w.ok("POST", "/beneficiaries", json=body, headers=w.admin_auth)
    person = uuid.UUID(made.json()["id"])
    await give(w.db, w.tenant, person, number=1, days_ago=3)
    await certificates.recompute_people(w.db, w.tenant, [person], public_url=w.settings.public_url)
    return str(person)


CERTIFICATES = "/api/v1/{tenant}/beneficiaries/{beneficiary_id}/certificates"


@recipe("POST", CERTIFICATES + "/revoke")
async def revoke_person(w: World) -> Call:
    return Call(path={"beneficiary_id": await _certified(w)}, headers=w.admin_auth)


@recipe("POST", "/api/v1/{tenant}/lots/{lot_id}/revoke-certificates")
async def revoke_lot(w: World) -> Call:
    from tests.immunization.helpers import lot_body

    lot = await w.ok("POST", "/lots", json=lot_body(), headers=w.admin_auth)
    return Call(path={"lot_id": lot.json()["id"]}, headers=w.admin_auth)


@read("GET", CERTIFICATES)
async def list_certificates(w: World) -> Call:
    return Call(path={"beneficiary_id": await _certified(w)}, headers=w.admin_auth)


async def _card(w: World) -> dict[str, str]:
    person = await _certified(w)
    listing = await w.ok("GET", f"/beneficiaries/{person}/certificates", headers=w.admin_auth)
    card = next(c for c in listing.json() if c["format"] == "shc")
    return {"beneficiary_id": person, "certificate_id": card["id"]}


@read("GET", CERTIFICATES + "/{certificate_id}")
async def read_certificate(w: World) -> Call:
    return Call(path=await _card(w), headers=w.admin_auth)


@read("GET", CERTIFICATES + "/{certificate_id}/file")
async def download_card(w: World) -> Call:
    return Call(path=await _card(w), headers=w.admin_auth)


@recipe("DELETE", TRUST + "/dscs/{kid}")
async def remove_dsc(w: World) -> Call:
    signer = DccSigner.create()
    await w.ok(
        "POST", "/trust/dscs", json={"certificate": signer.pem().decode()}, headers=w.admin_auth
    )
    return Call(path={"kid": signer.kid.hex()}, headers=w.admin_auth)


@recipe("DELETE", TRUST + "/shc-keys/{kid}")
async def remove_shc_key(w: World) -> Call:
    jwks = json.loads(shc_jwks_path().read_text())
    await w.ok(
        "POST", "/trust/shc-issuers", json={"iss": SHC_ISSUER, "jwks": jwks}, headers=w.admin_auth
    )
    return Call(path={"kid": jwks["keys"][0]["kid"]}, headers=w.admin_auth)
