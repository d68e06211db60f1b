"""``vaxport verify``: the exact JSON shape, exit codes, trust files."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import segno
from typer.testing import CliRunner

from tests.certificates.signers import SHC, SHC_AT, DccSigner, shc_jwks_path
from vaxport.cli import app

KEYS = {"valid", "format", "checks", "reason", "holder"}
CHECKS = {"decode", "signature", "expiry", "schema", "key_usage", "revocation"}
AT = "2026-06-01T12:00:00Z"


@pytest.fixture(scope="module")
def signer() -> DccSigner:
    return DccSigner.create()


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def _run(cli: CliRunner, *args: str) -> tuple[int, dict]:
    done = cli.invoke(app, ["verify", *args])
    return done.exit_code, json.loads(done.stdout) if done.stdout.startswith("{") else {}


@pytest.mark.parametrize("form", ["pem", "der", "base64"])
def test_valid_dcc_with_its_dsc_in_any_form_exits_0_with_the_exact_shape(
    cli: CliRunner, signer: DccSigner, tmp_path: Path, form: str
) -> None:
    dsc = tmp_path / f"dsc.{form}"
    dsc.write_bytes(
        {"pem": signer.pem(), "der": signer.der, "base64": base64.b64encode(signer.der)}[form]
    )
    code, out = _run(cli, "--at", AT, "--trust", str(dsc), "--json", signer.hc1())
    assert code == 0, out
    assert set(out) == KEYS
    assert set(out["checks"]) == CHECKS
    assert out["valid"] is True
    assert out["format"] == "eu-dcc"
    assert out["reason"] is None
    assert set(out["holder"]) == {"family_name", "given_name", "birth_date", "vaccination"}


def test_untrusted_dcc_exits_1_with_signature_false_and_no_holder(
    cli: CliRunner, signer: DccSigner
) -> None:
    code, out = _run(cli, "--at", AT, "--json", signer.hc1())
    assert code == 1
    assert out["valid"] is False
    assert out["checks"]["signature"] is False
    assert out["checks"]["revocation"] is None  # not reached
    assert out["holder"] is None
    assert out["reason"]


def test_garbage_exits_1_with_decode_false_and_nulls(cli: CliRunner) -> None:
    code, out = _run(cli, "--json", "not a certificate")
    assert code == 1
    assert out == {
        "valid": False,
        "format": None,
        "checks": {"decode": False} | dict.fromkeys(CHECKS - {"decode"}),
        "reason": out["reason"],
        "holder": None,
    }


def test_shc_file_and_numeric_text_verify_with_the_issuer_jwks(cli: CliRunner) -> None:
    at = SHC_AT.isoformat()
    jwks = str(shc_jwks_path())
    code, _ = _run(
        cli, "--at", at, "--trust", jwks, "--json", str(SHC / "example-00-e-file.smart-health-card")
    )
    assert code == 0
    text = (SHC / "example-00-f-qr-code-numeric-value-0.txt").read_text().strip()
    code, out = _run(cli, "--at", at, "--trust", jwks, "--json", text)
    assert (code, out["format"]) == (0, "shc")


def test_a_photo_of_the_qr_code_verifies(cli: CliRunner, signer: DccSigner, tmp_path: Path) -> None:
    png = tmp_path / "qr.png"
    buffer = io.BytesIO()
    segno.make(signer.hc1(), error="q").save(buffer, kind="png", scale=4)
    png.write_bytes(buffer.getvalue())
    dsc = tmp_path / "dsc.pem"
    dsc.write_bytes(signer.pem())
    code, out = _run(cli, "--at", AT, "--trust", str(dsc), "--json", str(png))
    assert code == 0, out


def test_human_output_names_the_failed_check(cli: CliRunner, signer: DccSigner) -> None:
    done = cli.invoke(app, ["verify", "--at", AT, signer.hc1()])
    assert done.exit_code == 1
    assert "INVALID" in done.stdout
    assert "signature   FAILED" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--at", "yesterday", "HC1:X"],
        ["--trust", "/nonexistent/file.pem", "HC1:X"],
        [],
    ],
)
def test_usage_errors_exit_2(cli: CliRunner, args: list[str]) -> None:
    assert cli.invoke(app, ["verify", *args]).exit_code == 2


def test_a_trust_file_that_is_not_trust_material_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    done = cli.invoke(app, ["verify", "--trust", str(bad), "HC1:X"])
    assert done.exit_code == 2
    assert "bad.pem" in done.stderr


def test_a_private_jwks_is_refused_as_trust(cli: CliRunner) -> None:
    private = SHC / "issuer-private-TEST-ONLY" / "issuer.jwks.private.json"
    done = cli.invoke(app, ["verify", "--trust", str(private), "HC1:X"])
    assert done.exit_code == 2
    assert "private" in done.stderr
