"""Rotating the trust-list key: bundles are signed by the newest key and carry each
hand-over endorsed by the key before; a device pinning an older key follows the chain
(and then refuses the retired key), refuses unknown signers and forged hand-overs;
retired keys are never unwrapped again; rotate-kek re-wraps them all."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.certificates.signers import DccSigner
from tests.support.parts import METADATA
from vaxport.certificates.signers import KeyStateError, public_jwk
from vaxport.certificates.trust import bundle, signing_key
from vaxport.certificates.trust import service as trust
from vaxport.certificates.trust.files import TrustFileError
from vaxport.certificates.trust.models import TrustListKey
from vaxport.certificates.trust.offline import load_files
from vaxport.cli import app as cli_app
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.principal import OPERATOR
from vaxport.tenancy.schemas import TenantInfo

AT = "2026-06-01T12:00:00Z"


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


async def _rows(db: Database) -> list[Any]:
    async with db.read() as s:
        found = await s.execute(
            select(*TrustListKey.__table__.c).order_by(TrustListKey.created_at, TrustListKey.id)
        )
        return list(found.all())


async def _wrapped(db: Database) -> dict[str, tuple[bytes, str]]:
    return {r.kid: (bytes(r.private_key_wrapped), r.provider_key_id) for r in await _rows(db)}


def test_a_device_pinning_the_old_key_moves_to_the_new_one_and_refuses_the_old_after(
    cli: CliRunner, tmp_path: Path
) -> None:
    signer = DccSigner.create()
    dsc = tmp_path / "dsc.pem"
    dsc.write_bytes(signer.pem())
    assert cli.invoke(cli_app, ["trust", "import", str(dsc), "--tenant", "demo"]).exit_code == 0
    old_pin = cli.invoke(cli_app, ["trust", "key"]).stdout.strip().splitlines()[-1]
    old_bundle = tmp_path / "old.json"
    assert cli.invoke(cli_app, ["trust", "export", "-o", str(old_bundle)]).exit_code == 0
    pin_file = _write(tmp_path / "pin.json", json.loads(old_bundle.read_text())["key"])

    done = cli.invoke(cli_app, ["keys", "rotate-trust-list"])
    assert done.exit_code == 0, done.output
    new_pin = cli.invoke(cli_app, ["trust", "key"]).stdout.strip().splitlines()[-1]
    assert new_pin != old_pin
    assert f"trust-list key {new_pin} signs bundles; {old_pin} retired" in done.stdout
    new_bundle = tmp_path / "new.json"
    assert cli.invoke(cli_app, ["trust", "export", "-o", str(new_bundle)]).exit_code == 0
    doc = json.loads(new_bundle.read_text())
    assert doc["key"]["kid"] == new_pin
    assert [(e["by"]["kid"], e["key"]["kid"]) for e in doc["endorsements"]] == [(old_pin, new_pin)]

    def verify(bundle_file: Path, pin: str) -> Any:
        args = ["verify", "--at", AT, "--trust", str(bundle_file), "--trust-key", pin]
        return cli.invoke(cli_app, [*args, "--json", signer.hc1()])

    # A thumbprint pin: accepted, and told where the pin moves.
    done = verify(new_bundle, old_pin)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["valid"] is True
    assert f"pin {new_pin} from now on" in done.stderr
    # A pin file: accepted, and moved to the new key...
    done = verify(new_bundle, str(pin_file))
    assert done.exit_code == 0, done.output
    assert json.loads(pin_file.read_text())["kid"] == new_pin
    assert "d" not in json.loads(pin_file.read_text())
    # ... so a bundle of the retired key (a replay of an old one) is refused from now on,
    done = verify(old_bundle, str(pin_file))
    assert done.exit_code == 2
    assert "signed by a key other than the pinned one" in done.stderr
    # while the new bundle keeps verifying without moving anything.
    done = verify(new_bundle, str(pin_file))
    assert done.exit_code == 0, done.output
    assert done.stderr == ""


async def test_a_device_follows_several_rotations_in_one_refresh(
    clean_db: Database, tenant: TenantInfo, tmp_path: Path
) -> None:
    first = (await trust.trust_list_key(db=clean_db))["kid"]
    one = await trust.rotate_key(db=clean_db, by=OPERATOR)
    two = await trust.rotate_key(db=clean_db, by=OPERATOR)
    assert (one.previous, two.previous) == (first, one.kid)
    doc = await trust.export_bundle(db=clean_db)
    assert doc["key"]["kid"] == two.kid
    found = load_files([_write(tmp_path / "b.json", doc)], pinned=first)
    assert found.key is not None
    assert found.key["kid"] == two.kid
    # A device already on the newest key moves nowhere.
    assert load_files([tmp_path / "b.json"], pinned=two.kid).key is None


async def test_a_bundle_signed_by_an_unknown_key_is_refused(
    clean_db: Database, tenant: TenantInfo
) -> None:
    pinned = (await trust.trust_list_key(db=clean_db))["kid"]
    genuine = await trust.export_bundle(db=clean_db)
    stranger = ec.generate_private_key(ec.SECP256R1())
    unsigned = {k: v for k, v in genuine.items() if k not in ("key", "signature")}
    with pytest.raises(TrustFileError, match="other than the pinned one"):
        bundle.load(bundle.sign(unsigned, stranger), pinned=pinned)
    # A hand-over the pinned key did not sign: its key named as "by", another's signature.
    forged = bundle.endorse(public_jwk(stranger), by=stranger, at=utcnow())
    forged["by"] = genuine["key"]
    claimed = bundle.sign(unsigned | {"endorsements": [forged]}, stranger)
    with pytest.raises(TrustFileError, match="endorsement's signature does not verify"):
        bundle.load(claimed, pinned=pinned)
    # A hand-over from a key the device never pinned leads nowhere it trusts.
    other = ec.generate_private_key(ec.SECP256R1())
    detour = bundle.endorse(public_jwk(stranger), by=other, at=utcnow())
    with pytest.raises(TrustFileError, match="other than the pinned one"):
        bundle.load(bundle.sign(unsigned | {"endorsements": [detour]}, stranger), pinned=pinned)
    # And a genuine chain with a changed byte in the bundle fails its signature.
    await trust.rotate_key(db=clean_db, by=OPERATOR)
    rotated = await trust.export_bundle(db=clean_db)
    bundle.load(rotated, pinned=pinned)
    with pytest.raises(TrustFileError, match="signature does not verify"):
        bundle.load(rotated | {"generated_at": "2020-01-01T00:00:00Z"}, pinned=pinned)


async def test_a_rotation_without_endorsement_leaves_old_pins_behind(
    clean_db: Database, tenant: TenantInfo, cli: CliRunner
) -> None:
    old = (await trust.trust_list_key(db=clean_db))["kid"]
    done = await trust.rotate_key(db=clean_db, by=OPERATOR, endorse=False)
    doc = await trust.export_bundle(db=clean_db)
    assert doc["endorsements"] == []
    with pytest.raises(TrustFileError, match="endorsed no key leading to it"):
        bundle.load(doc, pinned=old)
    bundle.load(doc, pinned=done.kid)


async def test_the_http_bundle_is_signed_by_the_newest_key_and_every_tenant_audits_it(
    client: httpx.AsyncClient, clean_db: Database, tenant: TenantInfo
) -> None:
    from vaxport.core.audit.models import AuditEntry

    before = (await client.get("/api/v1/trust-list")).json()["key"]["kid"]
    done = await trust.rotate_key(db=clean_db, by=OPERATOR)
    doc = (await client.get("/api/v1/trust-list")).json()
    assert doc["key"]["kid"] == done.kid != before
    bundle.load(doc, pinned=before)
    async with clean_db.read(tenant_id=tenant.id) as s:
        details = list(
            await s.scalars(
                select(AuditEntry.details).where(
                    AuditEntry.tenant_id == tenant.id, AuditEntry.action == "trust.key_rotated"
                )
            )
        )
    assert details == [{"previous": before, "endorsed": True}]


async def test_a_retired_key_is_never_unwrapped_again(
    clean_db: Database, tenant: TenantInfo
) -> None:
    await trust.rotate_key(db=clean_db, by=OPERATOR)
    retired = [r for r in await _rows(clean_db) if r.retired_at is not None]
    assert len(retired) == 1
    async with clean_db.transaction() as uow:  # its wrapped private key made unusable
        await uow.session.execute(
            update(TrustListKey)
            .where(TrustListKey.id == retired[0].id)
            .values(private_key_wrapped=b"\0" * 60)
        )
    trust.forget(clean_db)
    signed = await trust.export_bundle(db=clean_db)
    bundle.load(signed, pinned=retired[0].kid)
    third = await trust.rotate_key(db=clean_db, by=OPERATOR)  # endorsed by the newest only
    assert third.previous == signed["key"]["kid"]


async def test_concurrent_rotations_leave_one_line_of_keys(
    clean_db: Database, tenant: TenantInfo
) -> None:
    first = (await trust.trust_list_key(db=clean_db))["kid"]
    results = await asyncio.gather(
        *(signing_key.rotate(clean_db, by=OPERATOR) for _ in range(3)), return_exceptions=True
    )
    made = [r for r in results if isinstance(r, signing_key.Rotated)]
    refused = [r for r in results if isinstance(r, KeyStateError)]
    assert len(made) >= 1, results
    assert len(made) + len(refused) == 3
    rows = await _rows(clean_db)
    assert [r.kid for r in rows if r.retired_at is None] == [made[-1].kid]
    # Each key has at most one successor, so the chain from the first reaches the newest.
    trust.forget(clean_db)
    doc = await trust.export_bundle(db=clean_db)
    assert bundle.check_signature(doc, pinned=first) == made[-1].kid


async def test_kek_rotation_rewraps_every_trust_list_key_and_the_newest_still_signs(
    clean_db: Database, tenant: TenantInfo, copied_keyring: None
) -> None:
    from vaxport.core.crypto.kek import rotate_kek

    first = (await trust.trust_list_key(db=clean_db))["kid"]
    await trust.rotate_key(db=clean_db, by=OPERATOR)
    before = {
        r.kid: (bytes(r.private_key_wrapped), r.provider_key_id) for r in await _rows(clean_db)
    }
    await rotate_kek(clean_db, metadata=METADATA, keep_old=False)
    after = {
        r.kid: (bytes(r.private_key_wrapped), r.provider_key_id) for r in await _rows(clean_db)
    }
    assert set(after) == set(before)
    for kid, (blob, kek) in after.items():
        assert (blob, kek) != before[kid]  # re-wrapped under the new KEK, the old one dropped
    trust.forget(clean_db)
    doc = await trust.export_bundle(db=clean_db, now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    assert bundle.check_signature(doc, pinned=first) == doc["key"]["kid"]
